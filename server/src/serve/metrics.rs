//! What the connection layer counts: open connections, streams held outside hyper, and every connection it closed
//! or refused on its own (limits, deadlines, clients that stopped reading).
//!
//! The counters live here, not with the application's, so that this layer stays free of the application's types;
//! the application reads them ([`ServeMetrics::render`]) and shows them with its own.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges of the connection layer. Cheap to update from any task (relaxed atomics).
#[derive(Debug, Default)]
pub struct ServeMetrics {
    pub(super) connections: Gauge,
    pub(super) streams_direct: Gauge,
    pub(super) refused_total_limit: Count,
    pub(super) refused_per_client: Count,
    pub(super) let_in_over_limit: Count,
    pub(super) timed_out: Count,
    pub(super) stalled: Count,
    pub(super) accept_errors: Count,
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

    /// Prometheus text (exposition format 0.0.4) for every counter, each name starting with `prefix` and `_`.
    pub fn render(&self, prefix: &str) -> String {
        let rows: [(&str, &str, &str, u64); 8] = [
            (
                "connections",
                "gauge",
                "Open client connections.",
                self.connections(),
            ),
            (
                "streams_direct",
                "gauge",
                "Open SSE streams held outside hyper by the direct writer.",
                self.streams_direct(),
            ),
            (
                "connections_refused_total",
                "counter",
                "Connections refused at the connection limit (not logged in, or the reserve full).",
                self.refused_total_limit(),
            ),
            (
                "connections_refused_per_client_total",
                "counter",
                "Connections refused because their client address held its share.",
                self.refused_per_client(),
            ),
            (
                "connections_let_in_over_limit_total",
                "counter",
                "Connections over a limit let in because their request carried a credential.",
                self.let_in_over_limit(),
            ),
            (
                "connections_timed_out_total",
                "counter",
                "Connections closed waiting for a request head (idle keep-alive, slow or no head).",
                self.timed_out(),
            ),
            (
                "connections_stalled_total",
                "counter",
                "Connections cut because the client stopped reading.",
                self.stalled(),
            ),
            (
                "accept_errors_total",
                "counter",
                "Failed accepts (most likely out of file descriptors).",
                self.accept_errors(),
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {prefix}_{name} {help}\n# TYPE {prefix}_{name} {kind}\n{prefix}_{name} {value}"
            );
        }
        out
    }
}

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub(super) struct Count(AtomicU64);

impl Count {
    pub(super) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A number of open things, counted up while a [`GaugeGuard`] lives.
#[derive(Debug, Default)]
pub(super) struct Gauge(AtomicU64);

impl Gauge {
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    pub(super) fn open(&self) -> GaugeGuard<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(self)
    }
    pub(super) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub(super) fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Holds one count of a [`Gauge`].
pub(super) struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_counter_under_the_given_prefix() {
        let m = ServeMetrics::default();
        m.timed_out.inc();
        let _open = m.connections.open();
        let text = m.render("app");
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
        let _connections = (m.connections.open(), m.connections.open());
        let _direct = m.streams_direct.open();
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

        let text = m.render("app");

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
