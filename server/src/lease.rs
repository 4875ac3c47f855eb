//! Leases: which instance runs what must run once across all of them (the simulator and sensors, each
//! unfinished job). Alone, every lease is this process's ([`Alone`]); with a broker, a lease is taken with
//! `SET NX PX`, renewed while its holder lives, and taken over by another instance once the holder stopped
//! renewing (it died, or lost the broker) and the lease expired.
//!
//! A holder that cannot renew stops at once rather than at expiry: it cannot tell whether another instance
//! already took over, and two simulators would mean two readings per period.

use crate::hub::RedisShared;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a lease lasts without renewal: the longest a dead holder's work stays undone.
pub const TTL: Duration = Duration::from_secs(3);
/// How often a holder renews: it may miss one renewal and still hold the lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);

/// Who holds what.
pub trait Leases: Send + Sync + 'static {
    /// Takes the lease `name`, or renews it if this instance holds it; whether it holds it for the next `ttl`.
    fn hold(&self, name: &str, ttl: Duration) -> BoxFuture<'static, bool>;
    /// Gives it back (the work is done), so nobody waits for it to expire.
    fn release(&self, name: &str) -> BoxFuture<'static, ()>;
    /// Whether other instances take part (alone, nobody else can start or drop work).
    fn shared(&self) -> bool;
}

/// One process: everything is ours.
pub struct Alone;

impl Leases for Alone {
    fn hold(&self, _: &str, _: Duration) -> BoxFuture<'static, bool> {
        Box::pin(std::future::ready(true))
    }

    fn release(&self, _: &str) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }

    fn shared(&self) -> bool {
        false
    }
}

impl Leases for RedisShared {
    fn hold(&self, name: &str, ttl: Duration) -> BoxFuture<'static, bool> {
        let shared = self.clone();
        let name = name.to_owned();
        Box::pin(async move {
            match shared.lease(&name, ttl).await {
                Ok(held) => held,
                Err(e) => {
                    tracing::debug!(lease = %name, error = %e, "cannot take or renew a lease");
                    false
                }
            }
        })
    }

    fn release(&self, name: &str) -> BoxFuture<'static, ()> {
        let shared = self.clone();
        let name = name.to_owned();
        Box::pin(async move {
            if let Err(e) = shared.release(&name).await {
                tracing::debug!(lease = %name, error = %e, "cannot release a lease; it expires");
            }
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

/// Keeps trying to hold the lease `name` until `shutdown` (then gives it back); the receiver says whether this
/// instance holds it right now.
pub fn keep(
    leases: Arc<dyn Leases>,
    name: &str,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let name = name.to_owned();
    tasks.spawn(async move {
        loop {
            let held = tokio::select! {
                _ = shutdown.cancelled() => break,
                held = tokio::time::timeout(RENEW_EVERY, leases.hold(&name, TTL)) => held.unwrap_or(false),
            };
            if tx.send_replace(held) != held {
                tracing::info!(lease = %name, held, "lease changed hands");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(RENEW_EVERY) => {}
            }
        }
        tx.send_replace(false);
        leases.release(&name).await;
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn alone_every_lease_is_held_and_let_go_at_shutdown() {
        let shutdown = CancellationToken::new();
        let mut held = keep(
            Arc::new(Alone),
            "simulator",
            shutdown.clone(),
            &TaskTracker::new(),
        );
        held.wait_for(|h| *h).await.unwrap();
        shutdown.cancel();
        held.wait_for(|h| !*h).await.unwrap();
    }
}
