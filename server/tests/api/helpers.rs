//! The test harness: [`spawn_app`] starts the real server on port 0 with a fresh data directory
//! and a known token, and [`SseStream`] reads its streams over TCP through the project's own spec-exact
//! parser, so a framing bug cannot hide behind a lenient client. Every wait is bounded.
//!
//! The suite runs once per way of serving connections: `HEARTH_TEST_SERVE=hyper` serves every app with hyper
//! alone, unset or `direct` with the direct stream writer (the default). [`serve_mode`] says which, for the few
//! tests whose expectations differ.

pub use crate::flags::Flags;
use app::contract::{Message, Payload, Topic, TopicSet};
use bytes::Bytes;
use clap::Parser as _;
use futures::{Stream, StreamExt};
use server::config::Config;
use server::event::Event;
use server::hub::SubscribeRequest;
use server::startup;
use server::state::AppState;
use sse::{Parser, SseEvent};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// The write credential every test app is started with.
pub const TOKEN: &str = "integration-test-token";
/// The `retry:` delay every test app sends: not the default, so the tests see it comes from the config.
pub const RETRY_MS: u64 = 1234;
/// Every SSE route that needs no set-up (the job stream needs a job, so tests open it apart).
pub const SSE_ROUTES: [&str; 6] = [
    "/events",
    "/live-users",
    "/smart-home",
    "/temperatures",
    "/stream-random-numbers",
    "/eventstream",
];
/// How long any single wait may take before the test fails. Generous, because the machine is shared; a
/// passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// How this run's apps serve connections, from `HEARTH_TEST_SERVE` (`direct` when unset).
pub fn serve_mode() -> server::config::ServeMode {
    use clap::ValueEnum as _;
    match std::env::var("HEARTH_TEST_SERVE") {
        Ok(mode) => server::config::ServeMode::from_str(&mode, true)
            .unwrap_or_else(|e| panic!("HEARTH_TEST_SERVE={mode:?}: {e}")),
        Err(_) => server::config::ServeMode::Direct,
    }
}

/// Whether this run's apps hold event streams outside hyper.
pub fn direct() -> bool {
    serve_mode() == server::config::ServeMode::Direct
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub token: String,
    /// The server's own state: cancel `state.shutdown`, publish through `state.hub`, read `state.metrics`.
    pub state: AppState,
    pub client: reqwest::Client,
    /// `server::run`'s future, spawned.
    pub server: JoinHandle<anyhow::Result<()>>,
    data_dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Starts the server on 127.0.0.1:0 with the harness defaults (no simulator, sensors practically silent,
/// 1 s keep-alives, a fresh data directory, token [`TOKEN`]) changed by `configure`.
pub async fn spawn_app(configure: impl FnOnce(&mut Flags)) -> TestApp {
    init_tracing();
    let data_dir = fresh_data_dir();
    let mut flags = Flags::default();
    flags
        .on("--no-simulator")
        .set("--data-dir", data_dir.display())
        .set("--token", TOKEN)
        .set("--keepalive-secs", 1)
        .set("--retry-ms", RETRY_MS)
        // The sensors always run; an hour between readings keeps them out of the way of tests that count
        // events. Tests of those routes speed them up.
        .set("--temperature-ms", 3_600_000)
        .set("--random-ms", 3_600_000)
        .set("--shutdown-secs", 5)
        .set("--serve", if direct() { "direct" } else { "hyper" })
        // Raw-socket tests name the server `hearth` in their `Host` headers.
        .set("--allowed-hosts", "hearth")
        // No stream slots kept back for logged-in clients: a test of the stream limit counts every slot.
        .set("--reserved-streams", 0);
    configure(&mut flags);
    let config =
        Config::try_parse_from(flags.args()).expect("the harness builds a valid command line");
    startup::prepare_data_dir(&config.data_dir).expect("a fresh data directory is usable");
    startup::init_executor();
    // As the binary configures Leptos when built without cargo-leptos.
    let leptos = startup::leptos_options(config.addr).expect("Leptos options");
    let token = config
        .token
        .clone()
        .expect("the harness always sets a token");
    let state = startup::build(config, token.clone(), leptos).expect("the test app's store opens");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    // The sensors (and the camera) publish a first reading as soon as they start. Wait for them all, so that a test which counts
    // hub events or sequence ids starts from a quiet hub instead of racing those first readings.
    let sensors = TopicSet::of(&[Topic::Temperature, Topic::Random, Topic::Camera]);
    let mut readings = state
        .hub
        .subscribe(SubscribeRequest {
            topics: sensors,
            last_event_id: None,
            state_stands_in: false,
        })
        .await
        .live;
    let server = tokio::spawn(server::run(listener, state.clone()));
    // (A hub that refuses writes, as a test of a full disk makes it, stores no reading: then only the live one.)
    let (mut temperature, mut camera, mut random) = (false, false, false);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(((temperature && camera) || !state.hub.health().ok) && random) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sensors published no first reading within {WAIT:?}"
        );
        let event = match tokio::time::timeout(Duration::from_millis(100), readings.recv()).await {
            Ok(Ok(event)) => event,
            Ok(Err(RecvError::Lagged(_))) | Err(_) => continue,
            Ok(Err(RecvError::Closed)) => panic!("the hub closed while the app starts"),
        };
        temperature |= event.topic == Topic::Temperature;
        camera |= event.topic == Topic::Camera;
        random |= event.topic == Topic::Random;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a plain HTTP client");
    TestApp {
        addr,
        token: token.expose().to_owned(),
        state,
        client,
        server,
        data_dir,
    }
}

/// `spawn_app` with the harness defaults.
pub async fn spawn_default() -> TestApp {
    spawn_app(|_| {}).await
}

fn fresh_data_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hearth-api-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Server logs for a failing test: `HEARTH_TEST_LOG=debug cargo test -p server --test api`.
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

impl TestApp {
    /// Where this app keeps its state (the store is `hearth.db` in it).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.state.config.data_dir
    }

    /// The store, opened beside the running app (SQLite allows readers beside the writer).
    pub fn store(&self) -> server::store::Store {
        server::store::Store::open(self.data_dir()).expect("the app's store opens")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs `body` as JSON with the right token.
    pub async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST reaches the server")
    }

    /// POSTs a message the way the tutorial's client does, and checks it was accepted.
    pub async fn post_message(&self, text: &str) -> serde_json::Value {
        let body = serde_json::json!({ "message": text }).to_string();
        let response = self.post_json("/message", &body).await;
        assert_eq!(response.status(), 201, "POST /message {text:?} is accepted");
        response.json().await.expect("POST /message answers JSON")
    }

    /// Publishes straight into the hub, as the server's own producers do (no HTTP, no validation).
    pub async fn publish(&self, payload: Payload) -> Arc<Event> {
        publish(&self.state, payload).await
    }

    /// Publishes a message straight into the hub (no HTTP, no length limit); its id will be its event's.
    pub async fn publish_message(&self, text: &str) -> Arc<Event> {
        self.publish(message(text)).await
    }

    /// Publishes a message without waiting for it to be committed (its id is assigned at once): a burst of
    /// these is queued before any subscriber can run, so it reaches them as fast as the hub can deliver.
    pub fn publish_message_now(&self, text: &str) -> server::hub::Publish {
        self.state.hub.publish(message(text))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the server")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// One counter's value from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics_text().await;
        metric_value(&text, name)
            .unwrap_or_else(|| panic!("/metrics has no sample for {name}:\n{text}"))
    }

    /// Opens an SSE stream and checks the response is one.
    pub async fn sse(&self, path: &str) -> SseStream {
        self.sse_from(path, None).await
    }

    /// Opens an SSE stream resuming from `last_event_id` (sent as the `Last-Event-ID` header).
    pub async fn sse_from(&self, path: &str, last_event_id: Option<&str>) -> SseStream {
        self.sse_client().open(path, last_event_id).await
    }

    /// A handle that opens streams from spawned tasks.
    pub fn sse_client(&self) -> SseClient {
        SseClient {
            client: self.client.clone(),
            base: self.url(""),
        }
    }
}

/// Opens SSE streams on one test app; cheap to clone into spawned tasks.
#[derive(Clone)]
pub struct SseClient {
    client: reqwest::Client,
    base: String,
}

impl SseClient {
    /// Opens `path`, sending `Last-Event-ID` when given, and checks the response is an event stream.
    pub async fn open(&self, path: &str, last_event_id: Option<&str>) -> SseStream {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .unwrap_or_else(|_| panic!("GET {path}: no response headers within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        SseStream::new(path, response)
    }
}

/// Publishes straight into `state`'s hub; the one place tests publish without HTTP.
pub async fn publish(state: &AppState, payload: Payload) -> Arc<Event> {
    state
        .hub
        .publish(payload)
        .await
        .expect("the hub commits the event")
}

/// A message payload with this text (the hub gives it its event's id).
pub fn message(text: &str) -> Payload {
    Payload::Message(Message {
        id: 0,
        title: "test".to_owned(),
        message: text.to_owned(),
        timestamp: "2026-01-01T00:00:00.000Z".to_owned(),
    })
}

/// The value of the sample `name` in Prometheus text, if present.
pub fn metric_value(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// How much of the start of a stream is kept verbatim, for checks on the exact bytes.
const PREFIX_KEPT: usize = 64 * 1024;

/// An open SSE response, read through [`sse::Parser`].
pub struct SseStream {
    path: String,
    pub headers: reqwest::header::HeaderMap,
    body: Body,
    parser: Parser,
    pending: VecDeque<SseEvent>,
    prefix: Vec<u8>,
    /// `Some` once the body ended: `Ok` for a clean end, `Err` with the reason otherwise.
    ended: Option<Result<(), String>>,
}

impl SseStream {
    /// Wraps a response after checking it is an event stream with the headers every SSE route must send.
    pub fn new(path: &str, response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200, "GET {path} opens a stream");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("text/event-stream; charset=utf-8"),
            "GET {path}: content type"
        );
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-cache"),
            "GET {path}: cache-control"
        );
        assert_eq!(
            header("x-accel-buffering").as_deref(),
            Some("no"),
            "GET {path}: x-accel-buffering"
        );
        assert_eq!(
            header("content-encoding"),
            None,
            "GET {path}: an event stream must not be compressed"
        );
        SseStream {
            path: path.to_owned(),
            headers,
            body: Box::pin(response.bytes_stream()),
            parser: Parser::default(),
            pending: VecDeque::new(),
            prefix: Vec::new(),
            ended: None,
        }
    }

    /// Reads one more chunk into the parser; false once the body has ended.
    async fn read_chunk(&mut self) -> bool {
        if self.ended.is_some() {
            return false;
        }
        match self.body.next().await {
            Some(Ok(chunk)) => {
                let keep = PREFIX_KEPT
                    .saturating_sub(self.prefix.len())
                    .min(chunk.len());
                self.prefix.extend_from_slice(&chunk[..keep]);
                self.pending.extend(self.parser.feed(&chunk));
                true
            }
            Some(Err(e)) => {
                self.ended = Some(Err(e.to_string()));
                false
            }
            None => {
                self.ended = Some(Ok(()));
                false
            }
        }
    }

    /// The next event, or `None` if the stream ended first. `ping` heartbeats (the dashboard stream's visible
    /// keep-alive, which carries no id) are skipped. Fails if neither happens within `within`.
    pub async fn next_event_or_end(&mut self, within: Duration) -> Option<SseEvent> {
        self.next_or_end(within, true).await
    }

    /// The next event including `ping` heartbeats; fails if the stream ends or nothing comes within `within`.
    pub async fn next_event_with_pings(&mut self, within: Duration) -> SseEvent {
        match self.next_or_end(within, false).await {
            Some(event) => event,
            None => panic!(
                "{}: the stream ended ({:?}) while an event was expected",
                self.path, self.ended
            ),
        }
    }

    async fn next_or_end(&mut self, within: Duration, skip_pings: bool) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(event) = self.pending.pop_front() {
                if skip_pings && event.event == "ping" {
                    continue;
                }
                return Some(event);
            }
            let read = tokio::time::timeout_at(deadline, self.read_chunk()).await;
            match read {
                Ok(true) => {}
                Ok(false) => return None,
                Err(_) => panic!("{}: no event and no end within {within:?}", self.path),
            }
        }
    }

    /// The next event; fails if the stream ends or nothing comes within [`WAIT`].
    pub async fn next_event(&mut self) -> SseEvent {
        self.next_event_within(WAIT).await
    }

    /// The next event; fails if the stream ends or nothing comes within `within`.
    pub async fn next_event_within(&mut self, within: Duration) -> SseEvent {
        match self.next_event_or_end(within).await {
            Some(event) => event,
            None => panic!(
                "{}: the stream ended ({:?}) while an event was expected",
                self.path, self.ended
            ),
        }
    }

    /// Reads events until one satisfies `wanted`, returning it; fails after [`WAIT`] naming `what`.
    pub async fn wait_for(&mut self, what: &str, wanted: impl Fn(&SseEvent) -> bool) -> SseEvent {
        let mut events = self.collect_until(what, wanted).await;
        events
            .pop()
            .expect("collect_until ends with the wanted event")
    }

    /// Reads events until one satisfies `wanted`, returning all of them, that one last; fails after [`WAIT`]
    /// naming `what`.
    pub async fn collect_until(
        &mut self,
        what: &str,
        wanted: impl Fn(&SseEvent) -> bool,
    ) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let next = tokio::time::timeout(left, self.next_event_or_end(WAIT)).await;
            match next {
                Ok(Some(event)) => {
                    let done = wanted(&event);
                    seen.push(event);
                    if done {
                        return seen;
                    }
                }
                Ok(None) => panic!(
                    "{}: the stream ended before {what}; saw {seen:?}",
                    self.path
                ),
                Err(_) => panic!("{}: no {what} within {WAIT:?}; saw {seen:?}", self.path),
            }
        }
    }

    /// Reads until the stream ends, returning what came before the end; fails if it does not end within
    /// `within`.
    pub async fn until_end(&mut self, within: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.next_event_or_end(within)).await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => return events,
                Err(_) => panic!(
                    "{}: still open after {within:?}; read {events:?}",
                    self.path
                ),
            }
        }
    }

    /// Reads (without consuming events) until `done` holds for this stream; fails after `within`.
    pub async fn read_until(&mut self, what: &str, within: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !done(self) {
            match tokio::time::timeout_at(deadline, self.read_chunk()).await {
                Ok(true) => {}
                Ok(false) => panic!("{}: the stream ended before {what}", self.path),
                Err(_) => panic!("{}: no {what} within {within:?}", self.path),
            }
        }
    }

    /// How the body ended, once it has: `Ok` for a clean end of the chunked body.
    pub fn ended(&self) -> Option<&Result<(), String>> {
        self.ended.as_ref()
    }

    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The first bytes of the body, verbatim.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }
}

/// Parses JSON event data, naming the event when it is not JSON.
pub fn json(event: &SseEvent) -> serde_json::Value {
    serde_json::from_str(&event.data)
        .unwrap_or_else(|e| panic!("event {event:?} does not carry JSON: {e}"))
}

/// An event's id as a number.
pub fn seq(event: &SseEvent) -> u64 {
    event
        .id
        .parse()
        .unwrap_or_else(|_| panic!("event {event:?} has no numeric id"))
}

/// Polls `check` until it holds, for conditions no event announces (a gauge after a socket closed); fails
/// after [`WAIT`] naming `what`.
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The number a test put after `prefix` at the start of a message's text: tests count their messages there,
/// since a message's `id` is the id of the event that carried it.
pub fn counted(event: &SseEvent, prefix: &str) -> u64 {
    let data = json(event);
    data["message"]
        .as_str()
        .and_then(|text| text.strip_prefix(prefix))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("not a message counted after {prefix:?}: {data}"))
}
