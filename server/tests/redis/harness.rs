//! The Redis suite's harness, beside the shared kit (`tests/common`, re-exported here so the tests import from
//! one place): Hearth instances on a test's own Redis, in this process ([`instance`]) or as the built binary
//! ([`binary`], for tests that SIGKILL one); what Hearth keeps in Redis, read back ([`Redis::log`]); and a relay
//! to it that can be slowed or moved to another broker ([`Relay`]).

pub use crate::common::*;
use redis::Value;
use server::config::Config;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::{AbortHandle, JoinHandle};

/// Starts an instance in this process on `redis` (port 0), changed by `configure`; ready once it follows the
/// broker.
pub async fn instance(redis: &Redis, configure: impl FnOnce(&mut Flags)) -> TestApp {
    Launch::new()
        .redis(&redis.url())
        .flags(configure)
        .spawn()
        .await
}

/// Starts an instance with the kit's defaults.
pub async fn plain(redis: &Redis) -> TestApp {
    instance(redis, |_| {}).await
}

/// The configuration an instance on the Redis at `redis_url` starts with.
pub fn config(redis_url: &str) -> Config {
    Launch::new().redis(redis_url).config()
}

/// Starts the built server binary on `redis`, with `env` on top.
pub async fn binary(redis: &Redis, env: &[(&str, &str)]) -> ServerProcess {
    let url = redis.url();
    let mut all = vec![("HEARTH_REDIS_URL", url.as_str())];
    all.extend_from_slice(env);
    ServerProcess::start(&all).await
}

/// Resumes `path` on `instance` from `id` and checks the stream starts over with a `reset` (`why` says which
/// id it was, for the failure message).
pub async fn starts_over(instance: &TestApp, path: &str, id: &str, why: &str) {
    let mut stream = instance.sse_from(path, Some(id)).await;
    let first = stream.next_event().await;
    assert_eq!(
        first.event, "reset",
        "{why} ({id}) on {}: {first:?}",
        instance.addr
    );
}

/// The texts of the messages in `instance`'s state, newest first.
pub fn message_texts(instance: &TestApp) -> Vec<String> {
    let snapshot = instance.state.hub.snapshot();
    snapshot
        .messages
        .iter()
        .map(|m| m.message.clone())
        .collect()
}

/// What Hearth keeps in a test's Redis, read back.
impl Redis {
    /// Waits until the producers that publish at start (the sensor's first reading, the camera's first shot) are
    /// done: the log has something and did not grow for 300 ms.
    pub async fn settled(&self) {
        eventually("the log to settle after start-up", || async {
            let before = self.log().len();
            tokio::time::sleep(Duration::from_millis(300)).await;
            before > 0 && self.log().len() == before
        })
        .await;
    }

    /// The event ids in the log, oldest first, with their topics.
    pub fn log(&self) -> Vec<(u64, String)> {
        self.entries()
            .into_iter()
            .map(|(id, topic, _)| (id, topic))
            .collect()
    }

    /// The log's entries, oldest first: id, topic, data.
    pub fn entries(&self) -> Vec<(u64, String, String)> {
        let reply: Value = redis::cmd("XRANGE")
            .arg("{hearth}:log")
            .arg("-")
            .arg("+")
            .query(&mut self.conn())
            .expect("XRANGE");
        let Value::Array(entries) = reply else {
            return Vec::new();
        };
        entries
            .iter()
            .map(|entry| {
                let Value::Array(parts) = entry else {
                    panic!("an entry: {entry:?}")
                };
                let id: String = redis::from_redis_value_ref(&parts[0]).unwrap();
                let fields: Vec<String> = redis::from_redis_value_ref(&parts[1]).unwrap();
                let id = id.strip_prefix("0-").unwrap().parse().unwrap();
                (id, fields[1].clone(), fields[3].clone())
            })
            .collect()
    }
}

/// A TCP relay to a broker: what an instance's `--redis-url` names when a test moves the broker under it (a
/// failover, [`Relay::switch_to`]) or slows its link (every chunk held for `delay`, so its tail lags, as on a
/// slow or distant link).
pub struct Relay {
    pub port: u16,
    target: Arc<AtomicU16>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    task: JoinHandle<()>,
}

impl Relay {
    pub async fn to(redis: &Redis, delay: Duration) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let port = listener.local_addr().expect("bound").port();
        let target = Arc::new(AtomicU16::new(redis.port));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let task = tokio::spawn({
            let (target, connections) = (Arc::clone(&target), Arc::clone(&connections));
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let to = target.load(Ordering::SeqCst);
                    let relayed = tokio::spawn(relay(client, to, delay));
                    connections.lock().unwrap().push(relayed.abort_handle());
                }
            }
        });
        Relay {
            port,
            target,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends new connections to `redis` and cuts every open one, as a failover to another broker does.
    pub fn switch_to(&self, redis: &Redis) {
        self.target.store(redis.port, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

/// Relays one connection to the broker on `port`, both ways, until either side closes (or the task is aborted:
/// everything of the connection lives in this one task, so aborting it closes both sockets).
async fn relay(client: tokio::net::TcpStream, port: u16, delay: Duration) {
    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, delay),
        pump(server_read, client_write, delay)
    );
}

/// Copies `from` to `to`, each chunk `delay` after it arrived (chunks keep their order).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((tokio::time::Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(read, write);
}
