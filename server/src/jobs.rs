//! Long-running jobs: the registry of every job this server knows, and the runner that moves a job from 0 to
//! 100 %, publishing each step through the hub. The routes (`routes/jobs.rs`) start jobs and stream them.
//!
//! A job's first step is published (durable) before its start is acknowledged, so a restart finds it in the
//! store and resumes it from where it got.

use crate::hub::{Hub, HubError};
use app::contract::{JobId, JobUpdate, Payload};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Progress moves in steps of this many percent.
const STEP: u8 = 5;
/// Time between steps: a job takes 20 steps, about 4 s.
const STEP_EVERY: Duration = Duration::from_millis(200);

/// Every job this server knows and how far it got, with what it needs to run them.
pub struct Jobs {
    progress: Mutex<HashMap<JobId, JobUpdate>>,
    hub: Hub,
    shutdown: CancellationToken,
}

impl Jobs {
    /// A registry holding `known` jobs (what the store had).
    pub fn new(hub: Hub, shutdown: CancellationToken, known: Vec<JobUpdate>) -> Arc<Self> {
        let progress = known.into_iter().map(|j| (j.id.clone(), j)).collect();
        Arc::new(Jobs {
            progress: Mutex::new(progress),
            hub,
            shutdown,
        })
    }

    pub fn get(&self, id: &str) -> Option<JobUpdate> {
        self.lock().get(id).cloned()
    }

    /// Starts a new job: its first step is committed before this returns (with that step's event id), then it
    /// runs in the background.
    pub async fn start(self: &Arc<Self>) -> Result<(JobUpdate, u64), HubError> {
        let id = format!("{:016x}", rand::rng().random::<u64>());
        let first = JobUpdate {
            id,
            progress: 0,
            done: false,
        };
        let event = self.hub.publish(Payload::Job(first.clone())).await?;
        self.set(first.clone());
        tokio::spawn(Arc::clone(self).run(first.id.clone(), 0));
        Ok((first, event.seq))
    }

    /// Picks up the jobs a previous run of the server left unfinished.
    pub fn resume_unfinished(self: &Arc<Self>) {
        let unfinished: Vec<JobUpdate> =
            self.lock().values().filter(|j| !j.done).cloned().collect();
        for job in unfinished {
            tracing::info!(job = %job.id, progress = job.progress, "resuming an unfinished job");
            tokio::spawn(Arc::clone(self).run(job.id, job.progress));
        }
    }

    fn set(&self, update: JobUpdate) {
        self.lock().insert(update.id.clone(), update);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<JobId, JobUpdate>> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves a job from `progress` to 100, publishing each step; stops early on shutdown.
    async fn run(self: Arc<Self>, id: JobId, mut progress: u8) {
        while progress < 100 {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(STEP_EVERY) => {}
            }
            let next = progress.saturating_add(STEP).min(100);
            let update = JobUpdate {
                id: id.clone(),
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
