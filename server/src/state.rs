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
    pub fn new(config: Config, token: String, leptos: LeptosOptions) -> Self {
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::in_memory(config.replay_size, config.queue_size, metrics.clone());
        let seed = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1);
        AppState(Arc::new(Inner {
            config,
            hub,
            metrics,
            token,
            shutdown: CancellationToken::new(),
            jobs: Jobs::default(),
            sessions: Sessions::default(),
            viewers: Viewers::default(),
            leptos,
            next_message_id: AtomicU64::new(seed),
        }))
    }

    pub fn next_message_id(&self) -> u64 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The current time as RFC 3339 with milliseconds, UTC: the format of every timestamp Hearth sends.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
