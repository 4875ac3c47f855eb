//! The HTTP surface, one module per concept, each owning its routes; merged here, in [`router`], the one place
//! that sees all of them. Paths come from the shared contract (`app::contract::api::paths`), so the router and
//! the dashboard's calls cannot drift apart.

pub mod devices;
pub mod jobs;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod session;
pub mod streams;

use crate::config::CorsOrigin;
use crate::extract::BodyLimit;
use crate::state::AppState;
use app::contract::api::paths;
use axum::http::{header, HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The whole HTTP surface, built apart from serving so tests can serve it on port 0.
pub fn router(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let api = Router::new()
        .merge(pages::routes())
        .merge(streams::routes())
        .merge(messages::routes())
        .merge(devices::routes())
        .merge(jobs::routes())
        .merge(ops::routes())
        .merge(session::routes())
        .layer(cors(&state.config.cors_origins));
    let site = tower_http::services::ServeDir::new(state.leptos.site_root.as_ref());
    Router::new()
        .merge(api)
        .merge(streams::open_routes())
        .fallback_service(site)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::Extension(BodyLimit(limit)))
        .with_state(state)
}

/// Cross-origin access for the configured origins only (`*`: any origin). Never with credentials: the session
/// cookie is for our own pages; another site's page may only use a token it was given.
fn cors(origins: &[CorsOrigin]) -> CorsLayer {
    let allow = if origins.contains(&CorsOrigin::Any) {
        AllowOrigin::any()
    } else {
        let exact = origins.iter().filter_map(|o| match o {
            CorsOrigin::Exact(origin) => HeaderValue::from_str(origin).ok(),
            CorsOrigin::Any => None,
        });
        AllowOrigin::list(exact)
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("last-event-id"),
        ])
}

/// Whether `GET path` (without its query) is an event stream: such connections are held outside hyper
/// ([`crate::serve`]). Built from the same constants the routes are registered with, so they cannot drift.
pub fn is_stream_path(path: &str) -> bool {
    streams::STREAM_PATHS.contains(&path) || paths::is_job_events(path)
}
