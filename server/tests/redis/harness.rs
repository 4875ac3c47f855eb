//! The Redis suite's harness: a `redis-server` of each test's own ([`Redis`]: a free loopback port, a
//! temporary directory, the settings Hearth requires, stopped by its process id on drop), and real Hearth
//! instances on port 0 pointed at it ([`Instance`], in this process through `server::startup`; [`Binary`], the
//! built server binary, for tests that SIGKILL an instance). Every wait is bounded.

pub use crate::flags::Flags;
use clap::Parser as _;
use futures::StreamExt;
use redis::Value;
use server::config::Config;
use server::startup;
use server::state::AppState;
use sse::{Parser, SseEvent};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub const TOKEN: &str = "redis-suite-token";
/// The longest any single wait may take: generous for a shared machine, never reached by a passing test.
pub const WAIT: Duration = Duration::from_secs(15);

/// Where `redis-server` is: `HEARTH_REDIS_SERVER`, else the first on `PATH`, else Debian's path.
fn redis_server() -> PathBuf {
    if let Some(path) = std::env::var_os("HEARTH_REDIS_SERVER") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|p| p.is_file())
    });
    let path = on_path.unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server"));
    assert!(
        path.is_file(),
        "redis-server is not installed, and the Redis suite needs a real one: run `bash scripts/setup.sh` \
         (it installs Debian's redis-server) or `apt-get install redis-server`, or set HEARTH_REDIS_SERVER"
    );
    path
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("bound").port()
}

fn temp_dir(kind: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hearth-redis-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// A `redis-server` of the test's own.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    extra: Vec<String>,
}

impl Redis {
    /// Starts one with the settings Hearth requires.
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// Starts one with `extra` settings on top (later ones win), e.g. `["--appendfsync", "everysec"]`.
    pub fn start_with(extra: &[&str]) -> Redis {
        let mut redis = Redis {
            child: None,
            port: free_port(),
            dir: temp_dir("data"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        redis.launch();
        redis
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("a log file");
        let child = Command::new(redis_server())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--maxmemory-policy", "noeviction", "--daemonize", "no"])
            .args(&self.extra)
            .stdout(Stdio::from(log))
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if self.ping() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within {WAIT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .is_ok_and(|p| p == "PONG")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, by process id.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (its append-only file is read back).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Starts it again on the same port with its data gone.
    pub fn restart_empty(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).expect("the directory again");
        self.launch();
    }

    /// A plain connection for a test to look at what is stored.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("a connection to the test's Redis")
    }

    /// Waits until the producers that publish at start (the sensor's first reading, the camera's first shot) are
    /// done: the log has something and did not grow for 300 ms.
    pub async fn settled(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = usize::MAX;
        loop {
            let len = self.log().len();
            if len > 0 && len == seen {
                return;
            }
            seen = len;
            assert!(
                tokio::time::Instant::now() < deadline,
                "the log never settled after start-up"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
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

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The suite's flags for one instance.
impl Flags {
    fn defaults(redis_url: &str, data_dir: &Path) -> Flags {
        let mut flags = Flags::default();
        flags
            .on("--no-simulator")
            .set("--redis-url", redis_url)
            .set("--data-dir", data_dir.display())
            .set("--token", TOKEN)
            .set("--keepalive-secs", 1)
            .set("--temperature-ms", 3_600_000)
            .set("--random-ms", 3_600_000)
            .set("--shutdown-secs", 2)
            .set("--log", "warn");
        flags
    }
}

/// A Hearth instance in this process.
pub struct Instance {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    server: JoinHandle<anyhow::Result<()>>,
    data_dir: PathBuf,
}

/// The configuration an instance on `redis` gets, changed by `configure`.
pub fn config(redis_url: &str, configure: impl FnOnce(&mut Flags)) -> (Config, PathBuf) {
    let data_dir = temp_dir("instance");
    let mut flags = Flags::defaults(redis_url, &data_dir);
    configure(&mut flags);
    (
        Config::try_parse_from(flags.args()).expect("the harness builds a valid command line"),
        data_dir,
    )
}

/// Starts an instance on `redis` (port 0), changed by `configure`.
pub async fn instance(redis: &Redis, configure: impl FnOnce(&mut Flags)) -> Instance {
    init_tracing();
    let (config, data_dir) = config(&redis.url(), configure);
    startup::init_executor();
    let leptos = startup::leptos_options(config.addr).expect("Leptos options");
    let token = config.token.clone().expect("the harness sets a token");
    let state = startup::build(config, token, leptos).expect("the instance starts on Redis");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("bound");
    let server = tokio::spawn(server::run(listener, state.clone()));
    let instance = Instance {
        addr,
        state,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client"),
        server,
        data_dir,
    };
    instance.wait_healthy().await;
    instance
}

/// Starts an instance with the suite's defaults.
pub async fn plain(redis: &Redis) -> Instance {
    instance(redis, |_| {}).await
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until `/healthz` says the broker is connected.
    pub async fn wait_healthy(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(res) = self.client.get(self.url("/healthz")).send().await {
                if res.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} never became healthy",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs a message with the token; the status and the body.
    pub async fn post_message(&self, text: &str) -> (u16, serde_json::Value) {
        post(
            &self.client,
            &self.url("/message"),
            &serde_json::json!({ "message": text }),
        )
        .await
    }

    pub async fn healthz(&self) -> (u16, serde_json::Value) {
        let res = self
            .client
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("GET /healthz");
        let status = res.status().as_u16();
        (status, res.json().await.expect("JSON"))
    }

    /// Opens an SSE stream, resuming from `last_event_id` (as the header) when given.
    pub async fn sse(&self, path: &str, last_event_id: Option<&str>) -> Sse {
        Sse::open(&self.client, &self.url(path), last_event_id).await
    }
}

/// POSTs `body` as JSON with the token: the status and the JSON answer (`null` when there is none).
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = res.status().as_u16();
    let json = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// An open SSE response, read through the project's own parser.
pub struct Sse {
    url: String,
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    parser: Parser,
    pending: std::collections::VecDeque<SseEvent>,
}

impl Sse {
    pub async fn open(client: &reqwest::Client, url: &str, last_event_id: Option<&str>) -> Sse {
        let mut request = client.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .unwrap_or_else(|_| panic!("GET {url}: no answer within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(response.status(), 200, "GET {url} opens a stream");
        Sse {
            url: url.to_owned(),
            body: Box::pin(response.bytes_stream()),
            parser: Parser::default(),
            pending: Default::default(),
        }
    }

    /// The next event other than a `ping`, or `None` when the stream ended; fails after `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(event) = self.pending.pop_front() {
                if event.event != "ping" {
                    return Some(event);
                }
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.pending.extend(self.parser.feed(&chunk)),
                Ok(Some(Err(_)) | None) => return None,
                Err(_) => panic!("{}: no event within {within:?}", self.url),
            }
        }
    }

    /// The next event other than a `ping`; fails if the stream ends or nothing comes within [`WAIT`].
    pub async fn next(&mut self) -> SseEvent {
        match self.next_within(WAIT).await {
            Some(event) => event,
            None => panic!("{}: the stream ended while an event was expected", self.url),
        }
    }
}

/// An event's id as a number.
pub fn seq(event: &SseEvent) -> u64 {
    event
        .id
        .parse()
        .unwrap_or_else(|_| panic!("event {event:?} has no numeric id"))
}

/// Parses an event's JSON data.
pub fn json(event: &SseEvent) -> serde_json::Value {
    serde_json::from_str(&event.data).unwrap_or_else(|e| panic!("{event:?} is not JSON: {e}"))
}

/// Polls `check` until it holds; fails after [`WAIT`] naming `what`.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {WAIT:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Server logs for a failing test: `HEARTH_TEST_LOG=debug cargo test -p server --test redis`.
fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("HEARTH_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// The built server binary on a port of its own, for tests that SIGKILL an instance.
pub struct Binary {
    child: Child,
    pub url: String,
    data_dir: PathBuf,
}

impl Binary {
    pub async fn start(redis: &Redis, env: &[(&str, &str)]) -> Binary {
        let port = free_port();
        let data_dir = temp_dir("binary");
        #[allow(clippy::zombie_processes)] // reaped in Drop
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("HEARTH_DATA_DIR", &data_dir)
            .env("HEARTH_TOKEN", TOKEN)
            .env("HEARTH_REDIS_URL", redis.url())
            .env("HEARTH_SIMULATOR", "false")
            .env("HEARTH_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let binary = Binary {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data_dir,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(res) = client.get(format!("{}/healthz", binary.url)).send().await {
                if res.status().is_success() {
                    return binary;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server binary did not become healthy within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A TCP relay that holds every chunk for `delay` before passing it on: an instance behind it sees its broker
/// late (its tail lags), as one on a slow or distant link would.
pub struct SlowLink {
    pub port: u16,
    task: JoinHandle<()>,
}

impl SlowLink {
    pub async fn to(redis: &Redis, delay: Duration) -> SlowLink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let port = listener.local_addr().expect("bound").port();
        let target = redis.port;
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, delay));
                tokio::spawn(pump(server_read, client_write, delay));
            }
        });
        SlowLink { port, task }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, each chunk `delay` after it arrived (chunks keep their order).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        let mut to = to;
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
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
    drop(tx);
    let _ = writer.await;
}
