//! Dashboard sessions: random ids handed out as cookies, each with an idle and an absolute lifetime, and a cap
//! on how many exist at once (the least recently used goes first), so a stolen or forgotten cookie stops working
//! and a login flood cannot grow memory without bound.

use super::random_token;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long sessions live and how many there may be.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub absolute: Duration,
    /// At most this many sessions at once.
    pub max: usize,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(7 * 24 * 3600),
            absolute: Duration::from_secs(30 * 24 * 3600),
            max: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Session {
    created: Instant,
    last_seen: Instant,
}

pub struct Sessions {
    ids: Mutex<HashMap<String, Session>>,
    policy: SessionPolicy,
}

impl Sessions {
    pub fn new(policy: SessionPolicy) -> Self {
        Sessions {
            ids: Mutex::new(HashMap::new()),
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Starts a session and returns its id; at the cap, the least recently used session makes room.
    pub fn create(&self) -> String {
        self.create_at(Instant::now())
    }

    /// Whether `id` is a live session; using it keeps it alive (up to its absolute lifetime).
    pub fn contains(&self, id: &str) -> bool {
        self.contains_at(id, Instant::now())
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many sessions exist.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn create_at(&self, now: Instant) -> String {
        let id = random_token();
        let mut ids = self.lock();
        let policy = self.policy;
        ids.retain(|_, s| live(s, now, policy));
        while ids.len() >= policy.max.max(1) {
            let oldest = ids
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(oldest) => ids.remove(&oldest),
                None => break,
            };
        }
        ids.insert(
            id.clone(),
            Session {
                created: now,
                last_seen: now,
            },
        );
        id
    }

    fn contains_at(&self, id: &str, now: Instant) -> bool {
        let mut ids = self.lock();
        let Some(session) = ids.get_mut(id) else {
            return false;
        };
        if live(session, now, self.policy) {
            session.last_seen = now;
            true
        } else {
            ids.remove(id);
            false
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn live(session: &Session, now: Instant, policy: SessionPolicy) -> bool {
    now.duration_since(session.last_seen) < policy.idle
        && now.duration_since(session.created) < policy.absolute
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(max: usize) -> Sessions {
        Sessions::new(SessionPolicy {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(300),
            max,
        })
    }

    #[test]
    fn an_unused_session_ends_after_the_idle_time_and_a_used_one_does_not() {
        let s = sessions(10);
        let t0 = Instant::now();
        let used = s.create_at(t0);
        let unused = s.create_at(t0);
        assert!(s.contains_at(&used, t0 + Duration::from_secs(50)));
        assert!(
            s.contains_at(&used, t0 + Duration::from_secs(100)),
            "kept alive by use"
        );
        assert!(
            !s.contains_at(&unused, t0 + Duration::from_secs(100)),
            "idle too long"
        );
        assert!(!s.contains_at(&unused, t0), "and gone for good");
    }

    #[test]
    fn every_session_ends_at_its_absolute_lifetime() {
        let s = sessions(10);
        let t0 = Instant::now();
        let id = s.create_at(t0);
        let mut t = t0;
        while t < t0 + Duration::from_secs(290) {
            t += Duration::from_secs(50);
            let alive = s.contains_at(&id, t);
            assert_eq!(alive, t < t0 + Duration::from_secs(300), "at {:?}", t - t0);
        }
        assert!(!s.contains_at(&id, t0 + Duration::from_secs(301)));
    }

    #[test]
    fn at_the_cap_the_least_recently_used_session_goes() {
        let s = sessions(2);
        let t0 = Instant::now();
        let a = s.create_at(t0);
        let b = s.create_at(t0 + Duration::from_secs(1));
        assert!(
            s.contains_at(&a, t0 + Duration::from_secs(2)),
            "a used after b"
        );
        let c = s.create_at(t0 + Duration::from_secs(3));
        assert_eq!(s.len(), 2);
        assert!(s.contains_at(&a, t0 + Duration::from_secs(4)));
        assert!(s.contains_at(&c, t0 + Duration::from_secs(4)));
        assert!(
            !s.contains_at(&b, t0 + Duration::from_secs(4)),
            "b was the least recently used"
        );
    }
}
