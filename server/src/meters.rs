//! The two kinds of meter Hearth counts with, each a thin layer over `prometheus-client`'s own so that one
//! registry renders them all: a [`Counter`] that only goes up, and a [`HeldGauge`], a number of things open right
//! now, counted by guards ([`Held`]) so that a count can never leak on an early return or a panic.
//!
//! A leaf, used by the application's metrics and by the connection layer alike: it knows neither.

use prometheus_client::metrics::counter;
use prometheus_client::metrics::gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::Notify;

/// The crate ends every help text with a period: a sentence written whole here gets only one.
fn help_text(sentence: &str) -> &str {
    sentence.strip_suffix('.').unwrap_or(sentence)
}

/// A monotonically increasing count. Cheap to update from any task (a relaxed atomic).
#[derive(Debug, Default)]
pub struct Counter(counter::Counter<u64, AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.0.inc();
    }

    pub fn add(&self, n: u64) {
        self.0.inc_by(n);
    }

    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// Shows it in `registry` as `name` with `_total` added (the exposition names every counter so).
    pub fn register(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(name, help_text(help), self.0.clone());
    }
}

/// A count of things open right now. Each is counted by a [`Held`] for as long as it lives; one watcher may wait
/// for the count to change ([`HeldGauge::changed`]).
#[derive(Debug, Default)]
pub struct HeldGauge {
    value: gauge::Gauge<u64, AtomicU64>,
    changed: Notify,
}

impl HeldGauge {
    pub fn get(&self) -> u64 {
        self.value.get()
    }

    /// Counts one up until the returned guard is dropped.
    pub fn hold(self: &Arc<Self>) -> Held {
        self.value.inc();
        self.changed.notify_one();
        Held(Arc::clone(self))
    }

    /// Resolves after the next change (or at once if one happened since the last call). Meant for one watcher:
    /// the viewer-count publisher.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Shows it in `registry` as `name`.
    pub fn register(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(name, help_text(help), self.value.clone());
    }
}

/// One count of a [`HeldGauge`], given back on drop.
#[derive(Debug)]
pub struct Held(Arc<HeldGauge>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.value.dec();
        self.0.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gauge_counts_what_is_held_and_says_when_it_changes() {
        let gauge = Arc::new(HeldGauge::default());
        let a = gauge.hold();
        let b = gauge.hold();
        assert_eq!(gauge.get(), 2);
        gauge.changed().await; // the holds above left a change to see
        drop(a);
        tokio::time::timeout(std::time::Duration::from_secs(1), gauge.changed())
            .await
            .expect("a drop is a change");
        drop(b);
        assert_eq!(gauge.get(), 0);
    }
}
