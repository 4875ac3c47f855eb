//! What the bridge counts: whether it reaches the broker, how many entities it follows, and every config it
//! skipped and state it ignored, by reason, so bad input from the broker is visible on `/metrics` instead of
//! silently dropped (or logged a thousand times).

use super::discovery::Skip;
use super::spec::Ignored;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct MqttMetrics {
    /// 1 while connected to the broker.
    pub connected: AtomicU64,
    /// Entities announced on the broker and taken.
    pub entities: AtomicU64,
    /// MQTT messages received.
    pub messages: AtomicU64,
    /// Commands handed to the broker.
    pub commands: AtomicU64,
    skipped: [AtomicU64; Skip::REASONS.len()],
    ignored: [AtomicU64; Ignored::REASONS.len()],
}

impl MqttMetrics {
    pub fn skipped(&self, skip: &Skip) {
        count(&self.skipped, &Skip::REASONS, skip.reason());
    }

    pub fn ignored(&self, ignored: &Ignored) {
        count(&self.ignored, &Ignored::REASONS, ignored.reason());
    }

    /// Configs skipped for `reason` so far.
    pub fn skipped_for(&self, reason: &str) -> u64 {
        read(&self.skipped, &Skip::REASONS, reason)
    }

    /// States ignored for `reason` so far.
    pub fn ignored_for(&self, reason: &str) -> u64 {
        read(&self.ignored, &Ignored::REASONS, reason)
    }

    /// The rows in Prometheus text.
    pub fn render(&self, out: &mut String) {
        let rows = [
            (
                "hearth_mqtt_connected",
                "gauge",
                "1 while the MQTT broker is reached.",
                &self.connected,
            ),
            (
                "hearth_entities",
                "gauge",
                "Entities the MQTT bridge follows.",
                &self.entities,
            ),
            (
                "hearth_mqtt_messages_total",
                "counter",
                "MQTT messages received.",
                &self.messages,
            ),
            (
                "hearth_mqtt_commands_total",
                "counter",
                "Commands handed to the MQTT broker.",
                &self.commands,
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        labelled(
            out,
            "hearth_mqtt_configs_skipped_total",
            "Discovery configs and device lists skipped, by reason.",
            &Skip::REASONS,
            &self.skipped,
        );
        labelled(
            out,
            "hearth_mqtt_states_ignored_total",
            "State messages ignored because they do not fit the entity, by reason.",
            &Ignored::REASONS,
            &self.ignored,
        );
    }
}

fn count(counters: &[AtomicU64], reasons: &[&str], reason: &str) {
    if let Some(i) = reasons.iter().position(|r| *r == reason) {
        counters[i].fetch_add(1, Ordering::Relaxed);
    }
}

fn read(counters: &[AtomicU64], reasons: &[&str], reason: &str) -> u64 {
    reasons
        .iter()
        .position(|r| *r == reason)
        .map_or(0, |i| counters[i].load(Ordering::Relaxed))
}

fn labelled(out: &mut String, name: &str, help: &str, reasons: &[&str], counters: &[AtomicU64]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (reason, value) in reasons.iter().zip(counters) {
        let _ = writeln!(
            out,
            "{name}{{reason=\"{reason}\"}} {}",
            value.load(Ordering::Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_and_ignored_states_are_counted_by_reason() {
        let m = MqttMetrics::default();
        m.skipped(&Skip::NotJson("x".into()));
        m.skipped(&Skip::NotJson("y".into()));
        m.ignored(&Ignored::NotText);
        assert_eq!(m.skipped_for("not_json"), 2);
        let mut text = String::new();
        m.render(&mut text);
        assert!(
            text.contains("hearth_mqtt_configs_skipped_total{reason=\"not_json\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("hearth_mqtt_states_ignored_total{reason=\"not_text\"} 1\n"));
        assert!(text.contains("hearth_mqtt_configs_skipped_total{reason=\"too_large\"} 0\n"));
        assert!(text.contains("\nhearth_mqtt_connected 0\n"));
    }
}
