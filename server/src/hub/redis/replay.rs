//! Where a resuming stream on a Redis-backed hub reads what it missed: the local ring while it still holds the
//! events, the broker's log (`XRANGE`) for anything older. A stream resuming on an instance that started after
//! the client's id (or whose ring has moved on) still gets exactly the events after it.
//!
//! Reads happen outside every lock, batch by batch as the stream sends them. Retention only ever drops a prefix
//! of the log, so a read is complete when the entry it continues from is still there afterwards: each batch is
//! read together with the log's first id, and a first id beyond the cursor means the batch may have a hole —
//! the stream ends ([`ReplayGone`]) and the client resumes from its last id (and gets a `reset` if that is gone).

use super::entry::{from_range, Entry};
use super::link::Link;
use super::scripts::{entry_id, LOG};
use crate::event::Event;
use crate::hub::{Fanout, ReplayGone, ReplaySource};
use app::contract::{Payload, TopicSet};
use futures::future::BoxFuture;
use redis::Value;
use std::sync::Arc;

/// Entries looked at per round trip.
const READ_COUNT: usize = 256;

pub struct LogReplay {
    pub fanout: Arc<Fanout>,
    pub link: Arc<Link>,
}

impl ReplaySource for LogReplay {
    fn read(
        &self,
        after: u64,
        until: u64,
        topics: TopicSet,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<Event>>, ReplayGone>> {
        let (floor, _) = self.fanout.bounds();
        if after >= floor {
            if let Ok(events) = self.fanout.read_ring(after, until, topics, max) {
                return Box::pin(std::future::ready(Ok(events)));
            }
        }
        let link = Arc::clone(&self.link);
        Box::pin(async move { read_log(&link, after, until, topics, max).await })
    }
}

/// Up to `max` events of `topics` in `(after, until]` from the broker's log; empty when none are left.
pub async fn read_log(
    link: &Link,
    after: u64,
    until: u64,
    topics: TopicSet,
    max: usize,
) -> Result<Vec<Arc<Event>>, ReplayGone> {
    let mut cursor = after;
    while cursor < until {
        let mut conn = link.connection().map_err(|_| ReplayGone)?;
        let reply: Result<(Value, Value), _> = redis::pipe()
            .cmd("XRANGE")
            .arg(LOG)
            .arg(format!("({}", entry_id(cursor)))
            .arg(entry_id(until))
            .arg("COUNT")
            .arg(READ_COUNT.min(max.max(1) * 4))
            .cmd("XRANGE")
            .arg(LOG)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await;
        let (range, first) = reply.map_err(|e| {
            link.failed(&e);
            tracing::debug!(error = %e, "a replay could not read the log");
            ReplayGone
        })?;
        let entries = from_range(&range).map_err(|_| ReplayGone)?;
        let first = from_range(&first).map_err(|_| ReplayGone)?;
        // Read first, checked after: if the entry the read continued from is still the log's first or later,
        // nothing between it and the batch was trimmed.
        if first.first().is_none_or(|f| f.seq > cursor) {
            return Err(ReplayGone);
        }
        let Some(last) = entries.last().map(|e| e.seq) else {
            return Ok(Vec::new());
        };
        cursor = last;
        let events = wanted(&entries, topics, max);
        if !events.is_empty() {
            return Ok(events);
        }
    }
    Ok(Vec::new())
}

/// The events of `topics` among `entries`, at most `max`; an entry is decoded only once its name says it is
/// wanted, and one that cannot be read is logged and skipped (it was written by something other than Hearth).
fn wanted(entries: &[Entry], topics: TopicSet, max: usize) -> Vec<Arc<Event>> {
    entries
        .iter()
        .filter(|entry| Payload::topic_of(&entry.name).is_some_and(|t| topics.contains(t)))
        .filter_map(|entry| match entry.event() {
            Ok(event) => Some(event),
            Err(e) => {
                tracing::error!(seq = entry.seq, error = %e, "unreadable entry in the Redis log; skipped");
                None
            }
        })
        .take(max)
        .collect()
}
