//! Dashboard sessions: random ids handed out as cookies, each with an idle and an absolute lifetime, and a cap
//! on how many exist at once (the least recently used goes first), so a stolen or forgotten cookie stops working
//! and a login flood cannot grow memory without bound.
//!
//! With several instances a [`SessionStore`] (Redis) is where sessions live, and the map here is this
//! instance's cache of them: a login is stored there before it is answered, an instance that meets a cookie it
//! does not know looks it up there ([`Sessions::learn`]), and a logout removes it there (or is refused when it
//! cannot: a logout answered as done must hold everywhere). The absolute lifetime
//! holds everywhere (the store keeps a session no longer, and its creation time comes with it); the idle
//! lifetime and the cap are each instance's own.

use super::random_token;
use crate::clock::now_ms;
use crate::hub::RedisShared;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where sessions are kept when every instance must know them.
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a session created at `created_ms` (milliseconds since the epoch) for at most `ttl`.
    fn put(
        &self,
        id: &str,
        created_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), String>>;
    /// When the session was created, if it exists.
    fn created(&self, id: &str) -> BoxFuture<'static, Result<Option<i64>, String>>;
    /// Ends the session everywhere.
    fn remove(&self, id: &str) -> BoxFuture<'static, Result<(), String>>;
}

impl SessionStore for RedisShared {
    fn put(
        &self,
        id: &str,
        created_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), String>> {
        let (shared, id) = (self.clone(), id.to_owned());
        Box::pin(async move {
            shared
                .put_session(&id, created_ms, ttl)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn created(&self, id: &str) -> BoxFuture<'static, Result<Option<i64>, String>> {
        let (shared, id) = (self.clone(), id.to_owned());
        Box::pin(async move { shared.session(&id).await.map_err(|e| e.to_string()) })
    }

    fn remove(&self, id: &str) -> BoxFuture<'static, Result<(), String>> {
        let (shared, id) = (self.clone(), id.to_owned());
        Box::pin(async move { shared.remove_session(&id).await.map_err(|e| e.to_string()) })
    }
}

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
    /// When the store last confirmed it (or it was made here): a logout on another instance is noticed at
    /// the first lookup after [`REVERIFY_AFTER`].
    verified: Instant,
}

/// How long a cached session is trusted without asking the store again.
const REVERIFY_AFTER: Duration = Duration::from_secs(5);

pub struct Sessions {
    ids: Mutex<HashMap<String, Session>>,
    policy: SessionPolicy,
    /// Where sessions live when there are several instances.
    store: Option<Arc<dyn SessionStore>>,
}

/// How long a lookup in the store may take before the session counts as unknown.
const STORE_WAIT: Duration = Duration::from_secs(2);

impl Sessions {
    pub fn new(policy: SessionPolicy) -> Self {
        Sessions {
            ids: Mutex::new(HashMap::new()),
            policy,
            store: None,
        }
    }

    /// Sessions kept in `store`, this map being a cache of them.
    pub fn with_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Starts a session, stored where every instance finds it before this returns; its id.
    pub async fn create_shared(&self) -> Result<String, String> {
        let id = self.create();
        if let Some(store) = &self.store {
            let stored =
                tokio::time::timeout(STORE_WAIT, store.put(&id, now_ms(), self.policy.absolute))
                    .await
                    .unwrap_or_else(|_| Err("the session store did not answer".into()));
            if let Err(e) = stored {
                self.remove(&id);
                return Err(e);
            }
        }
        Ok(id)
    }

    /// Looks up in the store a session this instance does not know (or has not had confirmed for a while),
    /// and keeps it if it is live there — or forgets it if it was ended elsewhere.
    pub async fn learn(&self, id: &str) {
        let Some(store) = &self.store else { return };
        let known = self
            .lock()
            .get(id)
            .map(|s| s.verified.elapsed() < REVERIFY_AFTER);
        if known == Some(true) {
            return;
        }
        let created = match tokio::time::timeout(STORE_WAIT, store.created(id)).await {
            Ok(Ok(Some(created))) => created,
            Ok(Ok(None)) => {
                self.remove(id);
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot look a session up");
                return;
            }
            Err(_) => return,
        };
        let age =
            Duration::from_millis(u64::try_from(now_ms().saturating_sub(created)).unwrap_or(0));
        let now = Instant::now();
        let Some(created) = now.checked_sub(age) else {
            return;
        };
        if age < self.policy.absolute {
            let mut ids = self.lock();
            let session = ids.entry(id.to_owned()).or_insert(Session {
                created,
                last_seen: now,
                verified: now,
            });
            session.verified = now;
        }
    }

    /// Ends a session in the store, then here; an error when the store did not confirm it (the session then
    /// lives on everywhere, this instance included: a logout is either done everywhere or refused, never
    /// answered as done while another instance, or this one after a restart, would take the cookie again).
    pub async fn remove_shared(&self, id: &str) -> Result<(), String> {
        if let Some(store) = &self.store {
            let removed = tokio::time::timeout(STORE_WAIT, store.remove(id))
                .await
                .unwrap_or_else(|_| Err("the session store did not answer".into()));
            if let Err(e) = removed {
                tracing::warn!(error = %e, "cannot end the session in the store; the logout is refused");
                return Err(e);
            }
        }
        self.remove(id);
        Ok(())
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
                verified: now,
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
