//! What the server counts, rendered as Prometheus text on `/metrics`. A leaf: the hub, the streams and the
//! routes all count into one [`Metrics`], which knows nothing of them.

use crate::serve::ServeMetrics;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A count of things open right now. Each is counted by a [`Held`] for as long as it lives, so a count can never
/// leak on an early return or a panic; one watcher may wait for it to change ([`Gauge::changed`]).
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicU64,
    changed: Notify,
}

impl Gauge {
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    /// Counts one up until the returned guard is dropped.
    pub fn hold(self: &Arc<Self>) -> Held {
        self.value.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_one();
        Held(Arc::clone(self))
    }

    /// Resolves after the next change (or at once if one happened since the last call). Meant for one watcher:
    /// the viewer-count publisher.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// One count of a [`Gauge`], given back on drop.
#[derive(Debug)]
pub struct Held(Arc<Gauge>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.value.fetch_sub(1, Ordering::Relaxed);
        self.0.changed.notify_one();
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Open SSE streams of any route.
    pub subscribers: Arc<Gauge>,
    /// Open dashboard streams (`/events`, `/live-users`): the viewer count.
    pub viewers: Arc<Gauge>,
    pub events_published: Counter,
    /// Counted per batch a stream takes from the hub, not per event: one shared atomic bumped ~800,000 times a
    /// second from every core was measurable.
    pub events_delivered: Counter,
    /// Streams ended because the subscriber fell a whole queue behind.
    pub slow_consumers_dropped: Counter,
    /// Resumes served from the replay buffer.
    pub replay_hits: Counter,
    /// Resumes that could not be served and got a `reset` instead.
    pub replay_resets: Counter,
    /// Subscriptions refused because the server was at its limit.
    pub subscribers_refused: Counter,
    /// The connection layer's own counts (connections, limits, deadlines, streams held outside hyper).
    pub serve: Arc<ServeMetrics>,
    /// The broker, when the hub has one.
    pub broker: BrokerMetrics,
}

/// What a broker-backed hub reports: rendered only when one is configured.
#[derive(Debug, Default)]
pub struct BrokerMetrics {
    pub enabled: AtomicBool,
    /// 1 while the tail follows the broker's log.
    pub connected: AtomicU64,
    /// How far behind the log the last read ran, in milliseconds.
    pub tail_lag_ms: AtomicU64,
    /// The newest id seen in the broker's log.
    pub last_id: AtomicU64,
}

impl BrokerMetrics {
    fn render(&self, out: &mut String) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let rows = [
            (
                "hearth_broker_connected",
                "1 while the broker's log is followed.",
                &self.connected,
            ),
            (
                "hearth_broker_tail_lag_ms",
                "How far behind the broker's log delivery ran on the last read.",
                &self.tail_lag_ms,
            ),
            (
                "hearth_broker_last_id",
                "The newest id seen in the broker's log.",
                &self.last_id,
            ),
        ];
        for (name, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
    }
}

/// One row of the exposition: a counter or a gauge, read now.
enum Value<'a> {
    Counter(&'a Counter),
    Gauge(&'a Gauge),
}

impl Metrics {
    /// Clients given up on for not keeping up: their stream fell a whole queue behind, or their connection
    /// stopped taking bytes (the connection layer's `connections_stalled`). One stuck client can be both.
    pub fn clients_given_up(&self) -> u64 {
        self.slow_consumers_dropped.get() + self.serve.stalled()
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, Value<'_>); 8] = [
            (
                "hearth_subscribers",
                "Open SSE streams.",
                Value::Gauge(&self.subscribers),
            ),
            (
                "hearth_viewers",
                "Open dashboard streams.",
                Value::Gauge(&self.viewers),
            ),
            (
                "hearth_events_published_total",
                "Events published to the hub.",
                Value::Counter(&self.events_published),
            ),
            (
                "hearth_events_delivered_total",
                "Events written to subscriber streams.",
                Value::Counter(&self.events_delivered),
            ),
            (
                "hearth_slow_consumers_dropped_total",
                "Streams ended because the subscriber fell a whole queue behind.",
                Value::Counter(&self.slow_consumers_dropped),
            ),
            (
                "hearth_replay_hits_total",
                "Resumes served from the replay buffer.",
                Value::Counter(&self.replay_hits),
            ),
            (
                "hearth_replay_resets_total",
                "Resumes answered with a reset.",
                Value::Counter(&self.replay_resets),
            ),
            (
                "hearth_subscribers_refused_total",
                "Subscriptions refused at the limit.",
                Value::Counter(&self.subscribers_refused),
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in rows {
            let (kind, value) = match value {
                Value::Counter(c) => ("counter", c.get()),
                Value::Gauge(g) => ("gauge", g.get()),
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out.push_str(&self.serve.render("hearth"));
        self.broker.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_in_prometheus_text() {
        let m = Metrics::default();
        m.events_published.add(3);
        let text = m.render();
        assert!(text.contains(
            "# TYPE hearth_events_published_total counter\nhearth_events_published_total 3\n"
        ));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 8 + 8);
        assert!(text.contains("\nhearth_streams_direct 0\n"));
    }

    /// The whole exposition for a known state, byte for byte: what dashboards and alerts scrape must not move
    /// when the code behind it does.
    #[test]
    fn the_exposition_is_pinned() {
        let m = Metrics::default();
        let _subscribers = (m.subscribers.hold(), m.subscribers.hold());
        let _viewer = m.viewers.hold();
        m.events_published.add(7);
        m.events_delivered.add(11);
        m.slow_consumers_dropped.inc();
        m.replay_hits.add(2);
        m.replay_resets.add(3);
        m.subscribers_refused.add(4);
        m.broker.enabled.store(true, Ordering::Relaxed);
        m.broker.connected.store(1, Ordering::Relaxed);
        m.broker.tail_lag_ms.store(42, Ordering::Relaxed);
        m.broker.last_id.fetch_max(99, Ordering::Relaxed);

        let text = m.render();

        assert_eq!(text, PINNED, "got:\n{text}");
    }

    const PINNED: &str = "\
# HELP hearth_subscribers Open SSE streams.
# TYPE hearth_subscribers gauge
hearth_subscribers 2
# HELP hearth_viewers Open dashboard streams.
# TYPE hearth_viewers gauge
hearth_viewers 1
# HELP hearth_events_published_total Events published to the hub.
# TYPE hearth_events_published_total counter
hearth_events_published_total 7
# HELP hearth_events_delivered_total Events written to subscriber streams.
# TYPE hearth_events_delivered_total counter
hearth_events_delivered_total 11
# HELP hearth_slow_consumers_dropped_total Streams ended because the subscriber fell a whole queue behind.
# TYPE hearth_slow_consumers_dropped_total counter
hearth_slow_consumers_dropped_total 1
# HELP hearth_replay_hits_total Resumes served from the replay buffer.
# TYPE hearth_replay_hits_total counter
hearth_replay_hits_total 2
# HELP hearth_replay_resets_total Resumes answered with a reset.
# TYPE hearth_replay_resets_total counter
hearth_replay_resets_total 3
# HELP hearth_subscribers_refused_total Subscriptions refused at the limit.
# TYPE hearth_subscribers_refused_total counter
hearth_subscribers_refused_total 4
# HELP hearth_connections Open client connections.
# TYPE hearth_connections gauge
hearth_connections 0
# HELP hearth_streams_direct Open SSE streams held outside hyper by the direct writer.
# TYPE hearth_streams_direct gauge
hearth_streams_direct 0
# HELP hearth_connections_refused_total Connections refused at the connection limit (not logged in, or the reserve full).
# TYPE hearth_connections_refused_total counter
hearth_connections_refused_total 0
# HELP hearth_connections_refused_per_client_total Connections refused because their client address held its share.
# TYPE hearth_connections_refused_per_client_total counter
hearth_connections_refused_per_client_total 0
# HELP hearth_connections_let_in_over_limit_total Connections over a limit let in because their request carried a credential.
# TYPE hearth_connections_let_in_over_limit_total counter
hearth_connections_let_in_over_limit_total 0
# HELP hearth_connections_timed_out_total Connections closed waiting for a request head (idle keep-alive, slow or no head).
# TYPE hearth_connections_timed_out_total counter
hearth_connections_timed_out_total 0
# HELP hearth_connections_stalled_total Connections cut because the client stopped reading.
# TYPE hearth_connections_stalled_total counter
hearth_connections_stalled_total 0
# HELP hearth_accept_errors_total Failed accepts (most likely out of file descriptors).
# TYPE hearth_accept_errors_total counter
hearth_accept_errors_total 0
# HELP hearth_broker_connected 1 while the broker's log is followed.
# TYPE hearth_broker_connected gauge
hearth_broker_connected 1
# HELP hearth_broker_tail_lag_ms How far behind the broker's log delivery ran on the last read.
# TYPE hearth_broker_tail_lag_ms gauge
hearth_broker_tail_lag_ms 42
# HELP hearth_broker_last_id The newest id seen in the broker's log.
# TYPE hearth_broker_last_id gauge
hearth_broker_last_id 99
";

    #[tokio::test]
    async fn a_gauge_counts_what_is_held_and_says_when_it_changes() {
        let gauge = Arc::new(Gauge::default());
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
