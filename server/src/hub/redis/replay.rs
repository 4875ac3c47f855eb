//! Where a resuming stream on a Redis-backed hub reads what it missed: the local ring while it still holds the
//! events, the broker's log (`XRANGE`) for anything older. A stream resuming on an instance that started after
//! the client's id (or whose ring has moved on) still gets exactly the events after it.
//!
//! Reads happen outside every lock, batch by batch as the stream sends them. Retention may drop entries after
//! the cursor while a stream reads (it keeps readings and drops what lies after them, so the log is not a
//! prefix dropped): each batch is read together with the marks of what retention dropped ([`Marks`]), and a
//! mark past the cursor for the stream's topics means the batch may have a hole — the stream ends
//! ([`ReplayGone`]) and the client resumes from its last id (and gets a `reset`, the mark being past it). The
//! same holds when the data set's epoch is not the one the stream started in (the broker lost everything).
//! Entries are filtered by name before any is decoded, so a stream skips other topics' events for the price
//! of a string comparison; how many entries one resume may read at all is bounded where it starts (see
//! `RedisCore::subscribe`).

use super::entry::{from_range, Entry};
use super::link::Link;
use super::marks::Marks;
use super::scripts::{entry_id, LOG, META, TRIMMED};
use crate::event::Event;
use crate::hub::{Fanout, ReplayGone, ReplaySource};
use app::contract::{Payload, TopicSet};
use futures::future::BoxFuture;
use redis::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries looked at per round trip.
const READ_COUNT: usize = 256;

pub struct LogReplay {
    pub fanout: Arc<Fanout>,
    pub link: Arc<Link>,
    /// The data set the resume was decided in: the log of another one cannot complete it.
    pub epoch: Arc<str>,
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
        let (link, epoch) = (Arc::clone(&self.link), Arc::clone(&self.epoch));
        Box::pin(async move { read_log(&link, &epoch, after, until, topics, max).await })
    }
}

/// Up to `max` events of `topics` in `(after, until]` from the broker's log of data set `epoch`; empty when
/// none are left.
pub async fn read_log(
    link: &Link,
    epoch: &str,
    after: u64,
    until: u64,
    topics: TopicSet,
    max: usize,
) -> Result<Vec<Arc<Event>>, ReplayGone> {
    let mut cursor = after;
    while cursor < until {
        let mut conn = link.connection().map_err(|_| ReplayGone)?;
        let reply: Result<(Value, HashMap<String, u64>, Option<String>), _> = redis::pipe()
            .cmd("XRANGE")
            .arg(LOG)
            .arg(format!("({}", entry_id(cursor)))
            .arg(entry_id(until))
            .arg("COUNT")
            .arg(READ_COUNT.min(max.max(1) * 4))
            .cmd("HGETALL")
            .arg(TRIMMED)
            .cmd("HGET")
            .arg(META)
            .arg("epoch")
            .query_async(&mut conn)
            .await;
        let (range, trimmed, read_in) = reply.map_err(|e| {
            link.failed(&e);
            tracing::debug!(error = %e, "a replay could not read the log");
            ReplayGone
        })?;
        let entries = from_range(&range).map_err(|_| ReplayGone)?;
        // Read first, checked after: if nothing of these topics after the cursor had been dropped by the time
        // the batch was read, the batch has no hole.
        if Marks::from_fields(&trimmed).cut(cursor, topics) || read_in.as_deref() != Some(epoch) {
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
