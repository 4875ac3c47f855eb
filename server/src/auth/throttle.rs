//! Attempts counted per client address: past a few in a window, that address is refused until the window
//! passes. Used for failed credentials (past a few failures an address gets 429 for the rest of the minute, right
//! token or not, so a token cannot be guessed at network speed) and for session lookups in a shared store (so
//! unknown session ids cannot make every request a round trip to it). Clients are counted by their
//! [`ClientKey`] (IPv6 per /64, since one host usually holds a whole /64).
//!
//! The table is bounded, and no window in it is forgotten before it has passed: forgetting the oldest to make
//! room would let an attacker with enough addresses reset the window of its own first one. While the table is
//! full of live windows, every address it has no room for counts in one shared window instead, so an attacker
//! with more addresses than the table holds still has one budget for the rest of them (and so, for that minute,
//! does any other newcomer: a session cookie already issued keeps working).

use crate::client_key::ClientKey;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Addresses tracked at most; past it, addresses not in the table share one window.
const MAX_TRACKED: usize = 10_000;

pub struct Throttle {
    table: Mutex<Table>,
    /// Attempts allowed per window.
    limit: u32,
    window: Duration,
}

#[derive(Default)]
struct Table {
    windows: HashMap<ClientKey, AttemptWindow>,
    /// The window of every address counted while the table had no room for it.
    overflow: Option<AttemptWindow>,
}

#[derive(Debug, Clone, Copy)]
struct AttemptWindow {
    started: Instant,
    attempts: u32,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            table: Mutex::default(),
            limit: limit.max(1),
            window,
        }
    }

    /// `Some(seconds to wait)` while `client` has used up its attempts.
    pub fn blocked(&self, client: Option<IpAddr>) -> Option<u64> {
        self.blocked_at(key(client), Instant::now())
    }

    /// Counts one attempt from `client`.
    pub fn count(&self, client: Option<IpAddr>) {
        self.count_at(key(client), Instant::now());
    }

    fn blocked_at(&self, client: ClientKey, now: Instant) -> Option<u64> {
        let table = self.lock();
        let w = table.windows.get(&client).or(table.overflow.as_ref())?;
        let age = now.duration_since(w.started);
        (w.attempts >= self.limit && age < self.window)
            .then(|| (self.window - age).as_secs().max(1))
    }

    fn count_at(&self, client: ClientKey, now: Instant) {
        let window = self.window;
        let mut table = self.lock();
        let table = &mut *table;
        if table.windows.len() >= MAX_TRACKED && !table.windows.contains_key(&client) {
            table
                .windows
                .retain(|_, w| now.duration_since(w.started) < window);
        }
        let w = if table.windows.len() < MAX_TRACKED || table.windows.contains_key(&client) {
            table.windows.entry(client).or_insert(AttemptWindow {
                started: now,
                attempts: 0,
            })
        } else {
            table.overflow.get_or_insert(AttemptWindow {
                started: now,
                attempts: 0,
            })
        };
        if now.duration_since(w.started) >= window {
            *w = AttemptWindow {
                started: now,
                attempts: 0,
            };
        }
        w.attempts = w.attempts.saturating_add(1);
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key attempts are counted under; an unknown client under one shared key.
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
            t.count_at(a, t0);
        }
        assert_eq!(t.blocked_at(a, t0 + Duration::from_secs(1)), Some(59));
        assert_eq!(t.blocked_at(b, t0), None, "another address is not affected");
        assert_eq!(
            t.blocked_at(a, t0 + Duration::from_secs(61)),
            None,
            "the window passed"
        );
        t.count_at(a, t0 + Duration::from_secs(61));
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
        t.count(Some(guesser));
        t.count(Some(guesser));
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

    /// An attacker with more addresses (IPv6: /64s) than the table tracks guesses from each until it is refused,
    /// then from new ones: none of that may push its own first, refused address out of the table and so give it
    /// a fresh window; and the addresses the table has no room for share one budget.
    #[test]
    fn an_attacker_with_more_addresses_than_the_table_holds_cannot_reset_its_own_window() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        let address = |i: u32| {
            key(Some(IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(i) << 64,
            ))))
        };
        for i in 0..(MAX_TRACKED as u32 + 50) {
            let now = t0 + Duration::from_millis(u64::from(i) / 100);
            t.count_at(address(i), now);
            t.count_at(address(i), now);
        }
        let later = t0 + Duration::from_secs(30);
        assert!(
            t.blocked_at(address(0), later).is_some(),
            "the first address is still refused"
        );
        assert!(
            t.blocked_at(address(MAX_TRACKED as u32 + 60), later).is_some(),
            "an address the table has no room for is refused with the others it shares a budget with"
        );
        assert!(t.lock().windows.len() <= MAX_TRACKED);
        assert_eq!(
            t.blocked_at(address(0), t0 + Duration::from_secs(61)),
            None,
            "until the window passes"
        );
    }

    #[test]
    fn ipv6_is_counted_per_64_and_the_table_is_bounded() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        t.count_at(key(Some("2001:db8::1".parse().unwrap())), now);
        t.count_at(key(Some("2001:db8::2".parse().unwrap())), now);
        assert!(t
            .blocked_at(key(Some("2001:db8::3".parse().unwrap())), now)
            .is_some());
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.count_at(key(Some(IpAddr::V4(std::net::Ipv4Addr::from(i)))), now);
        }
        assert!(t.lock().windows.len() <= MAX_TRACKED);
    }
}
