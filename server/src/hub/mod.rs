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
use std::sync::Arc;
use tokio::sync::broadcast;

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
    /// Assigns the next sequence id, retains, updates the snapshot and fans out — atomically.
    fn publish(&self, payload: Payload) -> Arc<Event>;
    /// Joins the live feed and works out the start for `last_event_id`, atomically with respect to publish.
    fn subscribe(&self, topics: TopicSet, last_event_id: Option<&str>) -> Subscription;
    /// Publishes what `change` derives from the current state, under the same lock, so a read-modify-write
    /// (flip one device of a room) cannot lose a concurrent change. `None` publishes nothing.
    fn update(&self, change: &mut dyn FnMut(&Snapshot) -> Option<Payload>) -> Option<Arc<Event>>;
    /// The current state.
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

    /// An in-process hub retaining `replay` events, with up to `queue` events in flight per subscriber.
    pub fn in_memory(replay: usize, queue: usize, metrics: Arc<Metrics>) -> Self {
        Hub::new(
            Arc::new(MemoryBackend::new(replay, queue, metrics.clone())),
            metrics,
        )
    }

    pub fn publish(&self, payload: Payload) -> Arc<Event> {
        let event = self.backend.publish(payload);
        self.metrics.events_published.inc();
        event
    }

    pub fn update(
        &self,
        mut change: impl FnMut(&Snapshot) -> Option<Payload>,
    ) -> Option<Arc<Event>> {
        let event = self.backend.update(&mut change);
        if event.is_some() {
            self.metrics.events_published.inc();
        }
        event
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
