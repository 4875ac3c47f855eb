//! The live viewer count: the real number of open dashboard streams (`/events`, `/live-users`).
//!
//! Each such stream holds a [`ViewerGuard`]; the count changes when one opens or closes. Publishing on every
//! change would cost N² deliveries when N viewers arrive at once (a server restart), so a task publishes the
//! count at most every [`COALESCE`], and only when it differs from the last one published.

use crate::hub::Hub;
use crate::state::AppState;
use app::contract::Payload;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const COALESCE: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct Viewers {
    changed: Notify,
}

/// Counts one viewer while alive.
pub struct ViewerGuard {
    state: AppState,
}

impl ViewerGuard {
    pub fn new(state: &AppState) -> Self {
        state.metrics.viewers.inc();
        state.viewers.changed.notify_one();
        ViewerGuard {
            state: state.clone(),
        }
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.state.metrics.viewers.dec();
        self.state.viewers.changed.notify_one();
    }
}

/// Publishes the viewer count whenever it changes, coalesced, until shutdown.
pub async fn publish_viewer_count(state: AppState) {
    let hub: Hub = state.hub.clone();
    let metrics = Arc::clone(&state.metrics);
    let mut last = hub.snapshot().viewers;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = state.viewers.changed.notified() => {}
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
        let now = metrics.viewers.get();
        if now != last {
            match hub.publish(Payload::Viewers(now)).await {
                Ok(_) => last = now,
                Err(e) => tracing::warn!(error = %e, "could not publish the viewer count"),
            }
        }
    }
}
