//! Failed credential attempts, counted per client address: past a few failures in a window, that address is
//! refused (429) until the window passes, right token or not, so a token cannot be guessed at network speed.
//! Clients are counted by their [`ClientKey`] (IPv6 per /64, since one host usually holds a whole /64).

use crate::client_key::ClientKey;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Addresses tracked at most; past it, the oldest windows are forgotten first.
const MAX_TRACKED: usize = 10_000;

pub struct Throttle {
    windows: Mutex<HashMap<ClientKey, FailureWindow>>,
    /// Failures allowed per window.
    limit: u32,
    window: Duration,
}

#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    started: Instant,
    failures: u32,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            windows: Mutex::new(HashMap::new()),
            limit: limit.max(1),
            window,
        }
    }

    /// `Some(seconds to wait)` while `client` has used up its failures.
    pub fn blocked(&self, client: Option<IpAddr>) -> Option<u64> {
        self.blocked_at(key(client), Instant::now())
    }

    /// Counts one failed attempt from `client`.
    pub fn failed(&self, client: Option<IpAddr>) {
        self.failed_at(key(client), Instant::now());
    }

    fn blocked_at(&self, client: ClientKey, now: Instant) -> Option<u64> {
        let windows = self.lock();
        let w = windows.get(&client)?;
        let age = now.duration_since(w.started);
        (w.failures >= self.limit && age < self.window)
            .then(|| (self.window - age).as_secs().max(1))
    }

    fn failed_at(&self, client: ClientKey, now: Instant) {
        let mut windows = self.lock();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&client) {
            let window = self.window;
            windows.retain(|_, w| now.duration_since(w.started) < window);
            if windows.len() >= MAX_TRACKED {
                if let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(a, _)| *a)
                {
                    windows.remove(&oldest);
                }
            }
        }
        let w = windows.entry(client).or_insert(FailureWindow {
            started: now,
            failures: 0,
        });
        if now.duration_since(w.started) >= self.window {
            *w = FailureWindow {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ClientKey, FailureWindow>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key failures are counted under; an unknown client under one shared key.
fn key(client: Option<IpAddr>) -> ClientKey {
    client.map_or(ClientKey::UNKNOWN, ClientKey::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_passes() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let a = key(Some("10.0.0.1".parse().unwrap()));
        let b = key(Some("10.0.0.2".parse().unwrap()));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.blocked_at(a, t0), None);
            t.failed_at(a, t0);
        }
        assert_eq!(t.blocked_at(a, t0 + Duration::from_secs(1)), Some(59));
        assert_eq!(t.blocked_at(b, t0), None, "another address is not affected");
        assert_eq!(
            t.blocked_at(a, t0 + Duration::from_secs(61)),
            None,
            "the window passed"
        );
        t.failed_at(a, t0 + Duration::from_secs(61));
        assert_eq!(
            t.blocked_at(a, t0 + Duration::from_secs(62)),
            None,
            "a fresh window"
        );
    }

    /// On a dual-stack listener (`[::]`) every IPv4 client arrives as `::ffff:a.b.c.d`: one client's failures
    /// lock out that client only, not every IPv4 client.
    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_counted_apart() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let guesser: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
        let owner: IpAddr = "::ffff:1.2.3.5".parse().unwrap();
        t.failed(Some(guesser));
        t.failed(Some(guesser));
        assert!(t.blocked(Some(guesser)).is_some());
        assert_eq!(
            t.blocked(Some(owner)),
            None,
            "another IPv4 client is not locked out"
        );
        assert!(
            t.blocked(Some("1.2.3.4".parse().unwrap())).is_some(),
            "the same client, however it arrives"
        );
    }

    #[test]
    fn ipv6_is_counted_per_64_and_the_table_is_bounded() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        t.failed_at(key(Some("2001:db8::1".parse().unwrap())), now);
        t.failed_at(key(Some("2001:db8::2".parse().unwrap())), now);
        assert!(t
            .blocked_at(key(Some("2001:db8::3".parse().unwrap())), now)
            .is_some());
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.failed_at(key(Some(IpAddr::V4(std::net::Ipv4Addr::from(i)))), now);
        }
        assert!(t.lock().len() <= MAX_TRACKED);
    }
}
