//! Counters the hub and the streams keep, rendered as Prometheus text on `/metrics`.

use crate::serve::ServeMetrics;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A monotonically increasing counter (or a gauge, with `dec`).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Counts one up while the returned guard lives (a gauge of open things).
    pub fn open(&self) -> Open<'_> {
        self.inc();
        Open(self)
    }
}

/// Holds one count of a gauge; see [`Counter::open`].
pub struct Open<'a>(&'a Counter);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Open SSE streams of any route.
    pub subscribers: Counter,
    /// Open dashboard streams (`/events`, `/live-users`): the viewer count.
    pub viewers: Counter,
    pub events_published: Counter,
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
}

impl Metrics {
    /// Streams ended because their subscriber fell behind: a whole queue behind, or no longer reading at all
    /// (the connection layer cut it).
    pub fn slow_consumers_dropped_total(&self) -> u64 {
        self.slow_consumers_dropped.get() + self.serve.stalled()
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let slow_consumers = Counter(AtomicU64::new(self.slow_consumers_dropped_total()));
        let rows: [(&str, &str, &str, &Counter); 8] = [
            (
                "hearth_subscribers",
                "gauge",
                "Open SSE streams.",
                &self.subscribers,
            ),
            (
                "hearth_viewers",
                "gauge",
                "Open dashboard streams.",
                &self.viewers,
            ),
            (
                "hearth_events_published_total",
                "counter",
                "Events published to the hub.",
                &self.events_published,
            ),
            (
                "hearth_events_delivered_total",
                "counter",
                "Events written to subscriber streams.",
                &self.events_delivered,
            ),
            (
                "hearth_slow_consumers_dropped_total",
                "counter",
                "Streams ended because the subscriber fell behind.",
                &slow_consumers,
            ),
            (
                "hearth_replay_hits_total",
                "counter",
                "Resumes served from the replay buffer.",
                &self.replay_hits,
            ),
            (
                "hearth_replay_resets_total",
                "counter",
                "Resumes answered with a reset.",
                &self.replay_resets,
            ),
            (
                "hearth_subscribers_refused_total",
                "counter",
                "Subscriptions refused at the limit.",
                &self.subscribers_refused,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, counter) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                counter.get()
            );
        }
        out.push_str(&self.serve.render("hearth"));
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
}
