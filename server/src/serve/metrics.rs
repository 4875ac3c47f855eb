//! What the connection layer counts: open connections, streams held outside hyper, and every connection it closed
//! or refused on its own (limits, deadlines, clients that stopped reading).
//!
//! The meters live here, not with the application's, so that this layer stays free of the application's types:
//! it registers them into whatever registry it is handed ([`ServeMetrics::register`]), under that registry's
//! prefix, and the application renders them with its own.

use crate::meters::{Counter, HeldGauge};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Counters and gauges of the connection layer. Cheap to update from any task (relaxed atomics).
#[derive(Debug, Default)]
pub struct ServeMetrics {
    pub(super) connections: Arc<HeldGauge>,
    pub(super) streams_direct: Arc<HeldGauge>,
    pub(super) refused_total_limit: Counter,
    pub(super) refused_per_client: Counter,
    pub(super) let_in_over_limit: Counter,
    pub(super) timed_out: Counter,
    pub(super) stalled: Counter,
    pub(super) accept_errors: Counter,
}

impl ServeMetrics {
    /// Open client connections, whatever they carry.
    pub fn connections(&self) -> u64 {
        self.connections.get()
    }
    /// Open event streams written by the direct writer, outside hyper.
    pub fn streams_direct(&self) -> u64 {
        self.streams_direct.get()
    }
    /// Connections refused because the server was at its connection limit (or its reserve was full).
    pub fn refused_total_limit(&self) -> u64 {
        self.refused_total_limit.get()
    }
    /// Connections refused because their client address held its share already.
    pub fn refused_per_client(&self) -> u64 {
        self.refused_per_client.get()
    }
    /// Connections over a limit let in because their request was privileged (a logged-in dashboard).
    pub fn let_in_over_limit(&self) -> u64 {
        self.let_in_over_limit.get()
    }
    /// Connections closed because a request head did not come in time (idle keep-alive, slow or absent head).
    pub fn timed_out(&self) -> u64 {
        self.timed_out.get()
    }
    /// Connections cut because a write made no progress for the stall period: the client stopped reading.
    pub fn stalled(&self) -> u64 {
        self.stalled.get()
    }
    /// Failed `accept` calls (most likely out of file descriptors).
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.get()
    }

    /// Registers every meter in `registry`, each name after the registry's prefix.
    pub fn register(&self, registry: &mut Registry) {
        self.connections
            .register(registry, "connections", "Open client connections.");
        self.streams_direct.register(
            registry,
            "streams_direct",
            "Open SSE streams held outside hyper by the direct writer.",
        );
        let counters = [
            (
                &self.refused_total_limit,
                "connections_refused",
                "Connections refused at the connection limit (not logged in, or the reserve full).",
            ),
            (
                &self.refused_per_client,
                "connections_refused_per_client",
                "Connections refused because their client address held its share.",
            ),
            (
                &self.let_in_over_limit,
                "connections_let_in_over_limit",
                "Connections over a limit let in because their request carried a credential.",
            ),
            (
                &self.timed_out,
                "connections_timed_out",
                "Connections closed waiting for a request head (idle keep-alive, slow or no head).",
            ),
            (
                &self.stalled,
                "connections_stalled",
                "Connections cut because the client stopped reading.",
            ),
            (
                &self.accept_errors,
                "accept_errors",
                "Failed accepts (most likely out of file descriptors).",
            ),
        ];
        for (counter, name, help) in counters {
            counter.register(registry, name, help);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::prometheus_text;

    /// The rows as the application shows them, under `prefix`.
    fn render(m: &ServeMetrics, prefix: &str) -> String {
        let mut registry = Registry::with_prefix(prefix);
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn renders_every_counter_under_the_given_prefix() {
        let m = ServeMetrics::default();
        m.timed_out.inc();
        let _open = m.connections.hold();
        let text = render(&m, "app");
        assert!(text.contains(
            "# TYPE app_connections_timed_out_total counter\napp_connections_timed_out_total 1\n"
        ));
        assert!(text.contains("\napp_connections 1\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 8);
    }

    /// Every row for a known state, byte for byte, each count different so that no two rows can swap unseen.
    #[test]
    fn the_exposition_is_pinned() {
        let m = ServeMetrics::default();
        let _connections = (m.connections.hold(), m.connections.hold());
        let _direct = m.streams_direct.hold();
        let counts = [
            (&m.refused_total_limit, 3),
            (&m.refused_per_client, 4),
            (&m.let_in_over_limit, 5),
            (&m.timed_out, 6),
            (&m.stalled, 7),
            (&m.accept_errors, 8),
        ];
        for (count, n) in counts {
            (0..n).for_each(|_| count.inc());
        }

        let text = render(&m, "app");

        assert_eq!(text, PINNED, "got:\n{text}");
    }

    const PINNED: &str = "\
# HELP app_connections Open client connections.
# TYPE app_connections gauge
app_connections 2
# HELP app_streams_direct Open SSE streams held outside hyper by the direct writer.
# TYPE app_streams_direct gauge
app_streams_direct 1
# HELP app_connections_refused_total Connections refused at the connection limit (not logged in, or the reserve full).
# TYPE app_connections_refused_total counter
app_connections_refused_total 3
# HELP app_connections_refused_per_client_total Connections refused because their client address held its share.
# TYPE app_connections_refused_per_client_total counter
app_connections_refused_per_client_total 4
# HELP app_connections_let_in_over_limit_total Connections over a limit let in because their request carried a credential.
# TYPE app_connections_let_in_over_limit_total counter
app_connections_let_in_over_limit_total 5
# HELP app_connections_timed_out_total Connections closed waiting for a request head (idle keep-alive, slow or no head).
# TYPE app_connections_timed_out_total counter
app_connections_timed_out_total 6
# HELP app_connections_stalled_total Connections cut because the client stopped reading.
# TYPE app_connections_stalled_total counter
app_connections_stalled_total 7
# HELP app_accept_errors_total Failed accepts (most likely out of file descriptors).
# TYPE app_accept_errors_total counter
app_accept_errors_total 8
";
}
