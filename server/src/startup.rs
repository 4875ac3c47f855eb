//! The wiring: the one place that knows how the parts fit. It opens the store and restores the hub and the jobs
//! from it (or builds a hub that keeps nothing, or one on the log several instances share in Redis), builds
//! [`AppState`], starts the background tasks, and serves until shutdown. Everything below it is a part that takes
//! what it needs as arguments; with Redis, the parts that must agree across instances (leases, the viewer total,
//! sessions) are given its shared handle through traits of their own.

use crate::auth::{Auth, AuthPolicy, SessionPolicy};
use crate::config::{Config, Secret, ServeMode};
use crate::data_dir;
use crate::hub::{Durability, Hub, MemoryBackend, RedisBackend, RedisOptions, RedisShared};
use crate::jobs::Jobs;
use crate::lease::{self, Leases};
use crate::mercure::{Mercure, SharedLists};
use crate::metrics::Metrics;
use crate::mqtt;
use crate::routes;
use crate::serve;
use crate::simulator;
use crate::slots::{StreamLimits, StreamSlots};
use crate::state::{AppState, Inner};
use crate::store::{Retention, Store};
use crate::viewers::{self, ViewerTally};
use anyhow::Context;
use app::contract::JobUpdate;
use leptos::config::LeptosOptions;
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Gives Leptos tokio to render on. Once per process, before the first page is rendered (the binary calls it at
/// start; the tests' harness too).
pub fn init_executor() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = any_spawner::Executor::init_tokio() {
            tracing::warn!(error = ?e, "Leptos already had an executor");
        }
    });
}

/// The name the front end's files are built under (`/pkg/hearth.js`), as the workspace's Leptos metadata says.
pub const OUTPUT_NAME: &str = "hearth";

/// Leptos' options for serving on `addr`: what cargo-leptos baked in (or set in the environment) when it built
/// the server; for a server built by plain cargo (tests, `cargo run`) the same names cargo-leptos would have
/// used, without asking Leptos to guess (it prints a warning when it has to).
pub fn leptos_options(addr: std::net::SocketAddr) -> anyhow::Result<LeptosOptions> {
    let named = option_env!("LEPTOS_OUTPUT_NAME").is_some_and(|n| !n.is_empty())
        || std::env::var_os("LEPTOS_OUTPUT_NAME").is_some_and(|n| !n.is_empty());
    let mut options = if named {
        leptos::config::get_configuration(None)
            .context("cannot read the Leptos configuration")?
            .leptos_options
    } else {
        let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
        LeptosOptions::builder()
            .output_name(OUTPUT_NAME)
            .site_root(site_root)
            .build()
    };
    options.site_addr = addr;
    Ok(options)
}

/// Creates the data directory (owner-only), or explains why it cannot be used; see [`data_dir`].
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    data_dir::prepare(dir)
}

/// The retention the configuration asks for: never below the replay buffer.
pub fn retention(config: &Config) -> Retention {
    Retention {
        max_events: config.retain_events.max(config.replay_size as u64),
        max_age_ms: i64::try_from(config.retain_hours.saturating_mul(3_600_000))
            .unwrap_or(i64::MAX),
    }
}

/// The hub the configuration asks for, and the jobs the store knew: the embedded default (SQLite under the data
/// directory, group-committed before delivery), or one that keeps nothing, or the shared log in Redis.
pub fn open_hub(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<(Hub, Vec<JobUpdate>)> {
    let opened = open(config, metrics)?;
    Ok((opened.hub, opened.jobs))
}

/// What storage gave the parts: the hub, the jobs it knew, and — with a broker — what instances share.
pub struct Opened {
    pub hub: Hub,
    pub jobs: Vec<JobUpdate>,
    /// Set when several instances share a broker.
    pub shared: Option<RedisShared>,
}

/// Opens the storage the configuration asks for.
pub fn open(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Opened> {
    if let Some(url) = &config.redis_url {
        if config.in_memory {
            anyhow::bail!("--in-memory and --redis-url exclude each other: pick one");
        }
        let retention = retention(config);
        let options = RedisOptions {
            url: url.expose().to_owned(),
            replay: config.replay_size,
            queue: config.queue_size,
            retain_events: retention.max_events,
            retain_ms: retention.max_age_ms,
            publish_timeout: Duration::from_secs(config.write_timeout_secs.max(1)),
        };
        let (backend, shared) = RedisBackend::open(options, metrics.clone())?;
        let hub = Hub::new(Arc::new(backend), metrics);
        // The jobs the shared state knows: any instance may pick up the unfinished ones.
        let jobs = hub.snapshot().jobs;
        return Ok(Opened {
            hub,
            jobs,
            shared: Some(shared),
        });
    }
    if config.in_memory {
        let backend = MemoryBackend::new(config.replay_size, config.queue_size, metrics.clone());
        return Ok(Opened {
            hub: Hub::new(Arc::new(backend), metrics),
            jobs: Vec::new(),
            shared: None,
        });
    }
    let retention = retention(config);
    let store = Store::open(&config.data_dir)?.with_retention(retention);
    let restored = store.restore(config.replay_size)?;
    let jobs = store.jobs()?;
    let dir = config.data_dir.clone();
    let durability = Durability {
        journal: Box::new(store),
        reopen: Box::new(move || {
            let store = Store::open(&dir)?.with_retention(retention);
            Ok(Box::new(store) as Box<dyn crate::hub::Journal>)
        }),
        free_floor_bytes: config.min_free_mb.saturating_mul(1 << 20),
        publish_timeout: Duration::from_secs(config.write_timeout_secs.max(1)),
    };
    let backend = MemoryBackend::durable(
        restored,
        config.replay_size,
        config.queue_size,
        metrics.clone(),
        durability,
    )
    .context("cannot start the journal writer")?;
    Ok(Opened {
        hub: Hub::new(Arc::new(backend), metrics),
        jobs,
        shared: None,
    })
}

/// How logins and tokens are guarded, from the configuration.
pub fn auth_policy(config: &Config) -> AuthPolicy {
    AuthPolicy {
        sessions: SessionPolicy {
            idle: Duration::from_secs(config.session_idle_hours.saturating_mul(3600).max(60)),
            absolute: Duration::from_secs(config.session_max_days.saturating_mul(86_400).max(60)),
            max: config.max_sessions.max(1),
        },
        secure_cookie: config.secure_cookies,
        failures_per_minute: config.auth_failures_per_minute.max(1),
        public_reads: config.reads_are_public(),
    }
}

/// Builds the application's state from its configuration: storage opened and restored, nothing started yet.
pub fn build(config: Config, token: Secret, leptos: LeptosOptions) -> anyhow::Result<AppState> {
    let metrics = Arc::new(Metrics::default());
    let Opened {
        hub,
        jobs: known_jobs,
        shared,
    } = open(&config, metrics.clone())?;
    let mut auth = Auth::new(token, auth_policy(&config));
    let lists = shared.clone().map(|s| Arc::new(s) as Arc<dyn SharedLists>);
    let mercure = Arc::new(Mercure::from_config(&config, lists).context("Mercure settings")?);
    let (leases, tally): (Arc<dyn Leases>, Arc<dyn ViewerTally>) = match shared {
        Some(shared) => {
            auth = auth.with_session_store(Arc::new(shared.clone()));
            (Arc::new(shared.clone()), Arc::new(shared))
        }
        None => (Arc::new(lease::Alone), Arc::new(viewers::Alone)),
    };
    let auth = Arc::new(auth);
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let jobs = Jobs::new(
        hub.clone(),
        shutdown.clone(),
        tasks.clone(),
        known_jobs,
        leases.clone(),
    );
    let bridge = match mqtt::Settings::from_config(&config).context("--mqtt-url")? {
        Some(settings) => Some(mqtt::Bridge::new(
            settings,
            hub.clone(),
            metrics.mqtt.clone(),
        )?),
        None => None,
    };
    let slots = StreamSlots::new(
        StreamLimits {
            total: config.max_subscribers,
            // Never more than half: a small server still serves anonymous readers.
            reserved: config.reserved_streams.min(config.max_subscribers / 2),
            per_client: config.max_streams_per_client,
        },
        metrics.subscribers.clone(),
    );
    Ok(AppState::new(Inner {
        config,
        hub,
        metrics,
        auth,
        shutdown,
        tasks,
        jobs,
        leases,
        tally,
        slots,
        mercure,
        devices: bridge
            .clone()
            .map(|b| b as Arc<dyn crate::commands::DeviceLink>),
        bridge,
        leptos,
    }))
}

/// Starts the background tasks: sensors and simulator, unfinished jobs, the viewer count, the MQTT bridge.
pub fn spawn_background(state: &AppState) {
    if let Some(bridge) = &state.bridge {
        bridge.start(state.leases.clone(), &state.shutdown, &state.tasks);
    }
    simulator::spawn_all(
        &state.hub,
        &state.config,
        &state.shutdown,
        &state.tasks,
        state.leases.clone(),
    );
    state.jobs.resume_unfinished();
    if let Some(subscriptions) = &state.mercure.subscriptions {
        state
            .tasks
            .spawn(Arc::clone(subscriptions).share(state.shutdown.clone()));
    }
    state.tasks.spawn(viewers::publish_viewer_count(
        state.hub.clone(),
        state.metrics.viewers.clone(),
        state.tally.clone(),
        state.shutdown.clone(),
    ));
}

/// Starts the background tasks and serves until the shutdown token is cancelled; then open streams end, new
/// connections are refused, and this returns within the configured deadline even if some connection lingers.
pub async fn run(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    simulator::arrange_demo_home(&state.hub, state.config.demo_home()).await;
    spawn_background(&state);
    let shutdown = state.shutdown.clone();
    let deadline = state.config.shutdown_deadline();
    let config = &state.config;
    let reserved = config.reserved_connections;
    let auth = Arc::clone(&state.auth);
    let connections = serve::Connections {
        // Built once: cloning a finished `Router` per connection is cheap, rebuilding it is not.
        app: routes::router(state.clone()),
        mode: match config.serve {
            ServeMode::Direct => serve::Mode::Direct,
            ServeMode::Hyper => serve::Mode::Hyper,
        },
        limits: serve::Limits {
            caps: serve::Caps {
                total: config
                    .max_connections
                    .unwrap_or_else(|| serve::connections_that_fit(reserved)),
                reserved,
                per_client: config.max_connections_per_client,
            },
            idle_timeout: Duration::from_secs(config.idle_timeout_secs.max(1)),
            header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(config.body_timeout_secs.max(1)),
            max_head: config.max_head_bytes.max(serve::MIN_HEAD_LIMIT),
            stall: config.keepalive(),
        },
        metrics: state.metrics.serve.clone(),
        shutdown: shutdown.clone(),
        is_stream_path: routes::is_stream_path,
        // A logged-in dashboard or a client with the token may use the reserved connections.
        is_privileged: Arc::new(move |parts| auth.is_privileged(parts)),
    };
    let tasks = state.tasks.clone();
    let serve = async move {
        serve::serve(listener, connections).await;
        // Connections are done; let the background tasks finish what they were publishing.
        tasks.close();
        tasks.wait().await;
    };
    tokio::select! {
        () = serve => Ok(()),
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(deadline).await;
        } => {
            tracing::warn!(open_streams = state.metrics.subscribers.get(), "shutdown deadline passed; exiting anyway");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::hub::numbered_message as message;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_publishes_survive_a_restart_and_ids_continue() {
        let dir = std::env::temp_dir().join(format!("hearth-startup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config::parse_from([
            "hearth",
            "--data-dir",
            &dir.display().to_string(),
            "--replay-size",
            "100",
            "--queue-size",
            "64",
        ]);
        let (hub, _) = open_hub(&config, Arc::default()).unwrap();
        // Many concurrent publishers: the journal commits them in batches, each answered once durable.
        let tasks: Vec<_> = (1..=200)
            .map(|id| {
                let hub = hub.clone();
                tokio::spawn(async move { hub.publish(message(id)).await.map(|e| e.id.unwrap()) })
            })
            .collect();
        let mut acked = Vec::new();
        for task in tasks {
            acked.push(task.await.unwrap().unwrap());
        }
        let last = *acked.iter().max().unwrap();
        drop(hub);

        let store = Store::open(&dir).unwrap();
        assert_eq!(
            store.messages().unwrap().len(),
            200,
            "every acknowledged write is on disk"
        );
        drop(store);
        let (hub, _) = open_hub(&config, Arc::default()).unwrap();
        assert_eq!(hub.snapshot().messages.len(), app::contract::MAX_MESSAGES);
        let next = hub.publish(message(1000)).await.unwrap();
        assert!(next.id.unwrap() > last, "ids continue after a restart");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
