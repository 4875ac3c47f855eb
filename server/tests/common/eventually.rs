//! Waiting for a condition no event announces (a gauge after a socket closed, a port that starts to accept, a
//! broker that answers again): polled, and bounded by [`WAIT`].

use super::WAIT;
use std::time::Duration;

/// Polls `check` until it holds; fails after [`WAIT`] naming `what`.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
