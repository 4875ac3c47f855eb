//! Starting the real server in this process: [`spawn_app`] builds it from a command line the way `main` does,
//! serves it on a listener of the test's own (port 0) and returns once it is ready, with its address, its
//! state and a client. [`Launch`] holds the options: extra flags, the listen address, a Redis to share.
//!
//! Every app runs once per way of serving connections: `HEARTH_TEST_SERVE=hyper` serves with hyper alone, unset
//! or `direct` with the direct stream writer (the default). [`serve_mode`] says which, for the few tests whose
//! expectations differ.

use super::flags::Flags;
use super::logs::init_tracing;
use super::scratch::ScratchDir;
use super::{TOKEN, WAIT};
use app::contract::{Topic, TopicSet};
use clap::Parser as _;
use server::config::{Config, ServeMode};
use server::hub::SubscribeRequest;
use server::startup;
use server::state::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// The `retry:` delay every test app sends: not the default, so the tests see it comes from the config.
pub const RETRY_MS: u64 = 1234;

/// How this run's apps serve connections, from `HEARTH_TEST_SERVE` (`direct` when unset).
pub fn serve_mode() -> ServeMode {
    use clap::ValueEnum as _;
    match std::env::var("HEARTH_TEST_SERVE") {
        Ok(mode) => ServeMode::from_str(&mode, true)
            .unwrap_or_else(|e| panic!("HEARTH_TEST_SERVE={mode:?}: {e}")),
        Err(_) => ServeMode::Direct,
    }
}

/// Whether this run's apps hold event streams outside hyper.
pub fn direct() -> bool {
    serve_mode() == ServeMode::Direct
}

/// A running server and what a test needs to talk to it. Dropping it shuts the server down and removes its
/// data directory.
pub struct TestApp {
    pub addr: SocketAddr,
    pub token: String,
    /// The server's own state: cancel `state.shutdown`, publish through `state.hub`, read `state.metrics`.
    pub state: AppState,
    pub client: reqwest::Client,
    /// `server::run`'s future, spawned.
    pub server: JoinHandle<anyhow::Result<()>>,
    _scratch: ScratchDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        self.server.abort();
    }
}

/// Starts an app with the kit's defaults changed by `configure`.
pub async fn spawn_app(configure: impl FnOnce(&mut Flags)) -> TestApp {
    Launch::new().flags(configure).spawn().await
}

/// Starts an app with the kit's defaults.
pub async fn spawn_default() -> TestApp {
    spawn_app(|_| {}).await
}

/// How an app is started: the kit's defaults (no simulator, sensors practically silent, 1 s keep-alives, a
/// fresh data directory, token [`TOKEN`], 127.0.0.1 port 0), changed by the test.
pub struct Launch {
    flags: Flags,
    listen: SocketAddr,
    /// With a broker the app is ready once `/healthz` says it follows the broker: its sensors may run on
    /// another instance, so their first readings are no sign.
    on_broker: bool,
    scratch: ScratchDir,
}

impl Default for Launch {
    fn default() -> Self {
        Launch::new()
    }
}

impl Launch {
    pub fn new() -> Launch {
        let scratch = ScratchDir::new("app");
        let mut flags = Flags::default();
        flags
            .on("--no-simulator")
            // Not created here: the server makes its data directory itself, owner-only.
            .set("--data-dir", scratch.path().join("data").display())
            .set("--token", TOKEN)
            .set("--keepalive-secs", 1)
            .set("--retry-ms", RETRY_MS)
            // The sensors always run; an hour between readings keeps them out of the way of tests that count
            // events. Tests of those routes speed them up.
            .set("--temperature-ms", 3_600_000)
            .set("--random-ms", 3_600_000)
            .set("--shutdown-secs", 5)
            .set(
                "--serve",
                match serve_mode() {
                    ServeMode::Direct => "direct",
                    ServeMode::Hyper => "hyper",
                },
            )
            // Raw-socket tests name the server `hearth` in their `Host` headers.
            .set("--allowed-hosts", "hearth")
            // No stream slots kept back for logged-in clients: a test of the stream limit counts every slot.
            .set("--reserved-streams", 0);
        Launch {
            flags,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            on_broker: false,
            scratch,
        }
    }

    /// Changes the command line (later settings replace earlier ones).
    pub fn flags(mut self, configure: impl FnOnce(&mut Flags)) -> Launch {
        configure(&mut self.flags);
        self
    }

    /// Listens on `addr` instead of 127.0.0.1 port 0 (keep it on loopback, port 0).
    pub fn listen(mut self, addr: SocketAddr) -> Launch {
        self.listen = addr;
        self
    }

    /// Shares the hub through the Redis at `url`.
    pub fn redis(mut self, url: &str) -> Launch {
        self.flags.set("--redis-url", url);
        self.on_broker = true;
        self
    }

    /// The configuration this launch starts with, for tests of start-up itself.
    pub fn config(&self) -> Config {
        Config::try_parse_from(self.flags.args()).expect("the kit builds a valid command line")
    }

    /// Starts the app and returns once it is ready: on a broker when `/healthz` says so; alone when the sensors
    /// (and the camera) published their first readings, so that a test which counts hub events or sequence ids
    /// starts from a quiet hub instead of racing those readings.
    pub async fn spawn(self) -> TestApp {
        init_tracing();
        let config = self.config();
        startup::prepare_data_dir(&config.data_dir).expect("a fresh data directory is usable");
        startup::init_executor();
        // As the binary configures Leptos when built without cargo-leptos.
        let leptos = startup::leptos_options(config.addr).expect("Leptos options");
        let token = config.token.clone().expect("the kit always sets a token");
        let state = startup::build(config, token.clone(), leptos).expect("the test app starts");

        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .unwrap_or_else(|e| panic!("bind {}: {e}", self.listen));
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let readings = match self.on_broker {
            true => None,
            false => Some(
                state
                    .hub
                    .subscribe(SubscribeRequest {
                        topics: TopicSet::of(&[Topic::Temperature, Topic::Random, Topic::Camera]),
                        last_event_id: None,
                        state_stands_in: false,
                    })
                    .await
                    .live,
            ),
        };
        let server = tokio::spawn(server::run(listener, state.clone()));
        let app = TestApp {
            addr,
            token: token.expose().to_owned(),
            state,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a plain HTTP client"),
            server,
            _scratch: self.scratch,
        };
        match readings {
            Some(readings) => {
                let demo = app.state.config.demo_home();
                first_readings(&app.state, readings, demo).await;
            }
            None => app.wait_healthy().await,
        }
        app
    }
}

/// Waits until every sensor published its first reading (a hub that refuses writes, as a test of a full disk
/// makes it, stores no reading: then only the live one). Without the demo home only the random numbers run.
async fn first_readings(
    state: &AppState,
    mut readings: tokio::sync::broadcast::Receiver<std::sync::Arc<server::event::Event>>,
    demo: bool,
) {
    let (mut temperature, mut camera, mut random) = (!demo, !demo, false);
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
}
