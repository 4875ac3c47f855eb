//! The tail: each instance follows the broker's log with `XREAD BLOCK` from the last id it delivered and
//! commits what it reads to its fan-out, in id order, exactly as the in-process backend commits what its
//! journal confirmed. Every subscriber of this instance — whoever published — sees events through here.
//!
//! A blocked read is finite ([`BLOCK`]) and has a deadline of its own, so a connection that died silently is
//! noticed within seconds; an idle round doubles as a probe of the data set's identity (its epoch). When the
//! epoch changed, the broker lost its data (restarted empty): the ring is forgotten, so holders of older ids
//! get a `reset` rather than a replay the broker can no longer back, and the new log is read from its start.

use super::entry::{from_read, Entry};
use super::link::{back_off, connect, RESPONSE_TIMEOUT};
use super::scripts::{entry_id, LOG, META};
use super::RedisCore;
use crate::clock::now_ms;
use crate::event::Event;
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one read waits for new entries.
pub const BLOCK: Duration = Duration::from_millis(1000);
/// Entries taken per read.
const COUNT: usize = 1000;

/// Follows the log from `cursor` until `stop`.
pub async fn run(core: Arc<RedisCore>, mut cursor: u64, stop: CancellationToken) {
    let mut attempt = 0usize;
    loop {
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            c = connect(core.link.client(), BLOCK + RESPONSE_TIMEOUT) => c,
        };
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(e) => {
                core.tail_down(&e.to_string());
                if !back_off(&mut attempt, &stop).await {
                    return;
                }
                continue;
            }
        };
        match check_epoch(&core, &mut conn).await {
            Ok(true) => cursor = 0,
            Ok(false) => {}
            Err(e) => {
                core.tail_down(&e.to_string());
                continue;
            }
        }
        if attempt > 0 {
            tracing::info!(attempt, "the tail follows the Redis log again");
        }
        attempt = 0;
        core.tail_up();
        loop {
            let mut xread = redis::cmd("XREAD");
            xread
                .arg("COUNT")
                .arg(COUNT)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(LOG)
                .arg(entry_id(cursor));
            let read = tokio::select! {
                _ = stop.cancelled() => return,
                r = xread.query_async::<Value>(&mut conn) => r,
            };
            let entries = match read.map_err(|e| e.to_string()).and_then(|v| from_read(&v)) {
                Ok(entries) => entries,
                Err(e) => {
                    core.tail_down(&e);
                    break;
                }
            };
            match entries.last().map(|e| e.seq) {
                Some(last) => {
                    deliver(&core, &entries);
                    cursor = last;
                }
                None => {
                    core.tail.lag_ms.store(0, Ordering::Relaxed);
                    core.metrics.broker.tail_lag_ms.store(0, Ordering::Relaxed);
                    match check_epoch(&core, &mut conn).await {
                        Ok(true) => cursor = 0,
                        Ok(false) => {}
                        Err(e) => {
                            core.tail_down(&e.to_string());
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Commits what was read, in order, skipping what this instance already has (a log read again from its start
/// after the broker lost its data).
fn deliver(core: &RedisCore, entries: &[Entry]) {
    let have = core.fanout.last_seq();
    let events: Vec<Arc<Event>> = entries
        .iter()
        .filter(|e| e.seq > have)
        .filter_map(|entry| match entry.event() {
            Ok(event) => Some(event),
            Err(e) => {
                tracing::error!(seq = entry.seq, error = %e, "unreadable entry in the Redis log; skipped");
                None
            }
        })
        .collect();
    core.fanout.commit(&events);
    let Some(last) = entries.last() else { return };
    core.delivered.send_replace(core.fanout.last_seq());
    let lag = u64::try_from(now_ms().saturating_sub(last.ms)).unwrap_or(0);
    core.tail.lag_ms.store(lag, Ordering::Relaxed);
    core.tail.last_id.fetch_max(last.seq, Ordering::Relaxed);
    core.metrics
        .broker
        .tail_lag_ms
        .store(lag, Ordering::Relaxed);
    core.metrics
        .broker
        .last_id
        .fetch_max(last.seq, Ordering::Relaxed);
}

/// Reads the data set's epoch (creating one if it has none); true when it is not the one this instance knew:
/// the ring is then forgotten.
async fn check_epoch(core: &RedisCore, conn: &mut MultiplexedConnection) -> RedisResult<bool> {
    let (_, epoch): (Value, Option<String>) = redis::pipe()
        .cmd("HSETNX")
        .arg(META)
        .arg("epoch")
        .arg(super::fresh_epoch())
        .cmd("HGET")
        .arg(META)
        .arg("epoch")
        .query_async(conn)
        .await?;
    let epoch = epoch.unwrap_or_default();
    let mut known = core.epoch();
    if *known == epoch {
        return Ok(false);
    }
    tracing::error!(
        "the Redis data set is not the one this instance followed (restarted empty, or replaced): \
         ids from before it can no longer be replayed and get a reset"
    );
    *known = epoch;
    drop(known);
    core.fanout.forget();
    Ok(true)
}
