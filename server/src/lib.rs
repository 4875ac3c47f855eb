//! Hearth's server library: everything testable lives here; `main` only parses config, starts tracing, binds
//! and calls [`run`] (STYLE.md 2).
//!
//! Reading order: [`config`] → [`state`] → [`hub`] (fan-out, ids, replay) → [`sse`] (wire format) →
//! [`stream`] (one subscriber's stream) → [`routes`] → [`simulator`].

pub mod auth;
pub mod camera;
pub mod config;
pub mod error;
pub mod extract;
pub mod hub;
pub mod routes;
pub mod serve;
pub mod simulator;
pub mod sse;
pub mod state;
pub mod store;
pub mod stream;
pub mod viewers;

use anyhow::Context;
use axum::http::{header, HeaderValue, Method};
use axum::Router;
use state::AppState;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The whole HTTP surface, built apart from serving so tests can serve it on port 0.
pub fn router(state: AppState) -> Router {
    // Leptos renders on whatever executor it was given; give it tokio's. A second call (tests build many
    // routers in one process) is refused harmlessly.
    let _ = any_spawner::Executor::init_tokio();
    let limit = state.config.body_limit;
    let api = Router::new()
        .merge(routes::pages::routes())
        .merge(routes::streams::routes())
        .merge(routes::messages::routes())
        .merge(routes::devices::routes())
        .merge(routes::jobs::routes())
        .merge(routes::ops::routes())
        .merge(routes::session::routes())
        .merge(routes::camera::routes())
        .layer(cors(&state.config.cors_origins));
    let site = tower_http::services::ServeDir::new(state.leptos.site_root.as_ref());
    Router::new()
        .merge(api)
        .merge(routes::streams::open_routes())
        .fallback_service(site)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::Extension(extract::BodyLimit(limit)))
        .with_state(state)
}

/// Cross-origin access for the configured origins only.
fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("last-event-id"),
        ])
}

/// Starts the background tasks and serves until the shutdown token is cancelled; then open streams end, new
/// connections are refused, and this returns within the configured deadline even if some connection lingers.
pub async fn run(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    simulator::spawn_all(&state);
    routes::jobs::resume_jobs(&state);
    tokio::spawn(viewers::publish_viewer_count(state.clone()));
    let shutdown = state.shutdown.clone();
    let deadline = state.config.shutdown_deadline();
    let connections = serve::Connections {
        // Built once: cloning a finished `Router` per connection is cheap, rebuilding it is not.
        app: router(state.clone()),
        stall: state.config.keepalive(),
        metrics: state.metrics.clone(),
        shutdown: shutdown.clone(),
        is_stream_path: routes::is_stream_path,
    };
    let serve = serve::serve(listener, connections);
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

/// Creates the data directory, or explains why it cannot be used.
pub fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("the data directory {} is not writable", dir.display()))
}
