//! The hub: topics, hub-wide sequence ids, a bounded replay buffer and fan-out to subscribers.
//!
//! Routes talk to [`Hub`] only. Behind it sits a [`Backend`]: today [`MemoryBackend`] in this process; a shared
//! broker (Redis) can take over fan-out, ids and replay later by implementing the same trait, with no route
//! touched.
//!
//! Every event is framed once, at publish time, into shared [`Bytes`]; a delivery is a reference-count bump.

mod memory;
mod metrics;

pub use memory::MemoryBackend;
pub use metrics::Metrics;

use app::contract::{Payload, Snapshot, Topic, TopicSet};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A publish in flight: resolves to the event once it is committed (durable, when the hub has a journal).
pub type Publish = Pin<Box<dyn Future<Output = Result<Arc<Event>, HubError>> + Send>>;

/// Why a publish did not take.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    #[error("could not store the event: {0}")]
    Storage(String),
}

/// One published event, framed once for every way a route may present it.
#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    pub topic: Topic,
    pub payload: Payload,
    /// `id`, `event: <topic>`, `data`: the multiplexed stream's form.
    pub named: Bytes,
    /// `id`, `data` only: for the tutorial routes whose clients listen to `onmessage`.
    pub unnamed: Bytes,
    /// A route-specific name (jobs: `progress` / `done`), when the topic has one.
    pub alt: Option<Bytes>,
}

/// How a subscription starts, decided atomically with joining the live feed so nothing falls in between.
#[derive(Debug)]
pub enum Start {
    /// No `Last-Event-ID`: begin from the current state.
    Fresh(Snapshot),
    /// Resuming: these retained events (already filtered to the topics) come first, then live ones.
    Resume(Vec<Arc<Event>>),
    /// The id was unusable (too old, from the future, or not a number): start over from this state.
    Reset(Snapshot),
}

/// A subscriber's handle: where to start, then the live feed.
pub struct Subscription {
    pub start: Start,
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// What a hub implementation must provide.
pub trait Backend: Send + Sync + 'static {
    /// Assigns the next sequence id and queues the event; the returned future resolves once it is committed
    /// (retained, in the snapshot, fanned out — and durable when the backend keeps a journal).
    fn publish(&self, payload: Payload) -> Publish;
    /// Joins the live feed and works out the start for `last_event_id`, atomically with respect to publish.
    fn subscribe(&self, topics: TopicSet, last_event_id: Option<&str>) -> Subscription;
    /// Publishes what `change` derives from the current state, under the same lock, so a read-modify-write
    /// (flip one device of a room) cannot lose a concurrent change. `None` publishes nothing.
    fn update(&self, change: &mut dyn FnMut(&Snapshot) -> Option<Payload>) -> Option<Publish>;
    /// The committed state.
    fn snapshot(&self) -> Snapshot;
}

/// The routes' view of the hub: cheap to clone.
#[derive(Clone)]
pub struct Hub {
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
}

impl Hub {
    pub fn new(backend: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Self {
        Hub { backend, metrics }
    }

    /// An in-process hub retaining `replay` events, with up to `queue` events in flight per subscriber, that
    /// keeps nothing on disk.
    pub fn in_memory(replay: usize, queue: usize, metrics: Arc<Metrics>) -> Self {
        let backend = MemoryBackend::new(replay, queue, metrics.clone());
        Hub::new(Arc::new(backend), metrics)
    }

    /// The embedded default: an in-process hub whose events are made durable in the store under `data_dir`
    /// (group-committed) before anyone sees them, starting from what the store holds. Returns the stored jobs
    /// too, for the job registry.
    pub fn durable(
        data_dir: &std::path::Path,
        replay: usize,
        queue: usize,
        retention: crate::store::Retention,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<(Self, Vec<app::contract::JobUpdate>)> {
        let store = crate::store::Store::open(data_dir)?;
        let restored = store.restore(replay)?;
        let jobs = store.jobs()?;
        let (journal, pending) = crate::store::journal::channel(store, retention);
        let backend = MemoryBackend::durable(replay, queue, metrics.clone(), journal, restored);
        let backend = Arc::new(backend);
        pending.start(Arc::downgrade(&backend), backend.snapshot())?;
        Ok((Hub::new(backend, metrics), jobs))
    }

    /// Publishes `payload` now — its id is assigned before this returns — and gives a future that resolves once
    /// the event is committed (durable and delivered). Dropping the future does not cancel the publish; awaiting
    /// it is how a write route answers only after durability.
    pub fn publish(&self, payload: Payload) -> Publish {
        self.metrics.events_published.inc();
        self.backend.publish(payload)
    }

    /// Publishes what `change` derives from the latest accepted state (see [`Backend::update`]), now; the
    /// future resolves once it is committed. `Ok(None)`: `change` chose to publish nothing.
    pub fn update(
        &self,
        mut change: impl FnMut(&Snapshot) -> Option<Payload>,
    ) -> impl Future<Output = Result<Option<Arc<Event>>, HubError>> + Send + 'static {
        let pending = self.backend.update(&mut change);
        if pending.is_some() {
            self.metrics.events_published.inc();
        }
        async move {
            match pending {
                Some(pending) => pending.await.map(Some),
                None => Ok(None),
            }
        }
    }

    pub fn subscribe(&self, topics: TopicSet, last_event_id: Option<&str>) -> Subscription {
        self.backend.subscribe(topics, last_event_id)
    }

    pub fn snapshot(&self) -> Snapshot {
        self.backend.snapshot()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
