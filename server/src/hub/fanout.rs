//! The committed side of a hub: the state as of the newest committed event, the replay ring, and the live feed.
//! A backend commits events here in id order (the in-process backend as its journal confirms them; a broker
//! backend as it tails the broker); subscribers join here.
//!
//! Why one lock: a subscriber joins the live feed and reads the ring's end under the same lock a commit takes, so
//! every event is either in what it replays or in what it receives live — never both, never neither. The lock is
//! held for a few hundred nanoseconds (events arrive framed) and never across an await.
//!
//! Why `broadcast`: all subscribers share one ring of `Arc<Event>`; a subscriber's queue is its distance behind
//! the head, bounded by the ring's capacity. One that falls a whole ring behind is told it lagged, and its stream
//! ends (it resumes from its last id) instead of holding everyone else up.
//!
//! A resume does not copy what it missed: it gets a [`Replay`], a cursor that reads the ring in small batches as
//! the stream sends them. A stream resuming 10,000 events back holds a few pointers, not 80 KiB.

use super::{Start, SubscribeRequest, Subscription};
use crate::event::Event;
use crate::metrics::Metrics;
use app::contract::{Seq, Snapshot, TopicSet};
use futures::future::BoxFuture;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Events a replay reads from its source at a time.
const REPLAY_BATCH: usize = 64;
/// A gap of at most this many events is always replayed; only longer ones are weighed against the snapshot.
const SMALL_GAP: usize = 64;

pub struct Fanout {
    inner: Mutex<Inner>,
    replay: usize,
    /// How far a subscriber may fall behind (the live feed's capacity).
    queue: usize,
    metrics: Arc<Metrics>,
}

struct Inner {
    /// The live feed. Replaced (ending every subscriber's stream) when the history starts over: see
    /// [`Fanout::restart`].
    sender: broadcast::Sender<Arc<Event>>,
    /// Every committed event folded in: what a new subscriber starts from, consistent with `ring` and the feed.
    committed: Snapshot,
    /// The last `replay` committed events with ids, under their ids, oldest first. Ids increase but may jump.
    ring: VecDeque<(Seq, Arc<Event>)>,
    /// Every event with an id above this is in the ring: a resume from an older id cannot be served from here.
    floor: u64,
    /// The length of `committed` as JSON, once someone needed it since the last commit.
    snapshot_len: Option<usize>,
}

/// The events a resuming subscriber missed, read from their source on demand, already filtered to its topics.
pub struct Replay {
    /// The id of the last event handed out (or the client's id before the first).
    after: u64,
    /// The newest missed event: everything after it comes on the live feed.
    until: u64,
    topics: TopicSet,
    source: Arc<dyn ReplaySource>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("after", &self.after)
            .field("until", &self.until)
            .finish_non_exhaustive()
    }
}

/// The missed events were dropped from the source before the subscriber read them (it read too slowly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the events to replay are no longer retained")]
pub struct ReplayGone;

/// Where a [`Replay`] reads from: the ring, or a broker's log for what is older than the ring.
pub trait ReplaySource: Send + Sync + 'static {
    /// Up to `max` events with ids in `(after, until]` in `topics`, oldest first; empty once none are left.
    fn read(
        &self,
        after: u64,
        until: u64,
        topics: TopicSet,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<Event>>, ReplayGone>>;
}

impl Replay {
    pub fn new(after: u64, until: u64, topics: TopicSet, source: Arc<dyn ReplaySource>) -> Self {
        Replay {
            after,
            until,
            topics,
            source,
        }
    }

    /// An empty replay: the subscriber missed nothing.
    pub fn nothing(at: u64, source: Arc<dyn ReplaySource>) -> Self {
        Replay::new(at, at, TopicSet::default(), source)
    }

    /// The next events to send, oldest first; `Ok(None)` when the replay is complete.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Arc<Event>>>, ReplayGone> {
        if self.after >= self.until {
            return Ok(None);
        }
        let batch = self
            .source
            .read(self.after, self.until, self.topics, REPLAY_BATCH)
            .await?;
        // Every replayed event has an id (only retained events are replayed).
        match batch.last().and_then(|last| last.id) {
            Some(last) => {
                self.after = last;
                Ok(Some(batch))
            }
            None => {
                self.after = self.until;
                Ok(None)
            }
        }
    }

    /// The id the replay ends at.
    pub fn until(&self) -> u64 {
        self.until
    }
}

impl Fanout {
    /// A fan-out starting from `snapshot` (as of `snapshot.seq`) with `events` (ids ascending, the newest last,
    /// all at or below `snapshot.seq`) retained for replay, keeping at most `replay` events and letting a
    /// subscriber fall at most `queue` events behind.
    pub fn new(
        snapshot: Snapshot,
        events: Vec<Arc<Event>>,
        replay: usize,
        queue: usize,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let replay = replay.max(1);
        let (ring, floor) = ring_of(&snapshot, events, replay);
        let (sender, _) = broadcast::channel(queue.max(1));
        Arc::new(Fanout {
            inner: Mutex::new(Inner {
                sender,
                committed: snapshot,
                ring,
                floor,
                snapshot_len: None,
            }),
            replay,
            queue: queue.max(1),
            metrics,
        })
    }

    /// Starts over from `snapshot` with `events` retained, as [`Fanout::new`] does: the history this fan-out
    /// followed was replaced (a broker's log went back under it). Every subscriber's stream ends, so that it
    /// resumes — and is told to start over — rather than carry on from a state no longer anyone's. The viewer
    /// count, which is this process's own, stays.
    pub fn restart(&self, mut snapshot: Snapshot, events: Vec<Arc<Event>>) {
        let (ring, floor) = ring_of(&snapshot, events, self.replay);
        let mut inner = self.lock();
        snapshot.viewers = inner.committed.viewers;
        inner.committed = snapshot;
        inner.ring = ring;
        inner.floor = floor;
        inner.snapshot_len = None;
        // Dropping the old sender closes every receiver once it has read what was sent before.
        inner.sender = broadcast::channel(self.queue).0;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this file; the data stays consistent anyway (every
        // step under it is a plain field update), so recover rather than poison every route.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes committed events visible, in order: state, ring (events with an id), live feed.
    pub fn commit(&self, batch: &[Arc<Event>]) {
        let mut inner = self.lock();
        for event in batch {
            inner.committed.apply(event.id, &event.payload);
            if let Some(id) = event.id {
                if inner.ring.len() == self.replay {
                    if let Some((old, _)) = inner.ring.pop_front() {
                        inner.floor = old;
                    }
                }
                inner.ring.push_back((id, Arc::clone(event)));
            }
            // Sent under the lock so that live order is id order and a joining subscriber sees a clean cut.
            // An error only means there is no subscriber right now.
            let _ = inner.sender.send(Arc::clone(event));
        }
        inner.snapshot_len = None;
    }

    /// The committed state.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().committed.clone()
    }

    /// The id of the newest committed event.
    pub fn last_seq(&self) -> Seq {
        self.lock().committed.seq
    }

    /// Joins the live feed and decides where the subscriber starts, from the ring alone.
    pub fn subscribe(self: &Arc<Self>, request: SubscribeRequest<'_>) -> Subscription {
        self.subscribe_via(request, self.clone())
    }

    /// As [`Fanout::subscribe`], deciding from the ring, but a resume reads its events through `source` (a
    /// broker's log that falls back to older storage when the ring moves on under a slow reader).
    pub fn subscribe_via(
        &self,
        request: SubscribeRequest<'_>,
        source: Arc<dyn ReplaySource>,
    ) -> Subscription {
        let mut inner = self.lock();
        let live = inner.sender.subscribe();
        let last = inner.committed.seq;
        let start = match request
            .last_event_id
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Start::Fresh(inner.committed.clone()),
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n == last => Start::Resume(Replay::nothing(n, source)),
                // Everything after n is still retained: replay it, unless the state says it in fewer bytes.
                Ok(n) if n < last && n >= inner.floor => {
                    if request.state_stands_in && inner.gap_outweighs_state(n, request.topics) {
                        Start::Reset(inner.committed.clone())
                    } else {
                        Start::Resume(Replay::new(n, last, request.topics, source))
                    }
                }
                // Too old, from the future (another hub's id) or not a number: never guess.
                _ => Start::Reset(inner.committed.clone()),
            },
        };
        drop(inner);
        match start {
            Start::Resume(_) => self.metrics.replay_hits.inc(),
            Start::Reset(_) => self.metrics.replay_resets.inc(),
            Start::Fresh(_) => {}
        }
        Subscription { start, live }
    }

    /// Joins the live feed resuming right after `after`, an id older than the ring: the caller checked that
    /// `source` still holds every event after it. The replay reads `source` up to the newest committed event.
    pub fn subscribe_after(
        &self,
        after: u64,
        topics: TopicSet,
        source: Arc<dyn ReplaySource>,
    ) -> Subscription {
        let inner = self.lock();
        let live = inner.sender.subscribe();
        let until = inner.committed.seq.max(after);
        drop(inner);
        self.metrics.replay_hits.inc();
        Subscription {
            start: Start::Resume(Replay::new(after, until, topics, source)),
            live,
        }
    }

    /// Joins the live feed starting over from the current state: the caller found the subscriber's id unusable.
    pub fn subscribe_reset(&self) -> Subscription {
        let inner = self.lock();
        let live = inner.sender.subscribe();
        let start = Start::Reset(inner.committed.clone());
        drop(inner);
        self.metrics.replay_resets.inc();
        Subscription { start, live }
    }

    /// Whether `seq` is the id of the state or of an event in the ring.
    pub fn holds(&self, seq: Seq) -> bool {
        let inner = self.lock();
        seq == inner.committed.seq || inner.ring.binary_search_by_key(&seq, |(id, _)| *id).is_ok()
    }

    /// The id of the newest event in the ring that passes `test` (newest first, so a client id used twice finds
    /// its latest use). A scan: it runs once per resume by an id the hub did not assign, never per delivery.
    pub fn find(&self, test: &dyn Fn(&Event) -> bool) -> Option<Seq> {
        let inner = self.lock();
        inner
            .ring
            .iter()
            .rev()
            .find(|(_, event)| test(event))
            .map(|(id, _)| *id)
    }

    /// The ids the ring can replay from: every event after the first number up to the second (the newest).
    pub fn bounds(&self) -> (u64, u64) {
        let inner = self.lock();
        (inner.floor, inner.committed.seq)
    }

    /// Drops the ring: the log behind it lost its data (a broker restarted empty), so no earlier id may be
    /// resumed from here any more; holders of one get a `reset`. The state stays.
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.ring.clear();
        inner.floor = inner.committed.seq;
    }

    /// Up to `max` retained events in `(after, until]` of `topics`; gone if the ring moved past `after`.
    pub fn read_ring(
        &self,
        after: u64,
        until: u64,
        topics: TopicSet,
        max: usize,
    ) -> Result<Vec<Arc<Event>>, ReplayGone> {
        let inner = self.lock();
        if after < inner.floor {
            return Err(ReplayGone);
        }
        let from = inner.ring.partition_point(|(id, _)| *id <= after);
        Ok(inner
            .ring
            .range(from..)
            .take_while(|(id, _)| *id <= until)
            .filter(|(_, e)| topics.contains(e.topic))
            .take(max)
            .map(|(_, e)| Arc::clone(e))
            .collect())
    }
}

/// The ring a fan-out starting from `snapshot` keeps of `events` (the newest `replay` with ids), and its floor.
fn ring_of(
    snapshot: &Snapshot,
    events: Vec<Arc<Event>>,
    replay: usize,
) -> (VecDeque<(Seq, Arc<Event>)>, u64) {
    let skip = events.len().saturating_sub(replay);
    let ring: VecDeque<(Seq, Arc<Event>)> = events
        .into_iter()
        .skip(skip)
        .filter_map(|event| Some((event.id?, event)))
        .collect();
    // With nothing retained no earlier id can be resumed; with a ring, everything after its first is there.
    let floor = ring.front().map_or(snapshot.seq, |(first, _)| first - 1);
    (ring, floor)
}

impl Inner {
    /// Whether the events after `after` in `topics` take more bytes than the state itself.
    fn gap_outweighs_state(&mut self, after: u64, topics: TopicSet) -> bool {
        let from = self.ring.partition_point(|(id, _)| *id <= after);
        if self.ring.len() - from <= SMALL_GAP {
            return false;
        }
        let state_len = *self.snapshot_len.get_or_insert_with(|| {
            serde_json::to_string(&self.committed).map_or(usize::MAX, |json| json.len())
        });
        let mut gap_len = 0;
        for (_, event) in self.ring.range(from..) {
            if topics.contains(event.topic) {
                gap_len += event.named.len();
                if gap_len > state_len {
                    return true;
                }
            }
        }
        false
    }
}

impl ReplaySource for Fanout {
    fn read(
        &self,
        after: u64,
        until: u64,
        topics: TopicSet,
        max: usize,
    ) -> BoxFuture<'static, Result<Vec<Arc<Event>>, ReplayGone>> {
        let result = self.read_ring(after, until, topics, max);
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::replayed as replayed_seqs;
    use app::contract::{Message, Payload, Topic};

    async fn replayed(start: Start) -> Vec<u64> {
        replayed_seqs(start).await
    }

    fn event(seq: u64) -> Arc<Event> {
        Arc::new(Event::durable(
            seq,
            Payload::Message(Message {
                id: 0,
                title: "t".into(),
                message: format!("m{seq}"),
                timestamp: "x".into(),
            }),
        ))
    }

    fn fanout(replay: usize) -> Arc<Fanout> {
        Fanout::new(Snapshot::default(), Vec::new(), replay, 16, Arc::default())
    }

    fn request(id: &str, state_stands_in: bool) -> SubscribeRequest<'_> {
        SubscribeRequest {
            topics: TopicSet::DASHBOARD,
            last_event_id: Some(id),
            state_stands_in,
        }
    }

    #[tokio::test]
    async fn a_replay_reads_the_ring_in_batches_up_to_the_cut() {
        let f = fanout(1000);
        f.commit(&(1..=200).map(event).collect::<Vec<_>>());
        let sub = f.subscribe(request("10", false));
        f.commit(&[event(201)]);
        assert_eq!(replayed(sub.start).await, (11..=200).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_replay_the_ring_outran_is_gone_not_silently_short() {
        let f = fanout(100);
        f.commit(&(1..=100).map(event).collect::<Vec<_>>());
        let Start::Resume(mut replay) = f.subscribe(request("1", false)).start else {
            panic!("a resume");
        };
        assert!(replay.next_batch().await.unwrap().is_some());
        f.commit(&(101..=300).map(event).collect::<Vec<_>>());
        assert!(matches!(replay.next_batch().await, Err(ReplayGone)));
    }

    #[tokio::test]
    async fn a_long_gap_in_a_state_stream_is_a_reset_and_a_short_one_replays() {
        let f = fanout(10_000);
        f.commit(&(1..=2_000).map(event).collect::<Vec<_>>());
        assert!(matches!(
            f.subscribe(request("5", true)).start,
            Start::Reset(_)
        ));
        assert!(matches!(
            f.subscribe(request("5", false)).start,
            Start::Resume(_)
        ));
        assert_eq!(
            replayed(f.subscribe(request("1990", true)).start)
                .await
                .len(),
            10
        );
    }

    /// A source that holds every id: what a broker's log is to a ring.
    struct Everything;

    impl ReplaySource for Everything {
        fn read(
            &self,
            after: u64,
            until: u64,
            _: TopicSet,
            max: usize,
        ) -> BoxFuture<'static, Result<Vec<Arc<Event>>, ReplayGone>> {
            let events = (after + 1..=until).take(max).map(event).collect();
            Box::pin(std::future::ready(Ok(events)))
        }
    }

    #[tokio::test]
    async fn a_resume_older_than_the_ring_reads_its_source_and_a_forgotten_ring_resets() {
        let f = fanout(10);
        f.commit(&(1..=30).map(event).collect::<Vec<_>>());
        assert_eq!(f.bounds(), (20, 30));
        assert!(f.holds(25) && f.holds(30) && !f.holds(5));
        let sub = f.subscribe_after(5, TopicSet::DASHBOARD, Arc::new(Everything));
        assert_eq!(replayed(sub.start).await, (6..=30).collect::<Vec<_>>());
        f.forget();
        assert_eq!(f.bounds(), (30, 30));
        assert!(matches!(
            f.subscribe(request("25", false)).start,
            Start::Reset(_)
        ));
        assert!(matches!(f.subscribe_reset().start, Start::Reset(ref s) if s.seq == 30));
    }

    #[test]
    fn find_returns_the_newest_retained_match_and_nothing_once_trimmed() {
        let f = fanout(3);
        f.commit(&(1..=5).map(event).collect::<Vec<_>>());
        let text_is = |text: &'static str| move |e: &Event| matches!(&e.payload, Payload::Message(m) if m.message == text);
        assert_eq!(f.find(&text_is("m4")), Some(4));
        assert_eq!(f.find(&text_is("m1")), None, "out of the ring");
        assert_eq!(f.find(&|_| true), Some(5), "newest first");
    }

    #[tokio::test]
    async fn a_restart_replaces_state_and_ring_and_ends_every_live_feed() {
        let f = fanout(10);
        f.commit(&(1..=30).map(event).collect::<Vec<_>>());
        f.commit(&[Arc::new(Event::live(Payload::Viewers(3)))]);
        let mut before = f.subscribe(request("30", false)).live;

        // Act: the history starts over at 12, with 11 and 12 retained.
        let mut state = Snapshot {
            seq: 12,
            ..Snapshot::default()
        };
        state.apply(Some(12), &event(12).payload);
        f.restart(state, (11..=12).map(event).collect());

        // Assert: the feed it was on ends; the state, the ring and the viewer count are the new history's.
        assert!(matches!(
            before.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
        assert_eq!((f.last_seq(), f.bounds()), (12, (10, 12)));
        assert_eq!(f.snapshot().viewers, 3, "this process's viewers stay");
        assert!(!f.holds(30));
        let mut after = f.subscribe(request("11", false));
        assert_eq!(replayed(after.start).await, vec![12]);
        f.commit(&[event(13)]);
        assert_eq!(after.live.recv().await.unwrap().id, Some(13));
    }

    #[tokio::test]
    async fn ephemeral_events_go_live_and_into_the_state_but_not_into_the_ring() {
        let f = fanout(10);
        f.commit(&[event(1)]);
        let mut sub = f.subscribe(SubscribeRequest {
            topics: TopicSet::of(&[Topic::Viewers]),
            last_event_id: None,
            state_stands_in: false,
        });
        f.commit(&[Arc::new(Event::live(Payload::Viewers(4)))]);
        assert_eq!(sub.live.try_recv().unwrap().id, None);
        assert_eq!(f.snapshot().viewers, 4);
        assert_eq!(f.last_seq(), 1, "no id was used");
        assert_eq!(
            replayed(f.subscribe(request("0", false)).start).await,
            vec![1]
        );
    }
}
