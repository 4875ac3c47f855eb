//! The connection to Redis for commands: one multiplexed connection that every caller shares (pipelined, so
//! a hundred concurrent publishes are a hundred frames on one socket, not a hundred sockets), replaced by a
//! supervisor when it breaks.
//!
//! Why hand-made and not the crate's reconnecting manager: a write must be answered quickly when the broker is
//! gone, and the answer must be a refusal, not a retry loop hidden inside the client. Here a broken connection
//! is dropped at once, every caller is refused (503) until the supervisor has a new one, and each command has
//! a response deadline so a broker that hangs (stopped, partitioned) counts as gone too.
//!
//! The tail does not use this connection: `XREAD BLOCK` would hold up every command queued behind it.

use crate::hub::HubError;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

/// How long a command may take before the connection counts as broken.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Waits between connection attempts while the broker is away.
const BACKOFF: [Duration; 4] = [
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// Waits before connection attempt number `attempt` (counting it), longer each time up to a second; false when
/// `stop` came first.
pub async fn back_off(attempt: &mut usize, stop: &CancellationToken) -> bool {
    let wait = BACKOFF[(*attempt).min(BACKOFF.len() - 1)];
    *attempt += 1;
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

pub struct Link {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Why there is no connection, when there is none.
    problem: Mutex<Option<String>>,
    broken: Notify,
    /// Whether there is a connection, for callers that may wait a moment for one.
    up: watch::Sender<bool>,
}

impl Link {
    /// A link with no connection yet: [`Link::run`] makes it.
    pub fn new(client: redis::Client) -> Arc<Self> {
        Arc::new(Link {
            client,
            conn: Mutex::new(None),
            problem: Mutex::new(Some("not connected yet".into())),
            broken: Notify::new(),
            up: watch::Sender::new(false),
        })
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    fn conn(&self) -> MutexGuard<'_, Option<MultiplexedConnection>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn problem_slot(&self) -> MutexGuard<'_, Option<String>> {
        self.problem.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared connection, or why there is none (an immediate refusal: nothing waits for a broker that is
    /// away).
    pub fn connection(&self) -> Result<MultiplexedConnection, HubError> {
        self.conn().clone().ok_or_else(|| {
            let why = self
                .problem()
                .unwrap_or_else(|| "the broker is not connected".into());
            HubError::Unavailable(format!("Redis: {why}"))
        })
    }

    pub fn is_up(&self) -> bool {
        self.conn().is_some()
    }

    /// The connection, waiting at most `within` for one (a write at start-up, or right after the broker came
    /// back, need not be refused for the milliseconds a connection takes).
    pub async fn connection_within(
        &self,
        within: Duration,
    ) -> Result<MultiplexedConnection, HubError> {
        if !self.is_up() {
            let mut up = self.up.subscribe();
            let _ = tokio::time::timeout(within, up.wait_for(|up| *up)).await;
        }
        self.connection()
    }

    pub fn problem(&self) -> Option<String> {
        self.problem_slot().clone()
    }

    /// Takes note of a failed command: when the connection itself is in doubt it is dropped (callers are
    /// refused from now on) and the supervisor makes a new one. Errors the broker answered with (a script's
    /// error, `LOADING` while it reads its files) leave the connection as it is.
    pub fn failed(&self, error: &RedisError) {
        if broken(error) {
            if self.conn().take().is_some() {
                tracing::warn!(error = %error, "lost the Redis connection");
            }
            self.up.send_replace(false);
            *self.problem_slot() = Some(error.to_string());
            self.broken.notify_one();
        }
    }

    /// Keeps a connection up until `stop`: connects, and connects again whenever it breaks.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut attempt = 0;
        loop {
            if self.conn().is_none() {
                match tokio::select! {
                    _ = stop.cancelled() => return,
                    c = connect(&self.client, RESPONSE_TIMEOUT) => c,
                } {
                    Ok(conn) => {
                        if attempt > 0 {
                            tracing::info!(attempt, "connected to Redis again");
                        }
                        attempt = 0;
                        *self.conn() = Some(conn);
                        *self.problem_slot() = None;
                        self.up.send_replace(true);
                    }
                    Err(e) => {
                        *self.problem_slot() = Some(e.to_string());
                        if !back_off(&mut attempt, &stop).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.broken.notified() => {}
            }
        }
    }
}

/// A new connection whose commands time out after `response_timeout`.
pub async fn connect(
    client: &redis::Client,
    response_timeout: Duration,
) -> Result<MultiplexedConnection, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Whether an error puts the connection itself in doubt (rather than being the broker's answer).
pub fn broken(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}
