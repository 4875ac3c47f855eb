//! What the server counts, rendered as Prometheus text on `/metrics`. A leaf: the hub, the streams and the
//! routes all count into one [`Metrics`], which knows nothing of them.
//!
//! Every meter is registered once, when [`Metrics`] is made, in one `prometheus-client` registry, and
//! [`Metrics::render`] is that crate's text encoder: the connection layer registers its own meters into the part
//! of the registry it is handed, and the broker's and the MQTT bridge's are read when a scrape comes, if there is
//! one.

use crate::meters::{Counter, HeldGauge};
use crate::serve::ServeMetrics;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Every name below starts with this and `_`.
const PREFIX: &str = "hearth";

#[derive(Debug)]
pub struct Metrics {
    /// Open SSE streams of any route.
    pub subscribers: Arc<HeldGauge>,
    /// Open dashboard streams (`/events`, `/live-users`): the viewer count.
    pub viewers: Arc<HeldGauge>,
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
    pub broker: Arc<BrokerMetrics>,
    /// The MQTT bridge, when a broker of devices is configured.
    pub mqtt: Arc<MqttMetrics>,
    /// Everything above, registered once.
    registry: Registry,
}

/// What a broker-backed hub reports: rendered only when one is configured. Plain atomics the hub sets as it
/// reads the broker's log, read when a scrape comes.
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

impl Collector for BrokerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        let rows = [
            (
                "broker_connected",
                "1 while the broker's log is followed.",
                &self.connected,
            ),
            (
                "broker_tail_lag_ms",
                "How far behind the broker's log delivery ran on the last read.",
                &self.tail_lag_ms,
            ),
            (
                "broker_last_id",
                "The newest id seen in the broker's log.",
                &self.last_id,
            ),
        ];
        for (name, help, value) in rows {
            let gauge = ConstGauge::new(value.load(Ordering::Relaxed));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

/// What the MQTT bridge reports: rendered only once a bridge enabled it. Plain atomics the bridge sets, read when
/// a scrape comes, and its skips by reason, every reason shown from the start so a dashboard sees a zero rise.
#[derive(Debug, Default)]
pub struct MqttMetrics {
    enabled: AtomicBool,
    /// 1 while the MQTT broker is reached.
    pub connected: AtomicU64,
    /// Entities the bridge follows.
    pub entities: AtomicU64,
    /// MQTT messages received.
    pub messages: AtomicU64,
    /// Commands handed to the broker.
    pub commands: AtomicU64,
    configs_skipped: Reasons,
    states_ignored: Reasons,
}

/// Counts by reason.
#[derive(Debug, Default)]
struct Reasons(Mutex<Vec<(&'static str, u64)>>);

impl Reasons {
    fn rows(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, u64)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn declare(&self, reasons: &[&'static str]) {
        let mut rows = self.rows();
        for reason in reasons {
            if !rows.iter().any(|(r, _)| r == reason) {
                rows.push((reason, 0));
            }
        }
    }

    fn count(&self, reason: &'static str) {
        let mut rows = self.rows();
        match rows.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => rows.push((reason, 1)),
        }
    }

    fn get(&self, reason: &str) -> u64 {
        self.rows()
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    fn encode(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
    ) -> Result<(), std::fmt::Error> {
        let rows = self.rows().clone();
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (reason, n) in rows {
            let labels = [("reason", reason)];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl MqttMetrics {
    /// Shows the bridge's rows from now on, with these reasons at zero.
    pub fn enable(&self, skip_reasons: &[&'static str], ignore_reasons: &[&'static str]) {
        self.configs_skipped.declare(skip_reasons);
        self.states_ignored.declare(ignore_reasons);
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// A discovery config (or device list) skipped for `reason`.
    pub fn skipped(&self, reason: &'static str) {
        self.configs_skipped.count(reason);
    }

    /// A state message ignored for `reason`.
    pub fn ignored(&self, reason: &'static str) {
        self.states_ignored.count(reason);
    }

    pub fn skipped_for(&self, reason: &str) -> u64 {
        self.configs_skipped.get(reason)
    }

    pub fn ignored_for(&self, reason: &str) -> u64 {
        self.states_ignored.get(reason)
    }
}

impl Collector for MqttMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        let gauges = [
            (
                "mqtt_connected",
                "1 while the MQTT broker is reached.",
                &self.connected,
            ),
            (
                "entities",
                "Entities the MQTT bridge follows.",
                &self.entities,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value.load(Ordering::Relaxed));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let counters = [
            ("mqtt_messages", "MQTT messages received.", &self.messages),
            (
                "mqtt_commands",
                "Commands handed to the MQTT broker.",
                &self.commands,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value.load(Ordering::Relaxed));
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        self.configs_skipped.encode(
            &mut encoder,
            "mqtt_configs_skipped",
            "Discovery configs and device lists skipped, by reason.",
        )?;
        self.states_ignored.encode(
            &mut encoder,
            "mqtt_states_ignored",
            "State messages ignored because they do not fit their entity, by reason.",
        )
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            subscribers: Arc::default(),
            viewers: Arc::default(),
            events_published: Counter::default(),
            events_delivered: Counter::default(),
            slow_consumers_dropped: Counter::default(),
            replay_hits: Counter::default(),
            replay_resets: Counter::default(),
            subscribers_refused: Counter::default(),
            serve: Arc::default(),
            broker: Arc::default(),
            mqtt: Arc::default(),
            registry: Registry::with_prefix(PREFIX),
        };
        metrics.register();
        metrics
    }
}

impl Metrics {
    /// Registers every meter, in the order `/metrics` has always listed them: the application's, the
    /// connection layer's, the broker's.
    fn register(&mut self) {
        let r = &mut self.registry;
        self.subscribers
            .register(r, "subscribers", "Open SSE streams.");
        self.viewers
            .register(r, "viewers", "Open dashboard streams.");
        let counters = [
            (
                &self.events_published,
                "events_published",
                "Events published to the hub.",
            ),
            (
                &self.events_delivered,
                "events_delivered",
                "Events written to subscriber streams.",
            ),
            (
                &self.slow_consumers_dropped,
                "slow_consumers_dropped",
                "Streams ended because the subscriber fell a whole queue behind.",
            ),
            (
                &self.replay_hits,
                "replay_hits",
                "Resumes served from the replay buffer.",
            ),
            (
                &self.replay_resets,
                "replay_resets",
                "Resumes answered with a reset.",
            ),
            (
                &self.subscribers_refused,
                "subscribers_refused",
                "Subscriptions refused at the limit.",
            ),
        ];
        for (counter, name, help) in counters {
            counter.register(r, name, help);
        }
        // Parts of the registry under the same prefix, rendered after the rows above in this order.
        self.serve
            .register(r.sub_registry_with_labels(std::iter::empty()));
        r.sub_registry_with_labels(std::iter::empty())
            .register_collector(Box::new(Arc::clone(&self.broker)));
        r.sub_registry_with_labels(std::iter::empty())
            .register_collector(Box::new(Arc::clone(&self.mqtt)));
    }

    /// Clients given up on for not keeping up: their stream fell a whole queue behind, or their connection
    /// stopped taking bytes (the connection layer's `connections_stalled`). One stuck client can be both.
    pub fn clients_given_up(&self) -> u64 {
        self.slow_consumers_dropped.get() + self.serve.stalled()
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
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
        m.mqtt.enable(&["not_json", "too_large"], &["not_text"]);
        m.mqtt.connected.store(1, Ordering::Relaxed);
        m.mqtt.entities.store(3, Ordering::Relaxed);
        m.mqtt.messages.store(12, Ordering::Relaxed);
        m.mqtt.commands.store(2, Ordering::Relaxed);
        m.mqtt.skipped("not_json");
        m.mqtt.skipped("not_json");
        m.mqtt.ignored("not_text");

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
# HELP hearth_mqtt_connected 1 while the MQTT broker is reached.
# TYPE hearth_mqtt_connected gauge
hearth_mqtt_connected 1
# HELP hearth_entities Entities the MQTT bridge follows.
# TYPE hearth_entities gauge
hearth_entities 3
# HELP hearth_mqtt_messages_total MQTT messages received.
# TYPE hearth_mqtt_messages_total counter
hearth_mqtt_messages_total 12
# HELP hearth_mqtt_commands_total Commands handed to the MQTT broker.
# TYPE hearth_mqtt_commands_total counter
hearth_mqtt_commands_total 2
# HELP hearth_mqtt_configs_skipped_total Discovery configs and device lists skipped, by reason.
# TYPE hearth_mqtt_configs_skipped_total counter
hearth_mqtt_configs_skipped_total{reason=\"not_json\"} 2
hearth_mqtt_configs_skipped_total{reason=\"too_large\"} 0
# HELP hearth_mqtt_states_ignored_total State messages ignored because they do not fit their entity, by reason.
# TYPE hearth_mqtt_states_ignored_total counter
hearth_mqtt_states_ignored_total{reason=\"not_text\"} 1
";
}
