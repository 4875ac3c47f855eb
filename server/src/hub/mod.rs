//! The hub: topics, hub-wide sequence ids, replay and fan-out, and durability.
//!
//! Routes and background tasks talk to [`Hub`] only, and the hub to one [`Backend`]: the single door to ids,
//! fan-out, replay and durability. [`MemoryBackend`] is the embedded one (ids assigned in this process, events
//! made durable by a [`Journal`] before anyone sees them, or kept in memory only); a broker-backed backend plugs
//! in behind the same trait without any route or stream knowing.
//!
//! The pieces: [`fanout`] keeps the committed state, the replay ring and the live feed (any backend feeds it in
//! id order); [`memory`] assigns ids and holds the state read-modify-write updates start from; [`journal`] is the
//! group-committing writer thread in front of a [`Journal`] (the store implements it); [`redis`] is the broker
//! backend that lets several instances share one log.

mod fanout;
mod journal;
mod memory;
pub mod redis;

pub use fanout::{Fanout, Replay, ReplayGone, ReplaySource};
pub use journal::{Journal, OpenJournal, Trimmed};
pub use memory::{Durability, MemoryBackend, Restored};
pub use redis::{RedisBackend, RedisOptions, RedisShared};

use crate::event::Event;
use crate::metrics::Metrics;
use app::contract::{Payload, Published, Seq, Snapshot, TopicSet};
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// A publish in flight: resolves to the event once it is committed (durable, when the backend keeps a journal,
/// and delivered).
pub type Publish = BoxFuture<'static, Result<Arc<Event>, HubError>>;

/// An update in flight: `Ok(None)` when the change chose to publish nothing.
pub type Update = BoxFuture<'static, Result<Option<Arc<Event>>, HubError>>;

/// A read-modify-write change: derives the payload to publish from the latest accepted state (or nothing). A
/// backend may call it more than once (when a concurrent change won a race), always with fresh state.
pub type Change = Box<dyn FnMut(&Snapshot) -> Option<Payload> + Send>;

/// Why a publish did not take. Nothing of it was applied or delivered — except after [`HubError::Unknown`],
/// which says exactly that it cannot say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// The store refused or failed the write (or an earlier write it depended on failed).
    #[error("the event could not be stored: {0}")]
    Storage(String),
    /// The store or broker is not accepting writes right now (down, restarting, or not answering in time).
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    /// The disk is below its free-space floor: writes are refused before it fills up.
    #[error("the disk is nearly full ({free_bytes} bytes free, floor {floor_bytes})")]
    DiskFull { free_bytes: u64, floor_bytes: u64 },
    /// The broker did not answer, nor afterwards say whether it took the write, within the write timeout: it
    /// may or may not have been applied (never answered as a refusal, which would invite a duplicate).
    #[error("whether the write was applied is unknown: {0}")]
    Unknown(String),
}

/// How a subscription starts, decided atomically with joining the live feed so nothing falls in between.
#[derive(Debug)]
pub enum Start {
    /// No `Last-Event-ID`: begin from the current state.
    Fresh(Snapshot),
    /// Resuming: the missed events (read on demand, already filtered to the topics) come first, then live ones.
    Resume(Replay),
    /// The id was unusable (too old, from the future, or not a number), or the gap is bigger than the state
    /// itself: start over from this state.
    Reset(Snapshot),
}

/// What a subscriber asks for.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeRequest<'a> {
    pub topics: TopicSet,
    /// The client's `Last-Event-ID`, as sent.
    pub last_event_id: Option<&'a str>,
    /// The stream can stand in a snapshot for history (its topics are state, not a feed): a replay longer than
    /// the snapshot is answered with a `reset` and the snapshot instead.
    pub state_stands_in: bool,
}

/// A subscriber's handle: where to start, then the live feed.
pub struct Subscription {
    pub start: Start,
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// The backend's own account of its health, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    /// Writes are being accepted.
    pub ok: bool,
    /// `memory`, `sqlite`, or a broker's name.
    pub backend: &'static str,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The id of the newest committed event.
    pub last_seq: Seq,
    /// The broker's side, when the backend has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<BrokerHealth>,
}

/// A broker as one instance sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BrokerHealth {
    /// Both the write connection and the tail are up.
    pub connected: bool,
    /// How far behind the broker's log this instance's delivery ran on the last read, in milliseconds (0 when
    /// it was caught up).
    pub tail_lag_ms: u64,
    /// The newest id this instance has seen in the broker's log.
    pub last_id: u64,
}

/// What a hub implementation provides: the one door to ids, fan-out, replay and durability.
pub trait Backend: Send + Sync + 'static {
    /// Assigns the next sequence id (ephemeral topics get none) and commits the event; the future resolves once
    /// it is committed: retained, in the snapshot, fanned out, and durable when the backend keeps a journal.
    /// Dropping the future does not cancel the publish.
    fn publish(&self, payload: Payload) -> Publish;
    /// Publishes what `change` derives from the current state such that no concurrent change is lost (flip one
    /// device of a room while another flips a second).
    fn update(&self, change: Change) -> Update;
    /// Joins the live feed and works out the start for the request, atomically with respect to publish.
    fn subscribe(&self, request: SubscribeRequest<'_>) -> BoxFuture<'static, Subscription>;
    /// The committed state.
    fn snapshot(&self) -> Snapshot;
    fn health(&self) -> Health;
    /// The id of the newest event retained for replay that passes `test` (how an id a client chose, such as a
    /// Mercure publisher's, is turned back into the sequence id to resume from).
    fn find_retained(&self, test: &dyn Fn(&Event) -> bool) -> Option<Seq>;
    /// The ids this hub replays from without a reset: every event after the first up to the second.
    fn replayable(&self) -> (Seq, Seq);
}

/// A typed write, committed: the value as published (given its event id, when it names it) and that id.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed<T> {
    pub seq: Seq,
    pub value: T,
}

impl<T: Published> Committed<T> {
    /// The value `event` committed. [`Published`] types are durable topics' payloads, so their events always
    /// have an id; one without is refused here, in one place, rather than guessed at in every route.
    fn new(event: &Event, value: T) -> Result<Self, HubError> {
        let seq = event.id.ok_or_else(|| {
            HubError::Storage(format!(
                "a {} event came back without an id; durable topics always have one",
                event.topic
            ))
        })?;
        Ok(Committed {
            seq,
            value: value.with_event_id(seq),
        })
    }
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

    /// Publishes `payload` (see [`Backend::publish`]); awaiting the future is how a write route answers only once
    /// its event is committed.
    pub fn publish(&self, payload: Payload) -> Publish {
        self.metrics.events_published.inc();
        self.backend.publish(payload)
    }

    /// Publishes `value` and answers with it as committed: the typed form of [`Hub::publish`] for a write that
    /// tells its client what it became.
    pub fn publish_as<T: Published>(
        &self,
        value: T,
    ) -> impl Future<Output = Result<Committed<T>, HubError>> + Send + 'static {
        let pending = self.publish(value.clone().into());
        async move {
            let event = pending.await?;
            Committed::new(&event, value)
        }
    }

    /// Publishes what `change` derives from the latest accepted state and answers with it as committed, or
    /// with `None` when the change chose to publish nothing: the typed form of [`Hub::update`].
    pub fn update_as<T: Published>(
        &self,
        mut change: impl FnMut(&Snapshot) -> Option<T> + Send + 'static,
    ) -> impl Future<Output = Result<Option<Committed<T>>, HubError>> + Send + 'static {
        // The backend may derive the change more than once (a concurrent change won a race); what it published
        // is what the last derivation made.
        let derived: Arc<Mutex<Option<T>>> = Arc::default();
        let keep = Arc::clone(&derived);
        let pending = self.update(move |snapshot| {
            let value = change(snapshot);
            *keep.lock().unwrap_or_else(|e| e.into_inner()) = value.clone();
            value.map(Into::into)
        });
        async move {
            let Some(event) = pending.await? else {
                return Ok(None);
            };
            let value = derived.lock().unwrap_or_else(|e| e.into_inner()).take();
            value.map(|value| Committed::new(&event, value)).transpose()
        }
    }

    /// Publishes what `change` derives from the latest accepted state (see [`Backend::update`]).
    pub fn update(
        &self,
        change: impl FnMut(&Snapshot) -> Option<Payload> + Send + 'static,
    ) -> Update {
        let metrics = Arc::clone(&self.metrics);
        let pending = self.backend.update(Box::new(change));
        Box::pin(async move {
            let event = pending.await?;
            if event.is_some() {
                metrics.events_published.inc();
            }
            Ok(event)
        })
    }

    pub async fn subscribe(&self, request: SubscribeRequest<'_>) -> Subscription {
        self.backend.subscribe(request).await
    }

    pub fn snapshot(&self) -> Snapshot {
        self.backend.snapshot()
    }

    pub fn health(&self) -> Health {
        self.backend.health()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// See [`Backend::find_retained`].
    pub fn find_retained(&self, test: &dyn Fn(&Event) -> bool) -> Option<Seq> {
        self.backend.find_retained(test)
    }

    /// See [`Backend::replayable`].
    pub fn replayable(&self) -> (Seq, Seq) {
        self.backend.replayable()
    }
}

/// A message whose id and text follow `id` (for tests of the hub and of what stores its events).
#[cfg(test)]
pub(crate) fn numbered_message(id: Seq) -> app::contract::Payload {
    app::contract::Payload::Message(app::contract::Message {
        id,
        title: "t".into(),
        message: format!("m{id}"),
        timestamp: "2026-11-22T00:00:00.000Z".into(),
    })
}

/// The ids a start replays, read to the end (for tests of any backend).
#[cfg(test)]
pub(crate) async fn replayed(start: Start) -> Vec<u64> {
    let Start::Resume(mut replay) = start else {
        panic!("expected a resume, got {start:?}");
    };
    let mut seqs = Vec::new();
    while let Some(batch) = replay.next_batch().await.unwrap_or_else(|e| panic!("{e}")) {
        seqs.extend(batch.iter().filter_map(|e| e.id));
    }
    seqs
}
