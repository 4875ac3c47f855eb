//! The Redis backend: several Hearth instances share one event log in Redis Streams, so a client may resume on
//! any instance with its `Last-Event-ID` and get exactly what it missed.
//!
//! How an event travels: a publish joins a batch; the batch is one Lua script call ([`scripts`]) that gives
//! each event the next id (`max(last + 1, floor + 1, clock)`: strictly increasing, never reused, even after
//! the broker lost its data) and appends it as stream entry `0-<id>`. With `appendfsync always` (checked at
//! start, [`guard`]) the broker replies only once the batch is on its disk. Every instance follows the log
//! ([`tail`]) and commits what it reads to its own [`Fanout`], in id order; the publisher's future resolves once
//! its event has come back through this instance's tail, so its answer and its subscribers agree. A
//! read-modify-write [`Backend::update`] derives its change from this instance's state and appends it only if
//! no newer event with its conflict key exists (compare-and-set in the same script); on a conflict it waits for
//! the tail to bring the newer event and derives the change again. The key is one entity's for an entity's
//! events and the topic's otherwise (`Payload::conflict_key`), so a change must derive from that entity's (or
//! topic's) state only — as Hearth's do (a device's new state from that device's) — and changes to different
//! devices never contend.
//!
//! Resume ([`Backend::subscribe`]): an id below what retention dropped of the stream's topics ([`marks`]) gets a
//! `reset` with the snapshot, on every instance; otherwise an id in the local ring replays from the ring; an
//! older one still in the log is read with `XRANGE` ([`replay`]) and stitched to the ring, if it lies within
//! reach (`--replay-size` entries of the log, at least [`MIN_REACH`]: a resume reads a bounded part of the log,
//! whoever asks); an id this instance has not tailed yet but the log has waits briefly for the tail; any other
//! id (beyond reach, garbage, from the future, lost by the broker) gets a `reset`.
//!
//! The state as of some id (the checkpoint) is kept in Redis too, written by every instance with
//! compare-and-set; retention trims the log by count and age but never past the checkpoint, so a new instance
//! loads the checkpoint, reads the log forward from it, then tails. When the broker lost everything, the
//! instances write their state back as the new data set's checkpoint. When the log went back under an instance
//! (a failover to a replica that missed the last entries), the instance notices (the tail), starts over from
//! the log's checkpoint and what follows it, ends its streams, and marks the ids it had seen as no longer
//! resumable: its clients get a `reset` rather than a history no instance has any more.
//!
//! When Redis cannot be reached, writes are refused at once (503) and streams stay open on what this instance
//! has; the tail and the command connection come back by themselves. A write whose reply is late or lost (the
//! broker stalled past the command deadline, or the connection broke after sending it) is settled before it is
//! answered: each batch leaves a record of its answer in Redis, which the instance reads back — or, finding
//! none, fences so that the batch is refused should it still arrive. So a 2xx carries the id the write was
//! stored under, and an error means it was not applied; only a broker silent for the whole write timeout gets
//! an answer (504) that says it cannot tell.
//!
//! Why the `redis` crate (redis-rs) and not `fred`: Hearth needs plain commands, scripts by hash and pipelining
//! on tokio — redis-rs does those with a small dependency tree, and its connection has the per-command response
//! deadline that lets writes fail fast. fred's strengths (its own reconnection policies, pools, client-side
//! caching, a typed API for every command) are things Hearth does not use or wants to control itself.

mod entry;
mod guard;
mod link;
mod marks;
mod replay;
mod scripts;
mod shared;
mod tail;

use super::{
    Backend, BrokerHealth, Change, Fanout, Health, HubError, Publish, ReplaySource, Start,
    SubscribeRequest, Subscription, Update,
};
use crate::clock::{clock_seed, now_ms};
use crate::event::Event;
use crate::metrics::Metrics;
use anyhow::Context;
use app::contract::{Payload, Seq, Snapshot, TopicSet, Window};
use entry::{from_range, Entry};
use futures::future::BoxFuture;
use link::Link;
use marks::Marks;
use rand::Rng;
use redis::Value;
use replay::LogReplay;
use scripts::{entry_id, CHECKPOINT, LOG, META, TRIMMED, VERSIONS};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use shared::RedisShared;

/// How long a write waits for a connection to the broker before it is refused.
const LINK_WAIT: Duration = Duration::from_millis(500);
/// Events in one publish script call at most.
const MAX_BATCH: usize = 512;
/// How long a resume waits for this instance's tail to reach an id the log already has.
const RESUME_WAIT: Duration = Duration::from_secs(3);
/// Entries read per round trip at start-up.
const RESTORE_COUNT: usize = 1000;
/// How often the checkpoint is written (when something changed) and retention runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);
/// Entries one retention step looks at.
const TRIM_STEP: usize = 1000;
/// A state-standing stream resuming from further back than the ring is sent the state instead when more than
/// this many entries lie between its id and the ring (as the ring itself does for long gaps).
const STANDS_IN_AFTER: usize = 1000;
/// How many entries of the log a resume may reach back at least, however small the ring (`--replay-size`):
/// what one request may make the broker and this instance read is bounded by the larger of the two.
pub const MIN_REACH: u64 = 1000;
/// How long a batch's record outlives the write timeout: its publisher reads it back within that timeout.
const RECORD_SLACK: Duration = Duration::from_secs(60);
/// How long a fence on a given-up batch is kept: longer than any copy of the batch could still be on its way
/// (TCP gives up retransmitting after about a quarter of an hour).
const FENCE_KEEP: Duration = Duration::from_secs(3600);
/// Waits between attempts to settle a batch whose reply was lost.
const SETTLE_RETRY: Duration = Duration::from_millis(200);

/// What the Redis backend needs to know.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Events kept in the local replay ring.
    pub replay: usize,
    /// Events a subscriber may fall behind.
    pub queue: usize,
    /// The log keeps at most this many entries (never trimming past the checkpoint).
    pub retain_events: u64,
    /// The log drops entries older than this (never past the checkpoint).
    pub retain_ms: i64,
    /// How long a publish waits to see its event come back through the tail before answering anyway (it is
    /// durable by then).
    pub publish_timeout: Duration,
}

/// The backend: the local fan-out fed by the tail, and the broker connection. Dropping it stops its tasks.
pub struct RedisBackend {
    core: Arc<RedisCore>,
    stop: CancellationToken,
}

/// What the backend's tasks share.
pub struct RedisCore {
    fanout: Arc<Fanout>,
    link: Arc<Link>,
    queue: mpsc::UnboundedSender<Pending>,
    /// The newest id committed to the local fan-out: publishers and resumes wait on it.
    delivered: watch::Sender<u64>,
    /// The highest id the broker assigned to this instance's publishes: the floor of the next batch.
    assigned: AtomicU64,
    /// The data set this instance follows.
    epoch: Mutex<String>,
    /// What retention dropped, and how far the log went back, as last read (a resume the ring could serve is
    /// checked against these, without a round trip).
    marks: Mutex<Marks>,
    tail: TailStatus,
    metrics: Arc<Metrics>,
    options: RedisOptions,
}

#[derive(Default)]
struct TailStatus {
    up: AtomicBool,
    lag_ms: AtomicU64,
    last_id: AtomicU64,
    problem: Mutex<Option<String>>,
}

/// One event waiting for its batch.
struct Pending {
    name: &'static str,
    data: String,
    conflict_key: String,
    window: Option<Window>,
    condition: Condition,
    done: oneshot::Sender<Result<Appended, HubError>>,
}

/// When the publish script appends an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    /// Only if no event of its topic is newer than this id: the id of the state the event was derived from
    /// (compare-and-set).
    Unchanged(Seq),
}

impl Condition {
    /// The script's argument: `-1` for always, else the id.
    fn arg(self) -> i64 {
        match self {
            Condition::Always => -1,
            Condition::Unchanged(seq) => i64::try_from(seq).unwrap_or(i64::MAX),
        }
    }
}

/// What the publish script did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Appended {
    /// Appended under this id.
    Stored(Seq),
    /// Not appended: an event of its topic newer than the state it was derived from exists, with this id.
    Conflict { newer: Seq },
}

impl Appended {
    /// Decodes the script's answer for one event: its id, or minus the id of the newer event that won.
    fn from_reply(n: i64) -> Appended {
        match u64::try_from(n) {
            Ok(seq) => Appended::Stored(seq),
            Err(_) => Appended::Conflict {
                newer: n.unsigned_abs(),
            },
        }
    }
}

/// A fresh random epoch: the identity of a data set the broker has just started.
fn fresh_epoch() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

impl RedisBackend {
    /// Connects to the broker, refuses it if it could lose acknowledged writes, loads the checkpoint and reads
    /// the log forward from it, then starts following it. Blocking (start-up only); needs a tokio runtime for
    /// the tasks it starts. Also returns the handle on what instances share besides the log.
    pub fn open(
        options: RedisOptions,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<(Self, RedisShared)> {
        let runtime = tokio::runtime::Handle::try_current()
            .context("the Redis backend starts its tasks on tokio")?;
        let client = redis::Client::open(options.url.as_str())
            .context("--redis-url is not a valid Redis URL (redis://host:port)")?;
        let restored = restore(&client, options.replay)
            .context("cannot start on Redis (is it running, and reachable at --redis-url?)")?;
        let cursor = restored.snapshot.seq;
        let ordinal = restored.ordinal;
        tracing::info!(
            seq = cursor,
            replay = restored.ring.len(),
            "restored from Redis: checkpoint and log read"
        );
        let fanout = Fanout::new(
            restored.snapshot,
            restored.ring,
            options.replay,
            options.queue,
            metrics.clone(),
        );
        let link = Link::new(client);
        let (queue, batches) = mpsc::unbounded_channel();
        metrics.broker.enabled.store(true, Ordering::Relaxed);
        metrics.broker.last_id.store(cursor, Ordering::Relaxed);
        let core = Arc::new(RedisCore {
            fanout,
            link: Arc::clone(&link),
            queue,
            delivered: watch::Sender::new(cursor),
            assigned: AtomicU64::new(cursor),
            epoch: Mutex::new(restored.epoch),
            marks: Mutex::new(restored.marks),
            tail: TailStatus::default(),
            metrics,
            options,
        });
        let stop = CancellationToken::new();
        runtime.spawn(Arc::clone(&link).run(stop.clone()));
        runtime.spawn(tail::run(Arc::clone(&core), cursor, ordinal, stop.clone()));
        runtime.spawn(commit_batches(Arc::clone(&core), batches, stop.clone()));
        runtime.spawn(housekeeping(Arc::clone(&core), stop.clone()));
        Ok((RedisBackend { core, stop }, RedisShared::new(link)))
    }
}

impl Drop for RedisBackend {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl RedisCore {
    fn epoch(&self) -> MutexGuard<'_, String> {
        self.epoch.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn marks(&self) -> MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tail_up(&self) {
        self.tail.up.store(true, Ordering::Relaxed);
        *self.tail.problem.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.metrics.broker.connected.store(1, Ordering::Relaxed);
    }

    fn tail_down(&self, why: &str) {
        if self.tail.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                "the tail lost Redis; streams stay open on what is here"
            );
        }
        *self.tail.problem.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
        self.metrics.broker.connected.store(0, Ordering::Relaxed);
    }

    fn source(self: &Arc<Self>) -> Arc<dyn ReplaySource> {
        Arc::new(LogReplay {
            fanout: Arc::clone(&self.fanout),
            link: Arc::clone(&self.link),
            epoch: Arc::from(self.epoch().as_str()),
        })
    }

    /// How many entries of the log a resume may reach back.
    fn reach(&self) -> u64 {
        u64::try_from(self.options.replay)
            .unwrap_or(u64::MAX)
            .max(MIN_REACH)
    }

    /// Waits until this instance has delivered `id`, at most `within`; whether it has.
    async fn delivered(&self, id: u64, within: Duration) -> bool {
        let mut rx = self.delivered.subscribe();
        let reached = tokio::time::timeout(within, rx.wait_for(|at| *at >= id)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// Queues one event for the next batch; resolves to the script's answer for it.
    async fn append(&self, payload: &Payload, condition: Condition) -> Result<Appended, HubError> {
        // Refused within a moment while the broker is away: no write waits long for it.
        self.link.connection_within(LINK_WAIT).await?;
        let (done, answer) = oneshot::channel();
        let pending = Pending {
            name: payload.event_name(),
            data: payload.to_json(),
            conflict_key: payload.conflict_key().into_owned(),
            window: payload.window(),
            condition,
            done,
        };
        self.queue
            .send(pending)
            .map_err(|_| HubError::Unavailable("the Redis backend stopped".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(HubError::Unavailable("the Redis backend stopped".into())))
    }

    /// The event under its id, once this instance delivered it (or the wait ran out: it is durable anyway).
    async fn settled(&self, id: u64, payload: Payload) -> Arc<Event> {
        if !self.delivered(id, self.options.publish_timeout).await {
            tracing::warn!(id, "stored in Redis but not back through the tail in time");
        }
        Arc::new(Event::durable(id, payload))
    }

    /// What the log says of a resume from `seq`, in one round trip (`None` when the broker cannot be asked).
    async fn probe(&self, seq: u64) -> Option<Probe> {
        let mut conn = self.link.connection().ok()?;
        let reply: Result<(Value, Option<u64>, HashMap<String, u64>), _> = redis::pipe()
            .cmd("XRANGE")
            .arg(LOG)
            .arg(entry_id(seq))
            .arg(entry_id(seq))
            .cmd("HGET")
            .arg(META)
            .arg("n")
            .cmd("HGETALL")
            .arg(TRIMMED)
            .query_async(&mut conn)
            .await;
        match reply {
            Ok((entry, appended, trimmed)) => {
                let marks = Marks::from_fields(&trimmed);
                self.marks().merge(&marks);
                Some(Probe {
                    entry: from_range(&entry).ok()?.pop(),
                    appended: appended.unwrap_or(0),
                    marks,
                })
            }
            Err(e) => {
                self.link.failed(&e);
                None
            }
        }
    }

    /// Whether the events of `topics` after `after` up to the ring take more bytes than the state (or are too
    /// many to weigh): a state-standing stream is then sent the state.
    async fn gap_outweighs_state(&self, after: u64, floor: u64, topics: TopicSet) -> bool {
        let Ok(mut conn) = self.link.connection() else {
            return true;
        };
        let reply: Result<Value, _> = redis::cmd("XRANGE")
            .arg(LOG)
            .arg(format!("({}", entry_id(after)))
            .arg(entry_id(floor))
            .arg("COUNT")
            .arg(STANDS_IN_AFTER)
            .query_async(&mut conn)
            .await;
        let Ok(entries) = reply
            .map_err(|e| e.to_string())
            .and_then(|v| from_range(&v))
        else {
            return true;
        };
        if entries.len() >= STANDS_IN_AFTER {
            return true;
        }
        let state = serde_json::to_string(&self.fanout.snapshot()).map_or(usize::MAX, |s| s.len());
        let gap: usize = entries
            .iter()
            .filter(|e| Payload::topic_of(&e.name).is_some_and(|t| topics.contains(t)))
            .map(|e| e.data.len())
            .sum();
        gap > state
    }

    /// Where a subscriber resuming from `raw` starts. Every id this backend hands out is a log entry's (or the
    /// state's), so an id that is neither here nor in the log was never handed out, or the log lost it: reset.
    async fn subscribe(
        self: Arc<Self>,
        raw: Option<String>,
        topics: TopicSet,
        stands_in: bool,
    ) -> Subscription {
        let request = SubscribeRequest {
            topics,
            last_event_id: raw.as_deref(),
            state_stands_in: stands_in,
        };
        let Some(Ok(n)) = raw.as_deref().map(str::parse::<u64>) else {
            return self.fanout.subscribe_via(request, self.source());
        };
        // Below what was dropped of these topics: whatever this instance still holds, no instance can give
        // every event after it any more, so every instance answers alike.
        if self.marks().cut(n, topics) {
            return self.fanout.subscribe_reset();
        }
        if self.fanout.holds(n) {
            return self.fanout.subscribe_via(request, self.source());
        }
        let Some(probe) = self.probe(n).await else {
            return self.fanout.subscribe_reset();
        };
        let Some(entry) = probe.entry.filter(|_| !probe.marks.cut(n, topics)) else {
            return self.fanout.subscribe_reset();
        };
        // Another instance published it a moment ago: this one's tail is about to bring it.
        if n > self.fanout.last_seq() && !self.delivered(n, RESUME_WAIT).await {
            return self.fanout.subscribe_reset();
        }
        let subscription = self.fanout.subscribe_via(request, self.source());
        if !matches!(subscription.start, Start::Reset(_)) {
            return subscription;
        }
        // The ring could not serve it: older than the ring (or the ring moved on meanwhile), or the state says
        // it in fewer bytes.
        let (floor, _) = self.fanout.bounds();
        if n >= floor {
            return subscription;
        }
        // Read from the log only within reach: how many entries came after it is its ordinal's distance from
        // the newest (an entry from before ordinals were kept cannot be measured, and is not read).
        let Some(behind) = entry.ordinal.map(|o| probe.appended.saturating_sub(o)) else {
            return subscription;
        };
        if behind > self.reach() {
            return subscription;
        }
        let too_long = usize::try_from(behind).map_or(true, |b| b >= STANDS_IN_AFTER);
        if stands_in && (too_long || self.gap_outweighs_state(n, floor, topics).await) {
            return subscription;
        }
        self.fanout.subscribe_after(n, topics, self.source())
    }
}

/// What the log says of a resume from one id.
struct Probe {
    /// The entry under that id, if the log holds it.
    entry: Option<Entry>,
    /// How many entries were ever appended (the newest entry's ordinal).
    appended: u64,
    /// What retention dropped, and how far the log went back.
    marks: Marks,
}

impl Backend for RedisBackend {
    fn publish(&self, payload: Payload) -> Publish {
        if payload.topic().is_ephemeral() {
            // Live only and local: no id, never in the log.
            let event = Arc::new(Event::live(payload));
            self.core.fanout.commit(std::slice::from_ref(&event));
            return Box::pin(std::future::ready(Ok(event)));
        }
        let core = Arc::clone(&self.core);
        Box::pin(async move {
            match core.append(&payload, Condition::Always).await? {
                Appended::Stored(id) => Ok(core.settled(id, payload).await),
                Appended::Conflict { .. } => Err(HubError::Storage(
                    "the broker refused an unconditional append".into(),
                )),
            }
        })
    }

    fn update(&self, mut change: Change) -> Update {
        let core = Arc::clone(&self.core);
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + core.options.publish_timeout;
            loop {
                let state = core.fanout.snapshot();
                let Some(payload) = change(&state) else {
                    return Ok(None);
                };
                if payload.topic().is_ephemeral() {
                    let event = Arc::new(Event::live(payload));
                    core.fanout.commit(std::slice::from_ref(&event));
                    return Ok(Some(event));
                }
                let newer = match core
                    .append(&payload, Condition::Unchanged(state.seq))
                    .await?
                {
                    Appended::Stored(id) => return Ok(Some(core.settled(id, payload).await)),
                    Appended::Conflict { newer } => newer,
                };
                // Another instance changed this topic after the state the change saw: wait for its event to
                // arrive here, then derive the change again from the newer state.
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() || !core.delivered(newer, left).await {
                    return Err(HubError::Unavailable(
                        "concurrent changes kept winning and this instance could not catch up"
                            .into(),
                    ));
                }
            }
        })
    }

    fn subscribe(&self, request: SubscribeRequest<'_>) -> BoxFuture<'static, Subscription> {
        let raw = request
            .last_event_id
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Box::pin(Arc::clone(&self.core).subscribe(raw, request.topics, request.state_stands_in))
    }

    fn snapshot(&self) -> Snapshot {
        self.core.fanout.snapshot()
    }

    fn find_retained(&self, test: &dyn Fn(&Event) -> bool) -> Option<Seq> {
        self.core.fanout.find(test)
    }

    fn replayable(&self) -> (Seq, Seq) {
        self.core.fanout.bounds()
    }

    fn health(&self) -> Health {
        let core = &self.core;
        let tail_up = core.tail.up.load(Ordering::Relaxed);
        let connected = tail_up && core.link.is_up();
        let problem = if core.link.is_up() {
            (!tail_up).then(|| {
                core.tail
                    .problem
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_else(|| "the tail is not following the log yet".into())
            })
        } else {
            Some(
                core.link
                    .problem()
                    .unwrap_or_else(|| "not connected".into()),
            )
        };
        Health {
            ok: problem.is_none(),
            backend: "redis",
            problem: problem.map(|p| format!("Redis: {p}")),
            last_seq: core.fanout.last_seq(),
            broker: Some(BrokerHealth {
                connected,
                tail_lag_ms: core.tail.lag_ms.load(Ordering::Relaxed),
                last_id: core
                    .tail
                    .last_id
                    .load(Ordering::Relaxed)
                    .max(core.fanout.last_seq()),
            }),
        }
    }
}

/// Group commit: takes everything queued, sends it as one script call, answers each publisher. A batch whose
/// reply was lost is settled on a task of its own ([`settle`]), so the batches behind it go on.
async fn commit_batches(
    core: Arc<RedisCore>,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => return,
            p = queue.recv() => match p { Some(p) => p, None => return },
        };
        let deadline = tokio::time::Instant::now() + core.options.publish_timeout;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let token = fresh_epoch();
        match append_batch(&core, &batch, &token).await {
            Ok(answers) => answer(&core, batch, Ok(answers)),
            Err(Failed::Refused(e)) => answer(&core, batch, Err(e)),
            Err(Failed::Unanswered(why)) => {
                let core = Arc::clone(&core);
                tokio::spawn(async move {
                    let settled = settle(&core, &token, deadline, &why).await;
                    answer(&core, batch, settled);
                });
            }
        }
    }
}

/// Tells each publisher of `batch` what became of its event.
fn answer(core: &RedisCore, batch: Vec<Pending>, answers: Result<Vec<Appended>, HubError>) {
    let answers = answers.and_then(|answers| {
        if answers.len() == batch.len() {
            Ok(answers)
        } else {
            Err(HubError::Storage(format!(
                "the publish script answered {} ids for {} events",
                answers.len(),
                batch.len()
            )))
        }
    });
    match answers {
        Ok(answers) => {
            let stored = answers.iter().filter_map(|a| match a {
                Appended::Stored(id) => Some(*id),
                Appended::Conflict { .. } => None,
            });
            if let Some(top) = stored.max() {
                core.assigned.fetch_max(top, Ordering::Relaxed);
            }
            for (pending, answer) in batch.into_iter().zip(answers) {
                let _ = pending.done.send(Ok(answer));
            }
        }
        Err(e) => {
            for pending in batch {
                let _ = pending.done.send(Err(e.clone()));
            }
        }
    }
}

/// Why a batch has no answers.
enum Failed {
    /// The broker refused it, or it never reached the broker: nothing of it was applied.
    Refused(HubError),
    /// It was sent, but no reply came back (late, or the connection broke): it may have been applied.
    Unanswered(String),
}

async fn append_batch(
    core: &RedisCore,
    batch: &[Pending],
    token: &str,
) -> Result<Vec<Appended>, Failed> {
    let mut conn = core.link.connection().map_err(Failed::Refused)?;
    let floor = core
        .assigned
        .load(Ordering::Relaxed)
        .max(core.fanout.last_seq());
    let record_ms = (core.options.publish_timeout + RECORD_SLACK).as_millis();
    let mut call = scripts::PUBLISH.prepare_invoke();
    call.key(LOG)
        .key(META)
        .key(VERSIONS)
        .key(scripts::batch(token))
        .arg(floor)
        .arg(clock_seed())
        .arg(now_ms())
        .arg(fresh_epoch())
        .arg(scripts::WINDOW_PREFIX)
        .arg(u64::try_from(record_ms).unwrap_or(u64::MAX));
    for pending in batch {
        let (window, size) = pending
            .window
            .as_ref()
            .map_or(("", 0), |w| (w.key.as_str(), w.keep));
        call.arg(pending.name)
            .arg(&pending.data)
            .arg(pending.condition.arg())
            .arg(&pending.conflict_key)
            .arg(window)
            .arg(size);
    }
    let answers = call
        .invoke_async::<Vec<i64>>(&mut conn)
        .await
        .map_err(|e| {
            core.link.failed(&e);
            tracing::warn!(error = %e, events = batch.len(), "a publish batch got no answer from Redis");
            if link::broken(&e) {
                // Sent, perhaps taken: only the broker can say, once it answers again.
                Failed::Unanswered(e.to_string())
            } else {
                // The broker answered with an error: the script did not run (READONLY, NOREPLICAS, LOADING, ...).
                Failed::Refused(HubError::Unavailable(format!("Redis: {e}")))
            }
        })?;
    Ok(answers.into_iter().map(Appended::from_reply).collect())
}

/// Finds out what became of a batch whose reply was lost, until `deadline`: its answers if the publish script
/// ran, a refusal once it is fenced (it had not run, and now never will), or — when the broker never answered
/// in time — that nobody can say.
async fn settle(
    core: &RedisCore,
    token: &str,
    deadline: tokio::time::Instant,
    why: &str,
) -> Result<Vec<Appended>, HubError> {
    let record = scripts::batch(token);
    let fence_ms = u64::try_from(FENCE_KEEP.as_millis()).unwrap_or(u64::MAX);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            tracing::error!(
                error = why,
                "a publish batch's fate is unknown: Redis did not answer in time"
            );
            return Err(HubError::Unknown(format!("Redis did not answer: {why}")));
        }
        if let Ok(mut conn) = core.link.connection_within(left).await {
            // Looked up before it is fenced: a broker that was stalled answers this only after it went through
            // everything that was waiting for it (it writes replies once a round of its event loop is done),
            // the batch included if it had reached it — so a batch that did reach it is found, not fenced.
            let looked: Result<Option<String>, _> =
                redis::cmd("GET").arg(&record).query_async(&mut conn).await;
            let settled = match looked {
                Ok(Some(found)) => Ok(found),
                Ok(None) => {
                    scripts::RESOLVE
                        .key(&record)
                        .arg(fence_ms)
                        .invoke_async::<String>(&mut conn)
                        .await
                }
                Err(e) => Err(e),
            };
            match settled {
                Ok(fenced) if fenced == "fenced" => {
                    return Err(HubError::Unavailable(format!(
                        "Redis did not take the write in time ({why}); it was not applied"
                    )))
                }
                Ok(answers) => {
                    tracing::info!("a publish batch whose reply was lost had been stored");
                    return answers
                        .split(',')
                        .map(|n| n.parse::<i64>().map(Appended::from_reply))
                        .collect::<Result<_, _>>()
                        .map_err(|e| {
                            HubError::Unknown(format!(
                                "an unreadable batch record {answers:?}: {e}"
                            ))
                        });
                }
                Err(e) => core.link.failed(&e),
            }
        }
        tokio::time::sleep(SETTLE_RETRY.min(left)).await;
    }
}

/// Writes the checkpoint when the state moved on (or the data set is a new one: the broker lost everything, and
/// an instance starting now must not start from nothing), and trims the log, once a [`HOUSEKEEPING_EVERY`].
async fn housekeeping(core: Arc<RedisCore>, stop: CancellationToken) {
    // The data set and id of the last checkpoint written.
    let mut checkpointed = (String::new(), 0);
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let Ok(mut conn) = core.link.connection() else {
            continue;
        };
        let mut state = core.fanout.snapshot();
        let epoch = core.epoch().clone();
        if state.seq > checkpointed.1 || epoch != checkpointed.0 {
            // The viewer count is each instance's own and live only: never part of a stored state.
            state.viewers = 0;
            let json = match serde_json::to_string(&state) {
                Ok(json) => json,
                Err(e) => {
                    tracing::error!(error = %e, "cannot serialise the state for a checkpoint");
                    continue;
                }
            };
            let stored: Result<i64, _> = scripts::CHECKPOINT_CAS
                .key(CHECKPOINT)
                .key(META)
                .arg(state.seq)
                .arg(json)
                .invoke_async(&mut conn)
                .await;
            match stored {
                Ok(-1) => tracing::warn!(
                    seq = state.seq,
                    "not checkpointing: the Redis log is behind this instance's state (it went back)"
                ),
                Ok(_) => checkpointed = (epoch, state.seq),
                Err(e) => {
                    core.link.failed(&e);
                    tracing::warn!(error = %e, "could not write the checkpoint");
                    continue;
                }
            }
        }
        let oldest = now_ms().saturating_sub(core.options.retain_ms);
        let mut after = String::new();
        loop {
            let mut step = scripts::TRIM.prepare_invoke();
            step.key(LOG)
                .key(CHECKPOINT)
                .key(META)
                .key(TRIMMED)
                .arg(core.options.retain_events)
                .arg(oldest)
                .arg(TRIM_STEP)
                .arg(&after)
                .arg(scripts::WINDOW_PREFIX);
            let stepped: Result<(usize, u8, String), _> = step.invoke_async(&mut conn).await;
            match stepped {
                Ok((_, 1, last)) => after = last,
                Ok(_) => break,
                Err(e) => {
                    core.link.failed(&e);
                    tracing::warn!(error = %e, "could not trim the Redis log");
                    break;
                }
            }
        }
        let marks: Result<HashMap<String, u64>, _> = redis::cmd("HGETALL")
            .arg(TRIMMED)
            .query_async(&mut conn)
            .await;
        match marks {
            Ok(marks) => core.marks().merge(&Marks::from_fields(&marks)),
            Err(e) => core.link.failed(&e),
        }
    }
}

/// What start-up read from the broker.
struct Restored {
    /// The checkpoint with the log after it folded in.
    snapshot: Snapshot,
    /// The newest events read, for the ring.
    ring: Vec<Arc<Event>>,
    epoch: String,
    /// The ordinal of the last entry read (0: none read, or none had one).
    ordinal: u64,
    /// What retention had dropped.
    marks: Marks,
}

/// Checks the broker, then loads the checkpoint and reads the log forward from it (blocking).
fn restore(client: &redis::Client, replay: usize) -> anyhow::Result<Restored> {
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    guard::check(&mut conn)?;
    let (_, epoch): (Value, Option<String>) = redis::pipe()
        .cmd("HSETNX")
        .arg(META)
        .arg("epoch")
        .arg(fresh_epoch())
        .cmd("HGET")
        .arg(META)
        .arg("epoch")
        .query(&mut conn)?;
    let (seq, state): (Option<u64>, Option<String>) = redis::cmd("HMGET")
        .arg(CHECKPOINT)
        .arg("seq")
        .arg("state")
        .query(&mut conn)?;
    let mut snapshot: Snapshot = match state {
        Some(json) => {
            serde_json::from_str(&json).context("the checkpoint in Redis is not a Hearth state")?
        }
        None => Snapshot::default(),
    };
    snapshot.seq = seq.unwrap_or(0);
    snapshot.viewers = 0;
    snapshot.upgrade();
    let marks: HashMap<String, u64> = redis::cmd("HGETALL").arg(TRIMMED).query(&mut conn)?;
    let mut ordinal = 0;
    let mut ring: VecDeque<Arc<Event>> = VecDeque::with_capacity(replay.min(RESTORE_COUNT * 10));
    loop {
        let reply: Value = redis::cmd("XRANGE")
            .arg(LOG)
            .arg(format!("({}", entry_id(snapshot.seq)))
            .arg("+")
            .arg("COUNT")
            .arg(RESTORE_COUNT)
            .query(&mut conn)?;
        let entries = from_range(&reply).map_err(|e| anyhow::anyhow!(e))?;
        for entry in &entries {
            match entry.event() {
                Ok(event) => {
                    snapshot.apply(event.id, &event.payload);
                    if ring.len() == replay.max(1) {
                        ring.pop_front();
                    }
                    ring.push_back(event);
                }
                Err(e) => {
                    tracing::error!(seq = entry.seq, error = %e, "unreadable entry in the Redis log; skipped")
                }
            }
            snapshot.seq = snapshot.seq.max(entry.seq);
            ordinal = entry.ordinal.unwrap_or(0);
        }
        if entries.len() < RESTORE_COUNT {
            break;
        }
    }
    Ok(Restored {
        snapshot,
        ring: ring.into(),
        epoch: epoch.unwrap_or_default(),
        ordinal,
        marks: Marks::from_fields(&marks),
    })
}
