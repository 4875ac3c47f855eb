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

use super::{Backend, Event, HubError, Metrics, Publish, Start, Subscription};
use crate::sse::frame;
use crate::store::journal::JournalHandle;
use crate::store::Restored;
use app::contract::{Payload, Room, RoomState, Snapshot, TopicSet};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};

pub struct MemoryBackend {
    inner: Mutex<Inner>,
    sender: broadcast::Sender<Arc<Event>>,
    /// How far delivery has got, for publishers waiting until their event is durable.
    progress: watch::Sender<Progress>,
    /// `None`: events are committed as they are accepted (nothing on disk).
    journal: Option<JournalHandle>,
    replay: usize,
    metrics: Arc<Metrics>,
}

struct Inner {
    next_seq: u64,
    /// Every accepted event folded in, durable or not: what a read-modify-write (`update`) must start from.
    accepted: Snapshot,
    /// Only committed events folded in: what a new subscriber starts from, consistent with `ring` and the feed.
    committed: Snapshot,
    /// The last `replay` committed events, oldest first. Seqs increase but may jump (across a restart).
    ring: VecDeque<Arc<Event>>,
    /// Every event after this seq is in the ring: a resume from an older id cannot be served.
    replay_floor: u64,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every event up to here has been processed (committed or failed).
    through: u64,
    /// Seq ranges whose commit failed, newest last; short, because failures are rare and fatal for the range.
    failed: Arc<Vec<(u64, u64)>>,
}

/// Where ids start on an empty store: microseconds since the epoch. Ids then keep increasing across restarts
/// even if the data directory is lost, so an id from before is recognised as too old (and answered with a
/// reset) instead of being mistaken for a new event's id.
fn clock_seq() -> u64 {
    let micros = chrono::Utc::now().timestamp_micros();
    u64::try_from(micros).unwrap_or(1).max(1)
}

impl MemoryBackend {
    /// A hub that keeps nothing on disk.
    pub fn new(replay: usize, queue: usize, metrics: Arc<Metrics>) -> Self {
        Self::build(replay, queue, metrics, None, Restored::default())
    }

    /// A hub whose events are made durable by `journal` before delivery, starting from what the store held.
    pub fn durable(
        replay: usize,
        queue: usize,
        metrics: Arc<Metrics>,
        journal: JournalHandle,
        restored: Restored,
    ) -> Self {
        Self::build(replay, queue, metrics, Some(journal), restored)
    }

    fn build(
        replay: usize,
        queue: usize,
        metrics: Arc<Metrics>,
        journal: Option<JournalHandle>,
        restored: Restored,
    ) -> Self {
        // Ids continue after the store's highest, and never fall behind the clock seed.
        let seq = (restored.max_seq + 1).max(clock_seq());
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut snapshot = restored.snapshot.unwrap_or_else(|| Snapshot {
            seq: restored.max_seq,
            ..Snapshot::default()
        });
        // Viewers are connections of this process: none yet. The snapshot stands at the id just before the next
        // one, so a client holding it resumes cleanly whether or not ids jumped at this start.
        snapshot.viewers = 0;
        snapshot.seq = seq - 1;
        for room in Room::ALL {
            snapshot
                .rooms
                .entry(room)
                .or_insert_with(|| RoomState::initial(room, now.clone()));
        }
        let replay = replay.max(1);
        let ring: VecDeque<Arc<Event>> = restored
            .events
            .into_iter()
            .rev()
            .take(replay)
            .rev()
            .map(|(seq, payload)| {
                let data = payload.to_json();
                Arc::new(build_event(seq, payload, &data))
            })
            .collect();
        // With nothing retained, no earlier id can be resumed; with a ring, everything after its first is there.
        let replay_floor = ring.front().map_or(seq - 1, |first| first.seq - 1);
        let (sender, _) = broadcast::channel(queue.max(1));
        let (progress, _) = watch::channel(Progress {
            through: seq - 1,
            failed: Arc::default(),
        });
        MemoryBackend {
            inner: Mutex::new(Inner {
                next_seq: seq,
                accepted: snapshot.clone(),
                committed: snapshot,
                ring,
                replay_floor,
            }),
            sender,
            progress,
            journal,
            replay,
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this file; the data stays consistent anyway
        // (every step under the lock is a plain field update), so recover rather than poison every route.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts an event under the lock: assigns its id and folds it into the accepted state; then either
    /// commits it at once (no journal) or queues it for the journal.
    fn accept(&self, inner: &mut Inner, payload: Payload, data: &str) -> Arc<Event> {
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let event = Arc::new(build_event(seq, payload, data));
        inner.accepted.apply(seq, &event.payload);
        match &self.journal {
            None => self.commit_locked(inner, std::slice::from_ref(&event)),
            Some(journal) => {
                if !journal.submit(event.clone()) {
                    tracing::error!(seq, "the journal writer is gone; event not stored");
                }
            }
        }
        event
    }

    /// Makes committed events visible: ring, snapshot, live feed — under the lock, in order.
    fn commit_locked(&self, inner: &mut Inner, batch: &[Arc<Event>]) {
        for event in batch {
            inner.committed.apply(event.seq, &event.payload);
            if inner.ring.len() == self.replay {
                if let Some(old) = inner.ring.pop_front() {
                    inner.replay_floor = old.seq;
                }
            }
            inner.ring.push_back(event.clone());
            // Sent under the lock so that live order is seq order and a joining subscriber sees a clean cut.
            // An error only means there is no subscriber right now.
            let _ = self.sender.send(event.clone());
        }
        if let Some(last) = batch.last() {
            self.progress
                .send_modify(|p| p.through = p.through.max(last.seq));
        }
    }

    /// Called by the journal once a batch is durable.
    pub fn commit(&self, batch: &[Arc<Event>]) {
        let mut inner = self.lock();
        self.commit_locked(&mut inner, batch);
    }

    /// Called by the journal when a batch could not be stored: its publishers get an error, and the accepted
    /// state goes back to what is durable (nothing is half-applied).
    pub fn fail(&self, batch: &[Arc<Event>]) {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return;
        };
        let mut inner = self.lock();
        inner.accepted = inner.committed.clone();
        self.progress.send_modify(|p| {
            p.through = p.through.max(last.seq);
            let mut failed = (*p.failed).clone();
            failed.push((first.seq, last.seq));
            p.failed = Arc::new(failed);
        });
    }

    /// Waits until `event` is committed (or its commit failed).
    fn settle(&self, event: Arc<Event>) -> Publish {
        let mut progress = self.progress.subscribe();
        Box::pin(async move {
            let seq = event.seq;
            let settled = progress.wait_for(|p| p.through >= seq).await;
            match settled {
                Ok(p) if !p.failed.iter().any(|(lo, hi)| (*lo..=*hi).contains(&seq)) => Ok(event),
                Ok(_) => Err(HubError::Storage(format!(
                    "event {seq} could not be stored"
                ))),
                Err(_) => Err(HubError::Storage("the hub is shutting down".into())),
            }
        })
    }
}

#[cfg(test)]
impl MemoryBackend {
    /// An event framed as this hub would, without publishing it (for the store's tests).
    pub fn frame_for_tests(&self, seq: u64, payload: Payload) -> Arc<Event> {
        let data = payload.to_json();
        Arc::new(build_event(seq, payload, &data))
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

impl Backend for MemoryBackend {
    fn publish(&self, payload: Payload) -> Publish {
        // Serialise before taking the lock: it is the expensive part and needs no sequence id.
        let data = payload.to_json();
        let event = {
            let mut inner = self.lock();
            self.accept(&mut inner, payload, &data)
        };
        self.settle(event)
    }

    fn update(&self, change: &mut dyn FnMut(&Snapshot) -> Option<Payload>) -> Option<Publish> {
        let event = {
            let mut inner = self.lock();
            let payload = change(&inner.accepted)?;
            let data = payload.to_json();
            self.accept(&mut inner, payload, &data)
        };
        Some(self.settle(event))
    }

    fn subscribe(&self, topics: TopicSet, last_event_id: Option<&str>) -> Subscription {
        let inner = self.lock();
        let live = self.sender.subscribe();
        let last = inner.committed.seq;
        let start = match last_event_id.map(str::trim).filter(|s| !s.is_empty()) {
            None => Start::Fresh(inner.committed.clone()),
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n == last => Start::Resume(Vec::new()),
                // Everything after n is still retained: replay it.
                Ok(n) if n < last && n >= inner.replay_floor => {
                    let from = inner.ring.partition_point(|e| e.seq <= n);
                    let backlog = inner
                        .ring
                        .range(from..)
                        .filter(|e| topics.contains(e.topic))
                        .cloned()
                        .collect();
                    Start::Resume(backlog)
                }
                // Too old, from the future (another hub's id) or not a number: never guess.
                _ => Start::Reset(inner.committed.clone()),
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
        self.lock().committed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::contract::{Topic, TopicSet};

    fn backend(replay: usize) -> MemoryBackend {
        MemoryBackend::new(replay, 16, Arc::new(Metrics::default()))
    }

    async fn publish(hub: &MemoryBackend, payload: Payload) -> Arc<Event> {
        hub.publish(payload).await.unwrap()
    }

    fn seqs(start: &Start) -> Vec<u64> {
        match start {
            Start::Resume(events) => events.iter().map(|e| e.seq).collect(),
            other => panic!("expected a resume, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn resume_replays_exactly_what_came_after_the_id_for_the_topics() {
        let hub = backend(100);
        let a = publish(&hub, Payload::Viewers(1)).await.seq;
        let b = publish(&hub, Payload::Viewers(2)).await.seq;
        let random = Payload::Random(app::contract::RandomNumber { value: 0.5 });
        let c = publish(&hub, random).await.seq;
        let d = publish(&hub, Payload::Viewers(3)).await.seq;
        assert_eq!(
            [b, c, d],
            [a + 1, a + 2, a + 3],
            "ids are strictly increasing"
        );
        let sub = hub.subscribe(TopicSet::of(&[Topic::Viewers]), Some(&a.to_string()));
        assert_eq!(seqs(&sub.start), vec![b, d]);
        let sub = hub.subscribe(TopicSet::DASHBOARD, Some(&d.to_string()));
        assert_eq!(seqs(&sub.start), Vec::<u64>::new());
    }

    #[tokio::test]
    async fn old_future_and_garbage_ids_reset() {
        let hub = backend(2);
        let first = publish(&hub, Payload::Viewers(1)).await.seq;
        for n in 2..=4 {
            publish(&hub, Payload::Viewers(n)).await;
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

    #[tokio::test]
    async fn fresh_subscribers_get_the_snapshot_then_only_later_events() {
        let hub = backend(10);
        publish(&hub, Payload::Viewers(7)).await;
        let mut sub = hub.subscribe(TopicSet::DASHBOARD, None);
        let Start::Fresh(snapshot) = &sub.start else {
            panic!("expected fresh")
        };
        assert_eq!(snapshot.viewers, 7);
        assert_eq!(snapshot.rooms.len(), 3, "rooms start in a known state");
        let next = publish(&hub, Payload::Viewers(8)).await;
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

    #[tokio::test]
    async fn a_fresh_hub_resumes_its_own_first_snapshot_id() {
        let hub = backend(10);
        let Start::Fresh(snapshot) = hub.subscribe(TopicSet::DASHBOARD, None).start else {
            panic!()
        };
        let next = publish(&hub, Payload::Viewers(1)).await;
        let sub = hub.subscribe(TopicSet::DASHBOARD, Some(&snapshot.seq.to_string()));
        assert_eq!(seqs(&sub.start), vec![next.seq]);
    }

    #[tokio::test]
    async fn a_restored_hub_continues_ids_and_replays_across_the_jump() {
        let restored = Restored {
            snapshot: Some(Snapshot {
                seq: 12,
                viewers: 5,
                ..Snapshot::default()
            }),
            events: (10..=12).map(|seq| (seq, Payload::Viewers(seq))).collect(),
            max_seq: 12,
        };
        let hub = MemoryBackend::build(10, 16, Arc::new(Metrics::default()), None, restored);
        let next = publish(&hub, Payload::Viewers(1)).await;
        assert!(next.seq > 12, "ids are never reused");
        assert_eq!(
            hub.snapshot().viewers,
            1,
            "viewers restart from this process's connections"
        );
        let sub = hub.subscribe(TopicSet::DASHBOARD, Some("10"));
        assert_eq!(
            seqs(&sub.start),
            vec![11, 12, next.seq],
            "no gap, no duplicate across the restart"
        );
        let sub = hub.subscribe(TopicSet::DASHBOARD, Some("8"));
        assert!(
            matches!(sub.start, Start::Reset(_)),
            "older than the restored ring"
        );
    }

    #[tokio::test]
    async fn updates_see_the_accepted_state() {
        let hub = backend(10);
        let bump = |s: &Snapshot| Some(Payload::Viewers(s.viewers + 1));
        hub.update(&mut { bump }).unwrap().await.unwrap();
        hub.update(&mut { bump }).unwrap().await.unwrap();
        assert_eq!(hub.snapshot().viewers, 2);
        assert!(hub.update(&mut |_| None).is_none());
    }

    #[tokio::test]
    async fn events_are_framed_once_in_each_form() {
        let hub = backend(10);
        let e = publish(&hub, Payload::Viewers(3)).await;
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
