//! The live viewer count: the real number of open dashboard streams (`/events`, `/live-users`) — over every
//! instance when there are several.
//!
//! Each such stream holds one count of the `viewers` gauge for its life. Publishing on every change would cost
//! N² deliveries when N viewers arrive at once (a server restart), so this task publishes the count at most every
//! [`COALESCE`], and only when it differs from the last one published.
//!
//! With several instances each reports its own count to a [`ViewerTally`] and publishes the total it gets back
//! (live only, to its own subscribers: every instance does the same). It reports on every local change and on a
//! heartbeat, which both keeps its count standing and brings in the other instances' changes; an instance that
//! stops reporting (it died) drops out of the total when its count's time runs out.

use crate::hub::{Hub, RedisShared};
use crate::meters::HeldGauge;
use app::contract::Payload;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const COALESCE: Duration = Duration::from_millis(100);
/// How often an instance among several reports its count when nothing changes here.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long a reported count stands: an instance that died drops out of the total within this.
pub const STANDS_FOR: Duration = Duration::from_secs(3);

/// Where the total comes from.
pub trait ViewerTally: Send + Sync + 'static {
    /// Reports this instance's count; the total over every instance.
    fn report(&self, here: u64) -> BoxFuture<'static, Result<u64, String>>;
    /// How often to report when nothing changes here (`None`: only on a change).
    fn heartbeat(&self) -> Option<Duration>;
}

/// One instance: the total is this instance's count.
pub struct Alone;

impl ViewerTally for Alone {
    fn report(&self, here: u64) -> BoxFuture<'static, Result<u64, String>> {
        Box::pin(std::future::ready(Ok(here)))
    }

    fn heartbeat(&self) -> Option<Duration> {
        None
    }
}

impl ViewerTally for RedisShared {
    fn report(&self, here: u64) -> BoxFuture<'static, Result<u64, String>> {
        let shared = self.clone();
        Box::pin(async move {
            shared
                .tally_viewers(here, STANDS_FOR)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn heartbeat(&self) -> Option<Duration> {
        Some(HEARTBEAT)
    }
}

/// Publishes the viewer count whenever it changes, coalesced, until shutdown.
pub async fn publish_viewer_count(
    hub: Hub,
    viewers: Arc<HeldGauge>,
    tally: Arc<dyn ViewerTally>,
    shutdown: CancellationToken,
) {
    let mut last = hub.snapshot().viewers;
    let heartbeat = tally.heartbeat();
    loop {
        let changed = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = viewers.changed() => true,
            _ = sleep_or_never(heartbeat) => false,
        };
        if changed {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(COALESCE) => {}
            }
        }
        let total = match tally.report(viewers.get()).await {
            Ok(total) => total,
            Err(e) => {
                tracing::debug!(error = %e, "cannot report the viewer count; the total stays as it was");
                continue;
            }
        };
        if total != last {
            match hub.publish(Payload::Viewers(total)).await {
                Ok(_) => last = total,
                Err(e) => tracing::warn!(error = %e, "could not publish the viewer count"),
            }
        }
    }
}

async fn sleep_or_never(every: Option<Duration>) {
    match every {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}
