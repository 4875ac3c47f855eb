//! Durability for the in-process backend: what the hub needs from a journal ([`Journal`], which the store
//! implements), and the one writer thread that makes accepted events durable in batches (group commit) before
//! they are delivered.
//!
//! Publishers queue events in id order and wait; the writer takes everything queued, writes it in one atomic step
//! — one fsync however many events — then hands it to the fan-out and wakes the waiters. Under load batches
//! grow, so durability costs one fsync per batch, not per event.
//!
//! Failure is all-or-nothing and never undoes an answer. A room change is a read-modify-write of state that may
//! include changes still queued, so when a batch fails, every event accepted after it may depend on it: the
//! backend starts a new *epoch* (its accepted state goes back to what is durable) and the writer fails every
//! event of the old epoch still queued, unwritten. An event whose publisher gave up waiting is dropped the same
//! way, with what follows it; what its batch took before it is stored first, and the new epoch starts from a
//! state that holds it. Each publisher is told exactly what the store and every subscriber hold. The writer is supervised: a panic fails what was in flight (a panic inside `append` unwinds
//! through its transaction, which rolls back), the journal is reopened, and writes are refused with a clear
//! error while that happens.

use crate::event::Event;
use app::contract::Snapshot;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use super::HubError;

/// Largest batch in one transaction.
const MAX_BATCH: usize = 4096;
/// How often the writer looks at retention and free space when idle.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);
/// Waits between attempts to reopen a journal whose writer crashed.
const REOPEN_BACKOFF: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// What the hub needs from durable storage.
pub trait Journal: Send + 'static {
    /// Writes `batch` and `state` (the state after it) in one atomic, durable step: `Ok` only once both are on
    /// disk; on `Err` nothing of the batch is stored.
    fn append(&mut self, batch: &[Arc<Event>], state: &Snapshot) -> anyhow::Result<()>;
    /// One bounded step of trimming the log to its retention.
    fn trim(&mut self) -> anyhow::Result<Trimmed>;
    /// Bytes free on the disk that holds the journal, when known.
    fn free_bytes(&self) -> Option<u64>;
}

/// Whether a trim step left more to trim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trimmed {
    Done,
    More,
}

/// Opens the journal again after its writer crashed.
pub type OpenJournal = Box<dyn FnMut() -> anyhow::Result<Box<dyn Journal>> + Send>;

/// What the writer tells the backend.
pub(super) trait Committer: Send + Sync + 'static {
    /// The current epoch: events queued in an older one are failed unwritten.
    fn epoch(&self) -> u64;
    /// These events are durable: deliver them.
    fn committed(&self, batch: &[Arc<Event>]);
    /// Something failed: start a new epoch from what is durable.
    fn failed(&self);
    /// Writes are refused for this reason (`None`: accepted again).
    fn set_down(&self, reason: Option<String>);
    /// The disk's free bytes as last seen.
    fn set_free_bytes(&self, free: Option<u64>);
}

/// Who gets to decide an event's fate: the writer taking it into a batch, or its publisher giving up waiting.
#[derive(Debug, Default)]
pub(super) struct Claim(AtomicU8);

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    /// The writer takes the event; false if its publisher already gave up.
    fn take(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The publisher gives up; false if the writer already took the event (its outcome is being decided).
    pub(super) fn abandon(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// One accepted event on its way to the journal.
pub(super) struct Queued {
    pub event: Arc<Event>,
    pub epoch: u64,
    pub claim: Arc<Claim>,
    pub done: oneshot::Sender<Result<Arc<Event>, HubError>>,
}

pub(super) struct JournalWriter {
    pub rx: Receiver<Queued>,
    pub journal: Box<dyn Journal>,
    pub reopen: OpenJournal,
    /// Weak: the backend owns the queue's sender, and the writer ends when the backend is dropped.
    pub committer: Weak<dyn Committer>,
    /// The state as of the last durable event.
    pub durable: Snapshot,
}

enum Exit {
    /// Every sender is gone: the hub was dropped.
    Disconnected,
}

impl JournalWriter {
    pub fn spawn(self) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("hearth-journal".into())
            .spawn(move || self.supervise())
            .map(drop)
    }

    fn supervise(mut self) {
        loop {
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.run())) {
                Ok(Exit::Disconnected) => return,
                Err(_) => {
                    tracing::error!(
                        "the journal writer crashed; failing what was in flight and reopening it"
                    );
                    let Some(committer) = self.committer.upgrade() else {
                        return;
                    };
                    // Whatever was queued may depend on what was lost: fail it all, start again from the durable
                    // state (the batch in flight already got its errors: its waiters' senders were dropped).
                    committer.failed();
                    committer.set_down(Some("the journal is restarting after a crash".into()));
                    drop(committer);
                    if !self.reopen_journal() {
                        return;
                    }
                    let Some(committer) = self.committer.upgrade() else {
                        return;
                    };
                    committer.set_down(None);
                }
            }
        }
    }

    /// Reopens the journal, retrying with backoff (and then every 10 s); false when the hub is gone meanwhile.
    fn reopen_journal(&mut self) -> bool {
        let mut attempt = 0;
        loop {
            std::thread::sleep(REOPEN_BACKOFF[attempt.min(REOPEN_BACKOFF.len() - 1)]);
            attempt += 1;
            // Fail what piled up meanwhile, and notice a hub that went away.
            loop {
                match self.rx.try_recv() {
                    Ok(queued) => fail(
                        queued,
                        HubError::Unavailable("the journal is restarting".into()),
                    ),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return false,
                }
            }
            match (self.reopen)() {
                Ok(journal) => {
                    tracing::info!(attempt, "journal reopened");
                    self.journal = journal;
                    return true;
                }
                Err(e) => tracing::error!(error = ?e, attempt, "cannot reopen the journal"),
            }
        }
    }

    fn run(&mut self) -> Exit {
        let mut last_housekeeping: Option<Instant> = None;
        let mut trimming = Trimmed::More;
        loop {
            let wait = if trimming == Trimmed::More {
                Duration::ZERO
            } else {
                HOUSEKEEPING_EVERY
            };
            match self.rx.recv_timeout(wait) {
                Ok(first) => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match self.rx.try_recv() {
                            Ok(queued) => batch.push(queued),
                            Err(_) => break,
                        }
                    }
                    let Some(committer) = self.committer.upgrade() else {
                        return Exit::Disconnected;
                    };
                    self.write(&*committer, batch);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Exit::Disconnected,
            }
            // Housekeeping between batches: a trim step (bounded, so publishers never wait long behind it) as
            // long as the log is over its retention, and the free space once a second.
            if trimming == Trimmed::More {
                trimming = match self.journal.trim() {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = ?e, "could not trim the event log");
                        Trimmed::Done
                    }
                };
            }
            if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
                last_housekeeping = Some(Instant::now());
                let Some(committer) = self.committer.upgrade() else {
                    return Exit::Disconnected;
                };
                committer.set_free_bytes(self.journal.free_bytes());
                trimming = Trimmed::More;
            }
        }
    }

    /// Writes what is still wanted of `batch` and reports every event's fate.
    fn write(&mut self, committer: &dyn Committer, batch: Vec<Queued>) {
        let epoch = committer.epoch();
        let mut wanted = Vec::with_capacity(batch.len());
        let mut lost_one = false;
        for queued in batch {
            if queued.epoch < epoch {
                fail(
                    queued,
                    HubError::Storage("an earlier write it may depend on failed".into()),
                );
            } else if !queued.claim.take() {
                // Its publisher gave up waiting and was told so; later events may build on it, so they go too.
                lost_one = true;
                drop(queued);
            } else if lost_one {
                fail(
                    queued,
                    HubError::Storage("an earlier write it may depend on was not stored".into()),
                );
            } else {
                wanted.push(queued);
            }
        }
        if wanted.is_empty() {
            if lost_one {
                committer.failed();
            }
            return;
        }
        let events: Vec<Arc<Event>> = wanted.iter().map(|q| Arc::clone(&q.event)).collect();
        let mut next = self.durable.clone();
        for event in &events {
            next.apply(event.id, &event.payload);
        }
        match self.journal.append(&events, &next) {
            Ok(()) => {
                self.durable = next;
                committer.committed(&events);
                // Only now: a new epoch starts from the committed state, which must hold what this batch stored
                // ahead of the event given up on (those writes are acknowledged below).
                if lost_one {
                    committer.failed();
                }
                for queued in wanted {
                    let _ = queued.done.send(Ok(queued.event));
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, events = events.len(), "could not store events");
                committer.failed();
                for queued in wanted {
                    fail(queued, HubError::Storage(format!("{e:#}")));
                }
            }
        }
    }
}

fn fail(queued: Queued, error: HubError) {
    let _ = queued.done.send(Err(error));
}
