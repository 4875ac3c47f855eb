//! What instances share besides the event log: each one's viewer count, leases (who runs the simulator, who
//! runs a job), dashboard sessions and each one's list of Mercure subscriptions. [`RedisShared`] offers them as plain operations on the broker; the parts that
//! need them (viewers, leases, sessions) say what they need as traits of their own and are given this.
//!
//! Every operation is one short command or script on the command connection, refused at once while the broker
//! is away (the callers decide what that means: a viewer count stays as it was, a lease is not held).

use super::link::Link;
use super::scripts::{self, VIEWERS};
use crate::hub::HubError;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

/// A handle on the shared data; cheap to clone.
#[derive(Clone)]
pub struct RedisShared {
    link: Arc<Link>,
    /// This process's name among the instances (random, new at every start).
    instance: Arc<str>,
}

impl RedisShared {
    pub(super) fn new(link: Arc<Link>) -> Self {
        RedisShared {
            link,
            instance: format!("{:016x}", rand::rng().random::<u64>()).into(),
        }
    }

    /// This instance's name among the others.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn failed(&self, e: &redis::RedisError) -> HubError {
        self.link.failed(e);
        HubError::Unavailable(format!("Redis: {e}"))
    }

    /// Records this instance's viewer count, standing for `ttl` unless reported again, and returns the total
    /// over every instance whose count still stands.
    pub async fn tally_viewers(&self, count: u64, ttl: Duration) -> Result<u64, HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        scripts::PRESENCE
            .key(VIEWERS)
            .arg(&*self.instance)
            .arg(count)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))
    }

    /// Takes the lease `name` for `ttl`, or renews it if this instance holds it; whether it holds it now.
    pub async fn lease(&self, name: &str, ttl: Duration) -> Result<bool, HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        let held: i64 = scripts::LEASE
            .key(scripts::lease(name))
            .arg(&*self.instance)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(held == 1)
    }

    /// Gives the lease `name` back if this instance holds it.
    pub async fn release(&self, name: &str) -> Result<(), HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        let _: i64 = scripts::RELEASE
            .key(scripts::lease(name))
            .arg(&*self.instance)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(())
    }

    /// Stores a session created at `created_ms`, kept for `ttl`.
    pub async fn put_session(
        &self,
        id: &str,
        created_ms: i64,
        ttl: Duration,
    ) -> Result<(), HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        redis::cmd("SET")
            .arg(scripts::session(id))
            .arg(created_ms)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.failed(&e))
    }

    /// When the session was created, if it exists.
    pub async fn session(&self, id: &str) -> Result<Option<i64>, HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        redis::cmd("GET")
            .arg(scripts::session(id))
            .query_async::<Option<i64>>(&mut conn)
            .await
            .map_err(|e| self.failed(&e))
    }

    /// Writes this instance's list of Mercure subscriptions, standing for `ttl` unless written again.
    pub async fn put_subscriptions(&self, list: &str, ttl: Duration) -> Result<(), HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        redis::pipe()
            .cmd("SET")
            .arg(scripts::subscription_list(&self.instance))
            .arg(list)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .ignore()
            .cmd("SADD")
            .arg(scripts::SUBSCRIPTION_LISTS)
            .arg(&*self.instance)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.failed(&e))
    }

    /// Every live instance's list of Mercure subscriptions; instances whose list expired are forgotten.
    pub async fn all_subscriptions(&self) -> Result<Vec<String>, HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        let instances: Vec<String> = redis::cmd("SMEMBERS")
            .arg(scripts::SUBSCRIPTION_LISTS)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))?;
        if instances.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = instances
            .iter()
            .map(|i| scripts::subscription_list(i))
            .collect();
        let lists: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))?;
        let gone: Vec<&String> = instances
            .iter()
            .zip(&lists)
            .filter(|(_, list)| list.is_none())
            .map(|(instance, _)| instance)
            .collect();
        if !gone.is_empty() {
            redis::cmd("SREM")
                .arg(scripts::SUBSCRIPTION_LISTS)
                .arg(gone)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.failed(&e))?;
        }
        Ok(lists.into_iter().flatten().collect())
    }

    /// Ends the session.
    pub async fn remove_session(&self, id: &str) -> Result<(), HubError> {
        let mut conn = self.link.connection_within(super::LINK_WAIT).await?;
        redis::cmd("DEL")
            .arg(scripts::session(id))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.failed(&e))
    }
}
