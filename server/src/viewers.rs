//! The live viewer count: the real number of open dashboard streams (`/events`, `/live-users`).
//!
//! Each such stream holds one count of the `viewers` gauge for its life. Publishing on every change would cost
//! N² deliveries when N viewers arrive at once (a server restart), so this task publishes the count at most every
//! [`COALESCE`], and only when it differs from the last one published.

use crate::hub::Hub;
use crate::metrics::Gauge;
use app::contract::Payload;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const COALESCE: Duration = Duration::from_millis(100);

/// Publishes the viewer count whenever it changes, coalesced, until shutdown.
pub async fn publish_viewer_count(hub: Hub, viewers: Arc<Gauge>, shutdown: CancellationToken) {
    let mut last = hub.snapshot().viewers;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = viewers.changed() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(COALESCE) => {}
        }
        let now = viewers.get();
        if now != last {
            match hub.publish(Payload::Viewers(now)).await {
                Ok(_) => last = now,
                Err(e) => tracing::warn!(error = %e, "could not publish the viewer count"),
            }
        }
    }
}
