//! `AppState`: everything a handler needs, behind one `Arc` so cloning it per request is a counter bump.

use crate::auth::Sessions;
use crate::config::Config;
use crate::hub::{Hub, Metrics};
use crate::routes::jobs::Jobs;
use crate::viewers::Viewers;
use leptos::config::LeptosOptions;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    /// The write credential.
    pub token: String,
    /// Cancelled on SIGINT/SIGTERM: every stream and background task watches it.
    pub shutdown: CancellationToken,
    pub jobs: Jobs,
    /// Dashboard logins.
    pub sessions: Sessions,
    pub viewers: Viewers,
    pub leptos: LeptosOptions,
    /// Message ids: seeded from the clock like hub ids, so they stay unique across restarts.
    next_message_id: AtomicU64,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the store in the data directory and restores the hub and the jobs from it. A store that cannot
    /// be opened is an error naming its path.
    pub fn new(config: Config, token: String, leptos: LeptosOptions) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let (hub, stored_jobs) = if config.in_memory {
            let hub = Hub::in_memory(config.replay_size, config.queue_size, metrics.clone());
            (hub, Vec::new())
        } else {
            Hub::durable(
                &config.data_dir,
                config.replay_size,
                config.queue_size,
                config.retention(),
                metrics.clone(),
            )?
        };
        let jobs = Jobs::default();
        for job in stored_jobs {
            jobs.set(job);
        }
        let seed = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1);
        Ok(AppState(Arc::new(Inner {
            config,
            hub,
            metrics,
            token,
            shutdown: CancellationToken::new(),
            jobs,
            sessions: Sessions::default(),
            viewers: Viewers::default(),
            leptos,
            next_message_id: AtomicU64::new(seed),
        })))
    }

    pub fn next_message_id(&self) -> u64 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The current time as RFC 3339 with milliseconds, UTC: the format of every timestamp Hearth sends.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
