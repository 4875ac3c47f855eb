//! Long-running jobs: the registry of every job this server knows, and the runner that moves a job from 0 to
//! 100 %, publishing each step through the hub. The routes (`routes/jobs.rs`) start jobs and stream them.
//!
//! A job's first step is published (durable) before its start is acknowledged, so a restart finds it in the
//! store and resumes it from where it got.
//!
//! Each job runs on exactly one instance: the one holding its lease (`job:<id>`). The instance that starts a
//! job takes the lease first; a watcher on every instance looks for unfinished jobs (its own registry and the
//! shared state) whose lease is free — their runner died — and takes them over from the last published step.

use crate::hub::{Committed, Hub, HubError};
use crate::lease::{Leases, RENEW_EVERY, TTL};
use app::contract::{JobId, JobUpdate, Payload};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Progress moves in steps of this many percent.
const STEP: u8 = 5;
/// Time between steps: a job takes 20 steps, about 4 s.
const STEP_EVERY: Duration = Duration::from_millis(200);

/// Every job this server knows and how far it got, with what it needs to run them.
pub struct Jobs {
    progress: Mutex<HashMap<JobId, JobUpdate>>,
    /// The jobs running on this instance.
    running: Mutex<HashSet<JobId>>,
    hub: Hub,
    shutdown: CancellationToken,
    /// Where the runners are spawned, so shutdown can wait for them.
    tasks: TaskTracker,
    leases: Arc<dyn Leases>,
}

impl Jobs {
    /// A registry holding `known` jobs (what the store had), running them under `leases`.
    pub fn new(
        hub: Hub,
        shutdown: CancellationToken,
        tasks: TaskTracker,
        known: Vec<JobUpdate>,
        leases: Arc<dyn Leases>,
    ) -> Arc<Self> {
        let progress = known.into_iter().map(|j| (j.id.clone(), j)).collect();
        Arc::new(Jobs {
            progress: Mutex::new(progress),
            running: Mutex::new(HashSet::new()),
            hub,
            shutdown,
            tasks,
            leases,
        })
    }

    /// A job this instance knows, or one the shared state knows (another instance started it).
    pub fn get(&self, id: &str) -> Option<JobUpdate> {
        let here = self.lock().get(id).cloned();
        if here.is_some() || !self.leases.shared() {
            return here;
        }
        self.hub.snapshot().jobs.into_iter().find(|j| j.id == id)
    }

    /// Starts a new job: its first step is committed before this returns (with that step's event id), then it
    /// runs in the background.
    pub async fn start(self: &Arc<Self>) -> Result<Committed<JobUpdate>, HubError> {
        let id = format!("{:016x}", rand::rng().random::<u64>());
        let first = JobUpdate {
            id,
            progress: 0,
            done: false,
        };
        // A fresh random id: nobody else holds its lease (and alone, every lease is ours).
        self.leases.hold(&lease(&first.id), TTL).await;
        self.running_set().insert(first.id.clone());
        let started = match self.hub.publish_as(first.clone()).await {
            Ok(started) => started,
            Err(e) => {
                self.running_set().remove(&first.id);
                self.leases.release(&lease(&first.id)).await;
                return Err(e);
            }
        };
        self.set(first.clone());
        self.tasks.spawn(Arc::clone(self).run(first.id.clone(), 0));
        Ok(started)
    }

    /// Picks up the unfinished jobs nobody runs — left by a previous run of this server, or by an instance that
    /// died — now and whenever one turns up, until shutdown.
    pub fn resume_unfinished(self: &Arc<Self>) {
        let jobs = Arc::clone(self);
        self.tasks.spawn(async move {
            loop {
                jobs.take_over_orphans().await;
                if !jobs.leases.shared() {
                    // Alone, no job can be orphaned later: only a previous run leaves any.
                    return;
                }
                tokio::select! {
                    _ = jobs.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RENEW_EVERY) => {}
                }
            }
        });
    }

    /// Starts every unfinished job not running here whose lease this instance can take.
    async fn take_over_orphans(self: &Arc<Self>) {
        let mut unfinished: HashMap<JobId, u8> = HashMap::new();
        let mut known = self.lock().values().cloned().collect::<Vec<_>>();
        if self.leases.shared() {
            known.extend(self.hub.snapshot().jobs);
        }
        for job in known {
            if job.done {
                unfinished.remove(&job.id);
                continue;
            }
            let progress = unfinished.entry(job.id.clone()).or_default();
            *progress = (*progress).max(job.progress);
        }
        for (id, progress) in unfinished {
            if self.running_set().contains(&id) || self.get(&id).is_some_and(|j| j.done) {
                continue;
            }
            if !self.leases.hold(&lease(&id), TTL).await {
                continue;
            }
            if !self.running_set().insert(id.clone()) {
                continue;
            }
            tracing::info!(job = %id, progress, "resuming an unfinished job");
            self.tasks.spawn(Arc::clone(self).run(id, progress));
        }
    }

    fn running_set(&self) -> MutexGuard<'_, HashSet<JobId>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, update: JobUpdate) {
        self.lock().insert(update.id.clone(), update);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<JobId, JobUpdate>> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves a job from `progress` to 100, publishing each step, while this instance holds its lease; stops
    /// early on shutdown (the job stays unfinished, for whoever runs next).
    async fn run(self: Arc<Self>, id: JobId, progress: u8) {
        self.steps(&id, progress).await;
        self.running_set().remove(&id);
        if self.get(&id).is_some_and(|j| j.done) {
            self.leases.release(&lease(&id)).await;
        }
    }

    async fn steps(&self, id: &JobId, mut progress: u8) {
        let mut renewed = tokio::time::Instant::now();
        while progress < 100 {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(STEP_EVERY) => {}
            }
            if renewed.elapsed() >= RENEW_EVERY {
                if !self.leases.hold(&lease(id), TTL).await {
                    tracing::warn!(job = %id, "lost the job's lease; another instance runs it");
                    return;
                }
                renewed = tokio::time::Instant::now();
            }
            let next = progress.saturating_add(STEP).min(100);
            let update = JobUpdate {
                id: id.to_owned(),
                progress: next,
                done: next == 100,
            };
            match self.hub.publish(Payload::Job(update.clone())).await {
                Ok(_) => {
                    self.set(update);
                    progress = next;
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "job step not stored; trying again")
                }
            }
        }
    }
}

/// The name of a job's lease.
fn lease(id: &str) -> String {
    format!("job:{id}")
}
