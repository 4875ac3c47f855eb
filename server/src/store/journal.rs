//! The journal: one writer thread that makes accepted events durable in batches (group commit) and then hands
//! them back to the hub for delivery.
//!
//! Publishers queue events in sequence order (under the hub's lock) and wait; the writer takes everything queued,
//! writes it in one transaction — one fsync however many events — and commits it to the hub, which delivers and
//! wakes the waiters. Under load batches grow, so durability costs one fsync per batch, not per event.

use super::{Retention, Store};
use crate::hub::{Event, MemoryBackend};
use app::contract::Snapshot;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Largest batch in one transaction.
const MAX_BATCH: usize = 4096;
/// How often the log is trimmed to its retention.
const TRIM_EVERY: Duration = Duration::from_secs(30);
/// Rows deleted per trim step, so a trim never holds publishers up for long.
const TRIM_STEP: u64 = 5000;

/// The hub's end of the journal: queue an event for the writer.
#[derive(Clone)]
pub struct JournalHandle {
    tx: Sender<Arc<Event>>,
}

impl JournalHandle {
    /// Queues an event; returns false if the writer is gone.
    pub fn submit(&self, event: Arc<Event>) -> bool {
        self.tx.send(event).is_ok()
    }
}

/// A journal not yet attached to its hub (the hub needs the handle, the writer needs the hub).
pub struct PendingJournal {
    rx: Receiver<Arc<Event>>,
    store: Store,
    retention: Retention,
}

pub fn channel(store: Store, retention: Retention) -> (JournalHandle, PendingJournal) {
    let (tx, rx) = std::sync::mpsc::channel();
    (
        JournalHandle { tx },
        PendingJournal {
            rx,
            store,
            retention,
        },
    )
}

impl PendingJournal {
    /// Starts the writer thread, committing into `hub`, whose durable state starts at `snapshot`.
    pub fn start(self, hub: Weak<MemoryBackend>, snapshot: Snapshot) -> anyhow::Result<()> {
        std::thread::Builder::new()
            .name("hearth-journal".into())
            .spawn(move || self.run(hub, snapshot))?;
        Ok(())
    }

    fn run(mut self, hub: Weak<MemoryBackend>, mut durable: Snapshot) {
        let mut last_trim = Instant::now();
        loop {
            let first = match self.rx.recv_timeout(TRIM_EVERY) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if let Some(first) = first {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match self.rx.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(_) => break,
                    }
                }
                let before = durable.clone();
                for event in &batch {
                    durable.apply(event.seq, &event.payload);
                }
                let Some(hub) = hub.upgrade() else { return };
                match self.store.append(&batch, &durable) {
                    Ok(()) => hub.commit(&batch),
                    Err(e) => {
                        tracing::error!(error = ?e, events = batch.len(), path = %self.store.path().display(), "could not store events");
                        durable = before;
                        hub.fail(&batch);
                    }
                }
            }
            if last_trim.elapsed() >= TRIM_EVERY {
                last_trim = Instant::now();
                match self.store.trim(self.retention, TRIM_STEP) {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(events = n, "trimmed the event log"),
                    Err(e) => tracing::warn!(error = ?e, "could not trim the event log"),
                }
            }
        }
    }
}
