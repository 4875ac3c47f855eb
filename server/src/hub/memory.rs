//! The in-process hub backend: one lock around sequence assignment, the replay ring and the snapshot, and a
//! broadcast ring for fan-out.
//!
//! Why one lock: a subscriber joins the live feed and reads the replay ring under the same lock a publisher
//! takes, so every event is either in what it replays or in what it receives live — never both, never neither.
//! The lock is held for a few hundred nanoseconds (framing is done before taking it) and never across an await.
//!
//! Why `broadcast`: all subscribers share one ring of `Arc<Event>`; a subscriber's queue is its distance behind
//! the head, bounded by the ring's capacity. One that falls a whole ring behind is told it lagged, and its stream
//! ends (it resumes from its last id) instead of holding everyone else up.

use super::{Backend, Event, Metrics, Start, Subscription};
use crate::sse::frame;
use app::contract::{Payload, Room, RoomState, Snapshot, TopicSet};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

pub struct MemoryBackend {
    inner: Mutex<Inner>,
    sender: broadcast::Sender<Arc<Event>>,
    replay: usize,
    metrics: Arc<Metrics>,
}

struct Inner {
    next_seq: u64,
    /// The last `replay` events, seqs contiguous, oldest first.
    ring: VecDeque<Arc<Event>>,
    snapshot: Snapshot,
}

/// Where ids start: microseconds since the epoch. Ids then keep increasing across restarts of a hub that keeps
/// nothing on disk, so an id from before a restart is recognised as too old (and answered with a reset) instead
/// of being mistaken for a new event's id.
fn first_seq() -> u64 {
    let micros = chrono::Utc::now().timestamp_micros();
    u64::try_from(micros).unwrap_or(1).max(1)
}

impl MemoryBackend {
    pub fn new(replay: usize, queue: usize, metrics: Arc<Metrics>) -> Self {
        let seq = first_seq();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let snapshot = Snapshot {
            seq: seq - 1,
            rooms: Room::ALL
                .into_iter()
                .map(|r| (r, RoomState::initial(r, now.clone())))
                .collect(),
            ..Snapshot::default()
        };
        let (sender, _) = broadcast::channel(queue.max(1));
        MemoryBackend {
            inner: Mutex::new(Inner {
                next_seq: seq,
                ring: VecDeque::with_capacity(replay.min(1 << 16)),
                snapshot,
            }),
            sender,
            replay: replay.max(1),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this file; the data stays consistent anyway
        // (every step under the lock is a plain field update), so recover rather than poison every route.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn build_event(seq: u64, payload: Payload, data: &str) -> Event {
    let topic = payload.topic();
    let alt = match &payload {
        Payload::Job(job) => Some(frame(
            Some(seq),
            Some(if job.done { "done" } else { "progress" }),
            data,
        )),
        _ => None,
    };
    Event {
        seq,
        topic,
        named: frame(Some(seq), Some(topic.name()), data),
        unnamed: frame(Some(seq), None, data),
        alt,
        payload,
    }
}

impl MemoryBackend {
    fn publish_locked(&self, inner: &mut Inner, payload: Payload, data: &str) -> Arc<Event> {
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let event = Arc::new(build_event(seq, payload, data));
        inner.snapshot.apply(seq, &event.payload);
        if inner.ring.len() == self.replay {
            inner.ring.pop_front();
        }
        inner.ring.push_back(event.clone());
        // Sent under the lock so that live order is seq order and a joining subscriber sees a clean cut.
        // An error only means there is no subscriber right now.
        let _ = self.sender.send(event.clone());
        event
    }
}

impl Backend for MemoryBackend {
    fn publish(&self, payload: Payload) -> Arc<Event> {
        // Serialise before taking the lock: it is the expensive part and needs no sequence id.
        let data = payload.to_json();
        let mut inner = self.lock();
        self.publish_locked(&mut inner, payload, &data)
    }

    fn update(&self, change: &mut dyn FnMut(&Snapshot) -> Option<Payload>) -> Option<Arc<Event>> {
        let mut inner = self.lock();
        let payload = change(&inner.snapshot)?;
        let data = payload.to_json();
        Some(self.publish_locked(&mut inner, payload, &data))
    }

    fn subscribe(&self, topics: TopicSet, last_event_id: Option<&str>) -> Subscription {
        let inner = self.lock();
        let live = self.sender.subscribe();
        let last = inner.next_seq - 1;
        let start = match last_event_id.map(str::trim).filter(|s| !s.is_empty()) {
            None => Start::Fresh(inner.snapshot.clone()),
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n == last => Start::Resume(Vec::new()),
                Ok(n) if n < last => match inner.ring.front() {
                    // Everything after n is still retained: replay it.
                    Some(first) if n + 1 >= first.seq => {
                        let skip = usize::try_from(n + 1 - first.seq).unwrap_or(usize::MAX);
                        let backlog = inner
                            .ring
                            .iter()
                            .skip(skip)
                            .filter(|e| topics.contains(e.topic))
                            .cloned()
                            .collect();
                        Start::Resume(backlog)
                    }
                    _ => Start::Reset(inner.snapshot.clone()),
                },
                // From the future (another hub's id) or not a number: never guess.
                _ => Start::Reset(inner.snapshot.clone()),
            },
        };
        match start {
            Start::Resume(_) => self.metrics.replay_hits.inc(),
            Start::Reset(_) => self.metrics.replay_resets.inc(),
            Start::Fresh(_) => {}
        }
        Subscription { start, live }
    }

    fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::contract::{Topic, TopicSet};

    fn backend(replay: usize) -> MemoryBackend {
        MemoryBackend::new(replay, 16, Arc::new(Metrics::default()))
    }

    fn seqs(start: &Start) -> Vec<u64> {
        match start {
            Start::Resume(events) => events.iter().map(|e| e.seq).collect(),
            other => panic!("expected a resume, got {other:?}"),
        }
    }

    #[test]
    fn resume_replays_exactly_what_came_after_the_id_for_the_topics() {
        let hub = backend(100);
        let a = hub.publish(Payload::Viewers(1)).seq;
        let b = hub.publish(Payload::Viewers(2)).seq;
        let c = hub
            .publish(Payload::Random(app::contract::RandomNumber { value: 0.5 }))
            .seq;
        let d = hub.publish(Payload::Viewers(3)).seq;
        assert_eq!(
            [b, c, d],
            [a + 1, a + 2, a + 3],
            "ids are strictly increasing and contiguous"
        );
        let sub = hub.subscribe(TopicSet::of(&[Topic::Viewers]), Some(&a.to_string()));
        assert_eq!(seqs(&sub.start), vec![b, d]);
        let sub = hub.subscribe(TopicSet::DASHBOARD, Some(&d.to_string()));
        assert_eq!(seqs(&sub.start), Vec::<u64>::new());
    }

    #[test]
    fn old_future_and_garbage_ids_reset() {
        let hub = backend(2);
        let first = hub.publish(Payload::Viewers(1)).seq;
        for n in 2..=4 {
            hub.publish(Payload::Viewers(n));
        }
        for id in [
            first.to_string(),
            (first + 100).to_string(),
            "abc".to_owned(),
            "0".to_owned(),
        ] {
            let sub = hub.subscribe(TopicSet::DASHBOARD, Some(&id));
            assert!(
                matches!(sub.start, Start::Reset(ref s) if s.viewers == 4),
                "id {id} must reset"
            );
        }
        // The oldest id still answerable is the one just before the ring's first event.
        let sub = hub.subscribe(TopicSet::DASHBOARD, Some(&(first + 1).to_string()));
        assert_eq!(seqs(&sub.start), vec![first + 2, first + 3]);
    }

    #[test]
    fn fresh_subscribers_get_the_snapshot_then_only_later_events() {
        let hub = backend(10);
        hub.publish(Payload::Viewers(7));
        let mut sub = hub.subscribe(TopicSet::DASHBOARD, None);
        let Start::Fresh(snapshot) = &sub.start else {
            panic!("expected fresh")
        };
        assert_eq!(snapshot.viewers, 7);
        assert_eq!(snapshot.rooms.len(), 3, "rooms start in a known state");
        let next = hub.publish(Payload::Viewers(8));
        let got = sub.live.try_recv().unwrap();
        assert_eq!(got.seq, next.seq);
        assert_eq!(
            snapshot.seq + 1,
            next.seq,
            "no gap between snapshot and live"
        );
        assert!(
            sub.live.try_recv().is_err(),
            "no duplicate of what the snapshot held"
        );
    }

    #[test]
    fn events_are_framed_once_in_each_form() {
        let hub = backend(10);
        let e = hub.publish(Payload::Viewers(3));
        assert_eq!(
            &e.named[..],
            format!("id: {}\nevent: viewers\ndata: 3\n\n", e.seq).as_bytes()
        );
        assert_eq!(
            &e.unnamed[..],
            format!("id: {}\ndata: 3\n\n", e.seq).as_bytes()
        );
        assert!(e.alt.is_none());
    }
}
