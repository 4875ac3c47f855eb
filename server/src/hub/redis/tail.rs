//! The tail: each instance follows the broker's log with `XREAD BLOCK` from the last id it delivered and
//! commits what it reads to its fan-out, in id order, exactly as the in-process backend commits what its
//! journal confirmed. Every subscriber of this instance — whoever published — sees events through here.
//!
//! A blocked read is finite ([`BLOCK`]) and has a deadline of its own, so a connection that died silently is
//! noticed within seconds; on every connection and every idle round the tail also reads what the data set is
//! ([`check`]), only writing when it has no identity yet, so a broker that refuses writes (a read-only replica,
//! one without enough replicas) is still followed. Every failure waits the link's backoff before the next
//! attempt: a broker that accepts connections but refuses what follows is not hammered with new ones.
//!
//! Two ways the log can stop being the one this instance followed:
//! - its epoch changed: the broker lost its data (restarted empty). The ring is forgotten, so holders of older
//!   ids get a `reset` rather than a replay the broker can no longer back; the new log is read from its start;
//!   and the new data set is told how far ids went (so the state this instance keeps can become its checkpoint,
//!   and new ids stay above the old).
//! - it went back: same epoch, but its highest id or its count of entries is below what this instance has seen
//!   (a failover to a replica that missed the last entries), or an entry comes with an ordinal at or below one
//!   already delivered. Entries appended since may carry ids this instance already delivered with other
//!   content, and its tail would never read them: instead it starts over from the log's checkpoint and what
//!   follows it ([`resync`]), ends its streams, and marks the ids it had seen as not resumable, everywhere.

use super::entry::{from_read, Entry};
use super::link::{back_off, connect, RESPONSE_TIMEOUT};
use super::scripts::{self, entry_id, ALL_NAMES, LOG, META, TRIMMED};
use super::RedisCore;
use crate::clock::now_ms;
use crate::event::Event;
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one read waits for new entries.
pub const BLOCK: Duration = Duration::from_millis(1000);
/// Entries taken per read.
const COUNT: usize = 1000;

/// Where the tail is in the log.
#[derive(Debug, Clone, Copy)]
struct Place {
    /// The id of the last entry delivered (or of the state the tail started from).
    cursor: u64,
    /// That entry's ordinal (0: not known).
    ordinal: u64,
}

/// Follows the log from `cursor` (the entry there having ordinal `ordinal`, 0 if unknown) until `stop`.
pub async fn run(core: Arc<RedisCore>, cursor: u64, ordinal: u64, stop: CancellationToken) {
    let mut place = Place { cursor, ordinal };
    let mut attempt = 0usize;
    let mut failed = false;
    loop {
        if failed && !back_off(&mut attempt, &stop).await {
            return;
        }
        failed = true;
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            c = connect(core.link.client(), BLOCK + RESPONSE_TIMEOUT) => c,
        };
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(e) => {
                core.tail_down(&e.to_string());
                continue;
            }
        };
        if let Err(e) = check(&core, &mut conn, &mut place).await {
            core.tail_down(&e);
            continue;
        }
        if attempt > 0 {
            tracing::info!(attempt, "the tail follows the Redis log again");
        }
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
                .arg(entry_id(place.cursor));
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
            // A read went through: the next failure starts the backoff afresh.
            attempt = 0;
            let outcome = match entries.last() {
                Some(last) if went_back(&place, &entries) => {
                    tracing::error!(
                        seq = last.seq,
                        "an entry of the Redis log carries an ordinal this instance has seen: the log went back"
                    );
                    resync(&core, &mut conn, &mut place).await
                }
                Some(last) => {
                    deliver(&core, &entries);
                    place = Place {
                        cursor: last.seq,
                        ordinal: last.ordinal.unwrap_or(0),
                    };
                    Ok(())
                }
                None => {
                    core.tail.lag_ms.store(0, Ordering::Relaxed);
                    core.metrics.broker.tail_lag_ms.store(0, Ordering::Relaxed);
                    check(&core, &mut conn, &mut place).await
                }
            };
            if let Err(e) = outcome {
                core.tail_down(&e);
                break;
            }
        }
    }
}

/// Whether `entries` (read after `place`) were appended in a history without the entries this instance saw:
/// ordinals only grow, so one at or below the last delivered means the log lost entries and took others.
fn went_back(place: &Place, entries: &[Entry]) -> bool {
    place.ordinal > 0
        && entries
            .iter()
            .any(|e| e.ordinal.is_some_and(|n| n <= place.ordinal))
}

/// Commits what was read, in order. Only after the broker lost everything can an entry be at or below what this
/// instance has (the new log is read from its start): such entries are logged and skipped, not silently.
fn deliver(core: &RedisCore, entries: &[Entry]) {
    let have = core.fanout.last_seq();
    let skipped = entries.iter().filter(|e| e.seq <= have).count();
    if skipped > 0 {
        tracing::error!(
            skipped,
            have,
            "entries of the new Redis data set at or below this instance's state are skipped: they were \
             published before this instance told the data set how far ids went"
        );
    }
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

/// Reads what the data set is — its identity (creating one if it has none), its highest id and how many entries
/// it ever took — and acts on it: a new data set is taken up, a log that went back is followed anew.
async fn check(
    core: &RedisCore,
    conn: &mut MultiplexedConnection,
    place: &mut Place,
) -> Result<(), String> {
    let (epoch, last, appended): (Option<String>, Option<u64>, Option<u64>) = redis::cmd("HMGET")
        .arg(META)
        .arg("epoch")
        .arg("last")
        .arg("n")
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    let epoch = match epoch {
        Some(epoch) => epoch,
        // A new data set: the one write the tail makes (refused by a read-only broker: then it waits).
        None => {
            let (_, epoch): (Value, Option<String>) = redis::pipe()
                .cmd("HSETNX")
                .arg(META)
                .arg("epoch")
                .arg(super::fresh_epoch())
                .cmd("HGET")
                .arg(META)
                .arg("epoch")
                .query_async(conn)
                .await
                .map_err(|e| e.to_string())?;
            epoch.unwrap_or_default()
        }
    };
    if *core.epoch() != epoch {
        return take_up(core, conn, place, epoch).await;
    }
    let behind = last.unwrap_or(0) < place.cursor
        || (place.ordinal > 0 && appended.is_some_and(|n| n < place.ordinal));
    if behind {
        tracing::error!(
            log_last = last.unwrap_or(0),
            seen = place.cursor,
            "the Redis log is behind what this instance has seen: it went back (a failover lost entries)"
        );
        return resync(core, conn, place).await;
    }
    Ok(())
}

/// Takes up a new data set (the broker lost its data): forgets the ring, reads the new log from its start, and
/// raises the data set's highest id to this instance's state, so that state can be its checkpoint and new ids
/// stay above the old.
async fn take_up(
    core: &RedisCore,
    conn: &mut MultiplexedConnection,
    place: &mut Place,
    epoch: String,
) -> Result<(), String> {
    tracing::error!(
        "the Redis data set is not the one this instance followed (restarted empty, or replaced): \
         ids from before it can no longer be replayed and get a reset"
    );
    let _: String = scripts::RAISE
        .key(META)
        .arg("last")
        .arg(core.fanout.last_seq())
        .invoke_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    *core.epoch() = epoch;
    *core.marks() = Default::default();
    core.fanout.forget();
    *place = Place {
        cursor: 0,
        ordinal: 0,
    };
    Ok(())
}

/// Starts over from the log's checkpoint and what follows it: the log went back under this instance. The ids it
/// had seen are marked as not resumable (a `reset` on every instance, the mark being in Redis), its streams
/// end, and its own next ids stay above them.
async fn resync(
    core: &RedisCore,
    conn: &mut MultiplexedConnection,
    place: &mut Place,
) -> Result<(), String> {
    let seen = core.fanout.last_seq().max(place.cursor);
    let _: String = scripts::RAISE
        .key(TRIMMED)
        .arg(ALL_NAMES)
        .arg(seen + 1)
        .invoke_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    core.marks().cut_all_below(seen + 1);
    core.assigned.fetch_max(seen, Ordering::Relaxed);
    let client = core.link.client().clone();
    let replay = core.options.replay;
    let restored = tokio::task::spawn_blocking(move || super::restore(&client, replay))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e:#}"))?;
    let seq = restored.snapshot.seq;
    tracing::warn!(
        seq,
        seen,
        "started over from the Redis log's checkpoint; this instance's streams were ended"
    );
    core.marks().merge(&restored.marks);
    core.fanout.restart(restored.snapshot, restored.ring);
    core.delivered.send_replace(seq);
    core.tail.last_id.store(seq, Ordering::Relaxed);
    core.metrics.broker.last_id.store(seq, Ordering::Relaxed);
    *place = Place {
        cursor: seq,
        ordinal: restored.ordinal,
    };
    Ok(())
}
