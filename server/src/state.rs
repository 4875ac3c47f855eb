//! `AppState`: everything a handler needs, behind one `Arc` so cloning it per request is a counter bump.
//!
//! Only the routes, the router and the wiring in [`crate::startup`] know it. Extractors and guards take the part
//! they need through axum's `FromRef` (the [`Writer`](crate::auth::Writer) extractor takes [`Auth`]), so the
//! modules below the routes never depend on the whole.

use crate::auth::Auth;
use crate::commands::DeviceLink;
use crate::config::Config;
use crate::hub::Hub;
use crate::jobs::Jobs;
use crate::lease::Leases;
use crate::mercure::Mercure;
use crate::metrics::Metrics;
use crate::mqtt::Bridge;
use crate::slots::StreamSlots;
use crate::viewers::ViewerTally;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::ops::Deref;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    /// The write credential and the dashboard's sessions.
    pub auth: Arc<Auth>,
    /// Cancelled on SIGINT/SIGTERM: every stream and background task watches it.
    pub shutdown: CancellationToken,
    /// Every background task (sensors, simulator, jobs, leases, the viewer count): shutdown waits for them, so
    /// nothing is still publishing once the server has stopped.
    pub tasks: TaskTracker,
    pub jobs: Arc<Jobs>,
    /// Who runs what when there are several instances (alone: everything is ours).
    pub leases: Arc<dyn Leases>,
    /// Where the viewer count's total comes from (alone: this instance's own).
    pub tally: Arc<dyn ViewerTally>,
    /// Who may open another event stream.
    pub slots: StreamSlots,
    /// The Mercure hub's keys and settings, and its subscriptions list when kept.
    pub mercure: Arc<Mercure>,
    /// What reaches the home's devices beyond the demo (the MQTT bridge), when a broker is configured.
    pub devices: Option<Arc<dyn DeviceLink>>,
    /// The MQTT bridge itself, for its health and counts (the same as `devices`).
    pub bridge: Option<Arc<Bridge>>,
    pub leptos: LeptosOptions,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.auth)
    }
}
