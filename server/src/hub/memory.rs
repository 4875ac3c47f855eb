//! The in-process backend: ids assigned in this process, the accepted state read-modify-write updates start
//! from, and — when durable — the journal writer in front of the fan-out.
//!
//! Two states: *accepted* (every event given an id, durable or not yet) is what an update derives its change
//! from, so two quick flips of different devices of one room both count; *committed* (in [`Fanout`]) is what
//! subscribers see, and only holds events that are durable. When a write fails, accepted goes back to committed
//! (a new epoch, see [`super::journal`]).
//!
//! Lock order: the sequencer's lock, then the fan-out's. Without a journal an event is committed under the
//! sequencer's lock, so ids reach the fan-out in order; with one, the writer thread commits them in order.

use super::journal::{Claim, Committer, JournalWriter, Queued};
use super::{
    Backend, Change, Fanout, Health, HubError, Journal, OpenJournal, Publish, SubscribeRequest,
    Subscription, Update,
};
use crate::clock::clock_seed;
use crate::event::Event;
use crate::metrics::Metrics;
use app::contract::{Payload, Seq, Snapshot};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// What start-up read back from storage.
#[derive(Debug, Default)]
pub struct Restored {
    /// The state as of `snapshot.seq`, if anything was ever committed.
    pub snapshot: Option<Snapshot>,
    /// The newest retained events, oldest first, for the replay ring.
    pub events: Vec<(Seq, Payload)>,
    /// The highest sequence id ever committed (0 for a new store).
    pub max_seq: Seq,
}

/// A journal and how the backend treats it.
pub struct Durability {
    pub journal: Box<dyn Journal>,
    /// Opens the journal again if its writer crashes.
    pub reopen: OpenJournal,
    /// Writes are refused (507) while the journal's disk has less free space than this.
    pub free_floor_bytes: u64,
    /// How long a publisher waits for its event to be taken by the writer before it is told 503 (and the event is
    /// dropped, unwritten). Once the writer has it, the publisher waits for the outcome.
    pub publish_timeout: Duration,
}

pub struct MemoryBackend {
    core: Arc<MemoryCore>,
}

struct MemoryCore {
    sequencer: Mutex<Sequencer>,
    fanout: Arc<Fanout>,
    writer: Option<Sender<Queued>>,
    epoch: AtomicU64,
    /// Why writes are refused, when they are.
    down: Mutex<Option<String>>,
    /// The journal disk's free bytes as last seen (`u64::MAX`: unknown or no journal).
    free_bytes: AtomicU64,
    free_floor_bytes: u64,
    publish_timeout: Duration,
    kind: &'static str,
}

struct Sequencer {
    next_seq: Seq,
    /// Every accepted event folded in, durable or not: what a read-modify-write starts from.
    accepted: Snapshot,
}

/// An accepted event: committed already, or on its way through the journal.
enum Accepted {
    Done(Result<Arc<Event>, HubError>),
    Queued {
        done: oneshot::Receiver<Result<Arc<Event>, HubError>>,
        claim: Arc<Claim>,
    },
}

impl MemoryBackend {
    /// A backend that keeps nothing on disk, starting empty.
    pub fn new(replay: usize, queue: usize, metrics: Arc<Metrics>) -> Self {
        Self::build(Restored::default(), replay, queue, metrics, None, "memory")
    }

    /// A backend whose events are made durable by `durability` before delivery, starting from what it held.
    pub fn durable(
        restored: Restored,
        replay: usize,
        queue: usize,
        metrics: Arc<Metrics>,
        durability: Durability,
    ) -> anyhow::Result<Self> {
        let Durability {
            journal,
            reopen,
            free_floor_bytes,
            publish_timeout,
        } = durability;
        let (tx, rx) = std::sync::mpsc::channel();
        let mut backend = Self::build(restored, replay, queue, metrics, Some(tx), "sqlite");
        let core = Arc::get_mut(&mut backend.core)
            .ok_or_else(|| anyhow::anyhow!("a new backend's core is not shared yet"))?;
        core.free_floor_bytes = free_floor_bytes;
        core.publish_timeout = publish_timeout;
        let core: Arc<dyn Committer> = backend.core.clone();
        let writer = JournalWriter {
            rx,
            journal,
            reopen,
            committer: Arc::downgrade(&core),
            durable: backend.core.fanout.snapshot(),
        };
        drop(core);
        writer.spawn()?;
        Ok(backend)
    }

    fn build(
        restored: Restored,
        replay: usize,
        queue: usize,
        metrics: Arc<Metrics>,
        writer: Option<Sender<Queued>>,
        kind: &'static str,
    ) -> Self {
        // Ids continue after the store's highest, and never fall behind the clock seed.
        let next_seq = (restored.max_seq + 1).max(clock_seed());
        let mut snapshot = restored.snapshot.unwrap_or_default();
        // Viewers are connections of this process: none yet. The snapshot stands at the id just before the next
        // one, so a client holding it resumes cleanly whether or not ids jumped at this start.
        snapshot.viewers = 0;
        snapshot.seq = next_seq - 1;
        let events = restored
            .events
            .into_iter()
            .map(|(seq, payload)| Arc::new(Event::durable(seq, payload)))
            .collect();
        let fanout = Fanout::new(snapshot.clone(), events, replay, queue, metrics);
        MemoryBackend {
            core: Arc::new(MemoryCore {
                sequencer: Mutex::new(Sequencer {
                    next_seq,
                    accepted: snapshot,
                }),
                fanout,
                writer,
                epoch: AtomicU64::new(0),
                down: Mutex::new(None),
                free_bytes: AtomicU64::new(u64::MAX),
                free_floor_bytes: 0,
                publish_timeout: Duration::from_secs(10),
                kind,
            }),
        }
    }
}

impl MemoryCore {
    fn sequencer(&self) -> MutexGuard<'_, Sequencer> {
        // Every step under this lock is a plain field update: recover rather than poison every write.
        self.sequencer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Why a write would be refused right now, if it would.
    fn refusal(&self) -> Option<HubError> {
        if let Some(reason) = self.down() {
            return Some(HubError::Unavailable(reason));
        }
        let free = self.free_bytes.load(Ordering::Relaxed);
        (free < self.free_floor_bytes).then_some(HubError::DiskFull {
            free_bytes: free,
            floor_bytes: self.free_floor_bytes,
        })
    }

    /// Gives `payload` its id and commits it, or queues it for the journal; under the sequencer's lock.
    fn accept(&self, seq: &mut Sequencer, payload: Payload) -> Accepted {
        if payload.topic().is_ephemeral() {
            // Live only: no id, nothing to store; delivered now, in order with what is committed.
            let event = Arc::new(Event::live(payload));
            seq.accepted.apply(None, &event.payload);
            self.fanout.commit(std::slice::from_ref(&event));
            return Accepted::Done(Ok(event));
        }
        if let Some(refusal) = self.refusal() {
            return Accepted::Done(Err(refusal));
        }
        let id = seq.next_seq;
        seq.next_seq += 1;
        let event = Arc::new(Event::durable(id, payload));
        let Some(writer) = &self.writer else {
            seq.accepted.apply(Some(id), &event.payload);
            self.fanout.commit(std::slice::from_ref(&event));
            return Accepted::Done(Ok(event));
        };
        let (done, rx) = oneshot::channel();
        let claim = Arc::new(Claim::default());
        let queued = Queued {
            event: Arc::clone(&event),
            epoch: self.epoch.load(Ordering::Acquire),
            claim: Arc::clone(&claim),
            done,
        };
        if writer.send(queued).is_err() {
            tracing::error!(id, "the journal writer is gone; event not stored");
            return Accepted::Done(Err(HubError::Unavailable(
                "the journal writer stopped".into(),
            )));
        }
        // Only once it is on its way: a refused event must not leave a trace in the accepted state.
        seq.accepted.apply(Some(id), &event.payload);
        Accepted::Queued { done: rx, claim }
    }

    /// Waits for an accepted event's outcome, giving up (and dropping the event unwritten) if the writer has not
    /// taken it within the publish timeout.
    async fn settle(timeout: Duration, accepted: Accepted) -> Result<Arc<Event>, HubError> {
        let (mut done, claim) = match accepted {
            Accepted::Done(result) => return result,
            Accepted::Queued { done, claim } => (done, claim),
        };
        let gone = || HubError::Unavailable("the journal writer stopped".into());
        match tokio::time::timeout(timeout, &mut done).await {
            Ok(outcome) => outcome.unwrap_or_else(|_| Err(gone())),
            Err(_) if claim.abandon() => Err(HubError::Unavailable(format!(
                "the store did not take the write within {timeout:?}; it was not applied"
            ))),
            // The writer has it: the disk decides, and the answer must say what it decided.
            Err(_) => done.await.unwrap_or_else(|_| Err(gone())),
        }
    }
}

impl Committer for MemoryCore {
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn committed(&self, batch: &[Arc<Event>]) {
        self.fanout.commit(batch);
    }

    fn failed(&self) {
        let mut seq = self.sequencer();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut durable = self.fanout.snapshot();
        // The committed state's viewer count is as current as the accepted one (ephemeral events go straight
        // through); keep the accepted side's id counter.
        durable.viewers = seq.accepted.viewers;
        seq.accepted = durable;
    }

    fn set_down(&self, reason: Option<String>) {
        *self.down.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    fn set_free_bytes(&self, free: Option<u64>) {
        self.free_bytes
            .store(free.unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl Backend for MemoryBackend {
    fn publish(&self, payload: Payload) -> Publish {
        let accepted = {
            let mut seq = self.core.sequencer();
            self.core.accept(&mut seq, payload)
        };
        Box::pin(MemoryCore::settle(self.core.publish_timeout, accepted))
    }

    fn update(&self, mut change: Change) -> Update {
        let accepted = {
            let mut seq = self.core.sequencer();
            match change(&seq.accepted) {
                Some(payload) => self.core.accept(&mut seq, payload),
                None => return Box::pin(std::future::ready(Ok(None))),
            }
        };
        let timeout = self.core.publish_timeout;
        Box::pin(async move { MemoryCore::settle(timeout, accepted).await.map(Some) })
    }

    fn subscribe(&self, request: SubscribeRequest<'_>) -> BoxFuture<'static, Subscription> {
        let subscription = self.core.fanout.subscribe(request);
        Box::pin(std::future::ready(subscription))
    }

    fn snapshot(&self) -> Snapshot {
        self.core.fanout.snapshot()
    }

    fn health(&self) -> Health {
        let problem = self.core.refusal().map(|e| e.to_string());
        Health {
            ok: problem.is_none(),
            backend: self.core.kind,
            problem,
            last_seq: self.core.fanout.last_seq(),
            broker: None,
        }
    }

    fn find_retained(&self, test: &dyn Fn(&Event) -> bool) -> Option<Seq> {
        self.core.fanout.find(test)
    }

    fn replayable(&self) -> (Seq, Seq) {
        self.core.fanout.bounds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Start, Trimmed};
    use app::contract::{Device, DeviceState, Message, Room, Temperature, Topic, TopicSet};
    use futures::FutureExt;
    use std::sync::atomic::AtomicUsize;

    fn backend(replay: usize) -> MemoryBackend {
        MemoryBackend::new(replay, 16, Arc::new(Metrics::default()))
    }

    fn message(text: &str) -> Payload {
        Payload::Message(Message {
            id: 0,
            title: "t".into(),
            message: text.into(),
            timestamp: "x".into(),
        })
    }

    fn reading(temperature: f64) -> Payload {
        Payload::Temperature(Temperature {
            temperature,
            updated_at: "x".into(),
        })
    }

    async fn publish(hub: &MemoryBackend, payload: Payload) -> Arc<Event> {
        hub.publish(payload).await.unwrap()
    }

    fn subscribe(hub: &MemoryBackend, topics: TopicSet, id: Option<&str>) -> Subscription {
        hub.subscribe(SubscribeRequest {
            topics,
            last_event_id: id,
            state_stands_in: false,
        })
        .now_or_never()
        .expect("the in-process backend answers at once")
    }

    async fn seqs(start: Start) -> Vec<u64> {
        crate::hub::replayed(start).await
    }

    /// The messages' texts in a snapshot, newest first.
    fn message_texts(snapshot: &Snapshot) -> Vec<String> {
        snapshot
            .messages
            .iter()
            .map(|m| m.message.clone())
            .collect()
    }
    #[tokio::test]
    async fn resume_replays_exactly_what_came_after_the_id_for_the_topics() {
        let hub = backend(100);
        let a = publish(&hub, message("a")).await.id.unwrap();
        let b = publish(&hub, message("b")).await.id.unwrap();
        let c = publish(&hub, reading(20.0)).await.id.unwrap();
        let d = publish(&hub, message("d")).await.id.unwrap();
        assert_eq!(
            [b, c, d],
            [a + 1, a + 2, a + 3],
            "ids are strictly increasing"
        );
        let sub = subscribe(&hub, TopicSet::of(&[Topic::Message]), Some(&a.to_string()));
        assert_eq!(seqs(sub.start).await, vec![b, d]);
        let sub = subscribe(&hub, TopicSet::DASHBOARD, Some(&d.to_string()));
        assert_eq!(seqs(sub.start).await, Vec::<u64>::new());
    }

    #[tokio::test]
    async fn old_future_and_garbage_ids_reset() {
        let hub = backend(2);
        let first = publish(&hub, message("1")).await.id.unwrap();
        for n in 2..=4 {
            publish(&hub, message(&n.to_string())).await;
        }
        for id in [
            first.to_string(),
            (first + 100).to_string(),
            "abc".to_owned(),
            "0".to_owned(),
        ] {
            let sub = subscribe(&hub, TopicSet::DASHBOARD, Some(&id));
            assert!(
                matches!(sub.start, Start::Reset(ref s) if s.messages.len() == 4),
                "id {id} must reset"
            );
        }
        // The oldest id still answerable is the one just before the ring's first event.
        let sub = subscribe(&hub, TopicSet::DASHBOARD, Some(&(first + 1).to_string()));
        assert_eq!(seqs(sub.start).await, vec![first + 2, first + 3]);
    }

    #[tokio::test]
    async fn fresh_subscribers_get_the_snapshot_then_only_later_events() {
        let hub = backend(10);
        publish(&hub, message("seven")).await;
        let mut sub = subscribe(&hub, TopicSet::DASHBOARD, None);
        let Start::Fresh(snapshot) = &sub.start else {
            panic!("expected fresh")
        };
        assert_eq!(snapshot.messages.len(), 1);
        let next = publish(&hub, message("eight")).await;
        let got = sub.live.try_recv().unwrap();
        assert_eq!(got.id.unwrap(), next.id.unwrap());
        assert_eq!(
            snapshot.seq + 1,
            next.id.unwrap(),
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
        let Start::Fresh(snapshot) = subscribe(&hub, TopicSet::DASHBOARD, None).start else {
            panic!()
        };
        let next = publish(&hub, message("1")).await;
        let sub = subscribe(&hub, TopicSet::DASHBOARD, Some(&snapshot.seq.to_string()));
        assert_eq!(seqs(sub.start).await, vec![next.id.unwrap()]);
    }

    #[tokio::test]
    async fn a_restored_hub_continues_ids_and_replays_across_the_jump() {
        let restored = Restored {
            snapshot: Some(Snapshot {
                seq: 12,
                viewers: 5,
                ..Snapshot::default()
            }),
            events: (10..=12)
                .map(|seq| (seq, message(&seq.to_string())))
                .collect(),
            max_seq: 12,
        };
        let hub = MemoryBackend::build(restored, 10, 16, Arc::default(), None, "memory");
        assert_eq!(
            hub.snapshot().viewers,
            0,
            "viewers restart from this process's connections"
        );
        let next = publish(&hub, message("new")).await;
        assert!(next.id.unwrap() > 12, "ids are never reused");
        let sub = subscribe(&hub, TopicSet::DASHBOARD, Some("10"));
        assert_eq!(
            seqs(sub.start).await,
            vec![11, 12, next.id.unwrap()],
            "no gap, no duplicate across the restart"
        );
        let sub = subscribe(&hub, TopicSet::DASHBOARD, Some("8"));
        assert!(
            matches!(sub.start, Start::Reset(_)),
            "older than the restored ring"
        );
    }

    #[tokio::test]
    async fn updates_see_the_accepted_state() {
        let hub = backend(10);
        let count = |s: &Snapshot| Some(message(&format!("after {}", s.messages.len())));
        hub.update(Box::new(count)).await.unwrap();
        hub.update(Box::new(count)).await.unwrap();
        let texts = message_texts(&hub.snapshot());
        assert_eq!(texts, ["after 1", "after 0"]);
        assert!(hub.update(Box::new(|_| None)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn ephemeral_topics_take_no_id() {
        let hub = backend(10);
        let before = publish(&hub, message("a")).await.id.unwrap();
        let viewers = publish(&hub, Payload::Viewers(3)).await;
        assert_eq!(viewers.id, None, "no id");
        assert_eq!(hub.snapshot().viewers, 3);
        assert_eq!(
            publish(&hub, message("b")).await.id.unwrap(),
            before + 1,
            "no id used up"
        );
    }

    /// A journal that fails the appends it is told to, and can be made to panic.
    #[derive(Clone, Default)]
    struct Faulty {
        /// Appends begun (counted before the gate is taken).
        entered: Arc<AtomicUsize>,
        appends: Arc<AtomicUsize>,
        fail_at: Arc<Mutex<Vec<usize>>>,
        panic_at: Arc<Mutex<Vec<usize>>>,
        stored: Arc<Mutex<Vec<Arc<Event>>>>,
        /// While closed, appends wait: a test closes it to pile up batches behind the one in flight.
        gate: Arc<Gate>,
    }

    #[derive(Default)]
    struct Gate {
        closed: Mutex<bool>,
        opened: std::sync::Condvar,
    }

    impl Gate {
        fn close(&self) {
            *self.closed.lock().unwrap() = true;
        }
        fn open(&self) {
            *self.closed.lock().unwrap() = false;
            self.opened.notify_all();
        }
        fn pass(&self) {
            let mut closed = self.closed.lock().unwrap();
            while *closed {
                closed = self.opened.wait(closed).unwrap();
            }
        }
    }

    impl Journal for Faulty {
        fn append(&mut self, batch: &[Arc<Event>], _: &Snapshot) -> anyhow::Result<()> {
            self.entered.fetch_add(1, Ordering::SeqCst);
            self.gate.pass();
            let n = self.appends.fetch_add(1, Ordering::SeqCst);
            if self.panic_at.lock().unwrap().contains(&n) {
                panic!("append {n} crashes, as a test asked");
            }
            if self.fail_at.lock().unwrap().contains(&n) {
                anyhow::bail!("append {n} fails, as a test asked");
            }
            self.stored.lock().unwrap().extend(batch.iter().cloned());
            Ok(())
        }
        fn trim(&mut self) -> anyhow::Result<Trimmed> {
            Ok(Trimmed::Done)
        }
        fn free_bytes(&self) -> Option<u64> {
            Some(1 << 40)
        }
    }

    /// Waits until the writer has begun `n` appends (and is, with the gate held, stuck in the last).
    async fn entered(journal: &Faulty, n: usize) {
        for _ in 0..500 {
            if journal.entered.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the writer never began append {n}");
    }

    fn durable(journal: &Faulty) -> MemoryBackend {
        durable_with(journal, 0, Duration::from_secs(5))
    }

    /// A backend on `journal` with this free-space floor and publish timeout.
    fn durable_with(
        journal: &Faulty,
        free_floor_bytes: u64,
        publish_timeout: Duration,
    ) -> MemoryBackend {
        let reopen = journal.clone();
        MemoryBackend::durable(
            Restored::default(),
            100,
            64,
            Arc::default(),
            Durability {
                journal: Box::new(journal.clone()),
                reopen: Box::new(move || Ok(Box::new(reopen.clone()) as Box<dyn Journal>)),
                free_floor_bytes,
                publish_timeout,
            },
        )
        .unwrap()
    }

    fn stored_seqs(journal: &Faulty) -> Vec<u64> {
        let stored = journal.stored.lock().unwrap();
        stored.iter().filter_map(|e| e.id).collect()
    }

    /// A change that counts: the entity's name becomes one more than the count it was derived from, so an
    /// event shows which state it was derived from.
    fn count_up() -> Change {
        Box::new(move |s: &Snapshot| {
            let id = Room::Kitchen.entity_id(Device::Lights);
            let seen: u64 = s.entity(&id).map_or(0, |e| e.name.parse().unwrap_or(0));
            let mut entity = Room::Kitchen.entity(Device::Lights, DeviceState::On, "t".into());
            entity.name = (seen + 1).to_string();
            Some(Payload::Entity(entity))
        })
    }

    fn count_of(event: &Event) -> u64 {
        let Payload::Entity(entity) = &event.payload else {
            panic!("{event:?}")
        };
        entity.name.parse().unwrap()
    }

    /// The reproduction from the hardening review: a failed batch, with later changes queued behind it that
    /// were derived from the failed one's state.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_never_leaks_into_later_writes_nor_undoes_acknowledged_ones() {
        let journal = Faulty::default();
        journal.fail_at.lock().unwrap().push(0);
        let hub = durable(&journal);
        // Hold the journal so U1 and U2 are accepted while U0's batch, alone, is being written (and fails).
        journal.gate.close();
        let u0 = hub.update(count_up());
        entered(&journal, 1).await;
        let u1 = hub.update(count_up());
        let u2 = hub.update(count_up());
        journal.gate.open();
        let results = [u0.await, u1.await, u2.await];
        // U0 failed; U1 and U2 were derived from state that included U0, so they must fail too (or, had they
        // been written, they would count U0's change that its client was told did not happen).
        assert!(results[0].is_err(), "{results:?}");
        let acked: Vec<&Arc<Event>> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().and_then(Option::as_ref))
            .collect();
        for (i, event) in acked.iter().enumerate() {
            assert_eq!(
                count_of(event),
                i as u64 + 1,
                "an acknowledged change must not count U0's refused one"
            );
        }
        // Whatever was acknowledged is what is stored and what subscribers see; a write after the failure
        // starts from that.
        let acked_ids: Vec<u64> = acked.iter().filter_map(|e| e.id).collect();
        assert_eq!(stored_seqs(&journal), acked_ids);
        let u3 = hub.update(count_up()).await.unwrap().unwrap();
        assert_eq!(count_of(&u3), acked.len() as u64 + 1);
        let id = Room::Kitchen.entity_id(Device::Lights);
        let Payload::Entity(entity) = &u3.payload else {
            panic!()
        };
        assert_eq!(hub.snapshot().entity(&id), Some(entity));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_fails_only_itself_and_what_was_queued_behind_it() {
        let journal = Faulty::default();
        journal.fail_at.lock().unwrap().push(1);
        let hub = durable(&journal);
        let first = hub.publish(message("first")).await;
        assert!(first.is_ok());
        journal.gate.close();
        let failing = hub.publish(message("fails"));
        entered(&journal, 2).await;
        let behind = hub.publish(message("behind"));
        journal.gate.open();
        assert!(failing.await.is_err());
        assert!(
            behind.await.is_err(),
            "queued behind a failure: failed, unwritten"
        );
        let after = hub.publish(message("after")).await.unwrap();
        let texts = message_texts(&hub.snapshot());
        assert_eq!(texts, ["after", "first"]);
        let stored: Vec<u64> = stored_seqs(&journal);
        assert_eq!(stored, vec![first.unwrap().id.unwrap(), after.id.unwrap()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashed_journal_writer_fails_its_batch_and_comes_back() {
        let journal = Faulty::default();
        journal.panic_at.lock().unwrap().push(0);
        let hub = durable(&journal);
        let crashed = tokio::time::timeout(Duration::from_secs(5), hub.publish(message("boom")))
            .await
            .expect("a crash is an answer, not a hang");
        assert!(
            matches!(crashed, Err(HubError::Unavailable(_))),
            "{crashed:?}"
        );
        // The writer is reopened: writes are taken again within its backoff.
        let mut taken = None;
        for _ in 0..50 {
            match hub.publish(message("again")).await {
                Ok(event) => {
                    taken = Some(event);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let taken = taken.expect("writes are accepted again after the restart");
        assert!(hub.health().ok);
        let stored: Vec<u64> = stored_seqs(&journal);
        assert_eq!(
            stored,
            vec![taken.id.unwrap()],
            "the crashed batch was not stored"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publish_waits_a_bounded_time_and_then_is_not_applied() {
        let journal = Faulty::default();
        let hub = durable_with(&journal, 0, Duration::from_millis(200));
        // The writer is stuck in an append (its batch: "stuck"); "waiting" sits in the queue behind it.
        journal.gate.close();
        let stuck = hub.publish(message("stuck"));
        entered(&journal, 1).await;
        let waiting = hub.publish(message("waiting"));
        let refused = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("bounded");
        assert!(
            matches!(refused, Err(HubError::Unavailable(_))),
            "{refused:?}"
        );
        journal.gate.open();
        // The one the writer had taken is decided by the disk, and answered as decided.
        let stuck = stuck.await.unwrap();
        let stored: Vec<u64> = stored_seqs(&journal);
        assert_eq!(
            stored,
            vec![stuck.id.unwrap()],
            "the abandoned write was not applied"
        );
        assert_eq!(hub.snapshot().messages.len(), 1);
    }

    /// A batch whose first event the writer took and whose second had been given up by its publisher: the
    /// first is stored and acknowledged, so what later changes derive from must include it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_write_never_drops_an_acknowledged_one_taken_before_it_in_its_batch() {
        let journal = Faulty::default();
        let hub = durable_with(&journal, 0, Duration::from_millis(200));
        // The writer is stuck on a first batch; U1 (its future not polled yet, so it cannot give up) and then
        // "abandoned" queue behind it, and "abandoned" gives up waiting.
        journal.gate.close();
        let stuck = hub.publish(message("stuck"));
        entered(&journal, 1).await;
        let u1 = hub.update(count_up());
        let abandoned = hub.publish(message("abandoned"));
        assert!(
            matches!(abandoned.await, Err(HubError::Unavailable(_))),
            "its publisher gave up"
        );

        // Act: the writer goes on; its next batch is U1 (taken) and "abandoned" (dropped).
        journal.gate.open();
        stuck.await.unwrap();
        entered(&journal, 2).await;
        let u1 = u1.await.unwrap().expect("U1 publishes");

        // Assert: U1 is stored and acknowledged, and the next change counts it.
        assert_eq!(count_of(&u1), 1);
        assert!(stored_seqs(&journal).contains(&u1.id.unwrap()));
        let u2 = hub.update(count_up()).await.unwrap().unwrap();
        assert_eq!(
            count_of(&u2),
            2,
            "the change after U1 is derived from a state that holds U1"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_refused_below_the_free_space_floor() {
        let journal = Faulty::default();
        // A floor above what the fake disk has free.
        let hub = durable_with(&journal, 1 << 41, Duration::from_secs(5));
        let mut refused = None;
        for _ in 0..50 {
            match hub.publish(message("m")).await {
                Err(e @ HubError::DiskFull { .. }) => {
                    refused = Some(e);
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        assert!(
            refused.is_some(),
            "the writer reports the free space within a second or so"
        );
        assert!(!hub.health().ok);
        let viewers = hub.publish(Payload::Viewers(2)).await;
        assert!(viewers.is_ok(), "live-only events need no disk");
    }
}
