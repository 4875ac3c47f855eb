//! The reconnect policy: exponential backoff with jitter, pure so it can be tested without a browser.

use std::time::Duration;

/// When and how often [`use_event_source`](super::use_event_source) reconnects after the connection drops.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Delay before the first retry.
    pub initial: Duration,
    /// The delay never grows past this.
    pub max: Duration,
    /// Each failed attempt multiplies the delay by this.
    pub multiplier: f64,
    /// Fraction of the delay that is randomised (0 = none, 1 = anywhere from 0 to the full delay), so that
    /// thousands of dashboards dropped by one server restart do not all come back in the same millisecond.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (`None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.3,
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// Never reconnect: the first drop closes the source.
    pub fn never() -> Self {
        ReconnectPolicy {
            max_attempts: Some(0),
            ..Self::default()
        }
    }

    /// The delay before retry number `attempt` (1-based), given `random` drawn uniformly from `[0, 1)`.
    /// Returns `None` when the policy has given up.
    pub fn delay(&self, attempt: u32, random: f64) -> Option<Duration> {
        if attempt == 0 || self.max_attempts.is_some_and(|max| attempt > max) {
            return None;
        }
        let exp = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let base = (self.initial.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        // Jitter takes away up to `jitter` of the delay: the cap stays a cap.
        let delay = base * (1.0 - jitter * random.clamp(0.0, 1.0));
        Some(Duration::from_secs_f64(delay.max(0.0)))
    }
}

/// Counts failed attempts in a row under a policy: a successful open starts the count again.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The connection opened: the next drop is a first attempt again.
    pub fn opened(&mut self) {
        self.attempt = 0;
    }

    /// The connection dropped: returns the attempt number and the delay before it, or `None` to give up.
    pub fn dropped(&mut self, policy: &ReconnectPolicy, random: f64) -> Option<(u32, Duration)> {
        self.attempt = self.attempt.saturating_add(1);
        policy
            .delay(self.attempt, random)
            .map(|d| (self.attempt, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> ReconnectPolicy {
        ReconnectPolicy {
            jitter: 0.0,
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn backoff_doubles_and_stops_at_the_cap() {
        let p = no_jitter();
        let ms = |a| p.delay(a, 0.5).unwrap().as_millis();
        assert_eq!([ms(1), ms(2), ms(3), ms(4)], [500, 1000, 2000, 4000]);
        assert_eq!(ms(7), 30_000);
        assert_eq!(ms(1000), 30_000);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let p = ReconnectPolicy::default();
        for attempt in 1..12 {
            let full = no_jitter().delay(attempt, 0.0).unwrap();
            for r in [0.0, 0.25, 0.5, 0.999] {
                let d = p.delay(attempt, r).unwrap();
                assert!(d <= full, "jitter must not exceed the un-jittered delay");
                assert!(d.as_secs_f64() >= full.as_secs_f64() * (1.0 - p.jitter) - 1e-9);
            }
        }
        assert_ne!(p.delay(3, 0.0), p.delay(3, 0.9));
    }

    #[test]
    fn limited_policy_gives_up_after_max_attempts() {
        let p = ReconnectPolicy {
            max_attempts: Some(2),
            ..no_jitter()
        };
        assert!(p.delay(2, 0.0).is_some());
        assert_eq!(p.delay(3, 0.0), None);
        assert_eq!(ReconnectPolicy::never().delay(1, 0.0), None);
    }

    #[test]
    fn a_successful_open_resets_the_backoff() {
        let p = no_jitter();
        let mut b = Backoff::default();
        assert_eq!(b.dropped(&p, 0.0), Some((1, Duration::from_millis(500))));
        assert_eq!(b.dropped(&p, 0.0), Some((2, Duration::from_millis(1000))));
        b.opened();
        assert_eq!(b.dropped(&p, 0.0), Some((1, Duration::from_millis(500))));
    }
}
