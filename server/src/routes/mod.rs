//! The HTTP surface, one module per concept, each owning its routes; merged here, in [`router`], the one place
//! that sees all of them. Paths come from the shared contract (`app::contract::api::paths`), so the router and
//! the dashboard's calls cannot drift apart.

pub mod camera;
pub mod devices;
pub mod entities;
pub mod jobs;
pub mod mercure;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod session;
pub mod smart_home;
pub mod streams;

use crate::config::CorsOrigin;
use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::hosts::AllowedHosts;
use crate::state::AppState;
use app::contract::api::paths;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;
use tower::Layer;
use tower_http::compression::{Compression, CompressionLayer};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

/// The whole HTTP surface, built apart from serving so tests can serve it on port 0.
pub fn router(state: AppState) -> Router {
    let limit = state.config.body_limit;
    let api = Router::new()
        .merge(pages::routes())
        .merge(streams::routes())
        .merge(messages::routes())
        .merge(devices::routes())
        .merge(entities::routes())
        .merge(jobs::routes())
        .merge(ops::routes())
        .merge(session::routes())
        .merge(camera::routes())
        .merge(mercure::routes())
        .layer(cors(&state.config.cors_origins));
    let site = static_files(state.leptos.site_root.as_ref());
    let hosts = Arc::new(AllowedHosts::new(&state.config.allowed_hosts));
    Router::new()
        .merge(api)
        .merge(streams::open_routes())
        .fallback_service(site)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::Extension(BodyLimit(limit)))
        .layer(axum::middleware::map_response(link_to_the_hub))
        // Outermost: a request naming an unknown host reaches nothing, static files included.
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let hosts = Arc::clone(&hosts);
                async move { check_host(&hosts, request, next).await }
            },
        ))
        .with_state(state)
}

/// The built front end and public assets, compressed for clients that accept it: the WASM bundle is a third of its
/// size gzipped, and it goes to phones. Only these files: event streams must never pass through a compressor,
/// which would hold bytes back.
fn static_files(root: &str) -> Compression<ServeDir> {
    CompressionLayer::new().layer(ServeDir::new(root))
}

/// The Mercure discovery link on every answer of Hearth's (the protocol's `Link: <hub>; rel="mercure"`): any
/// resource here can lead a client to the hub.
async fn link_to_the_hub(mut response: Response) -> Response {
    response.headers_mut().append(
        header::LINK,
        HeaderValue::from_static(r#"</.well-known/mercure>; rel="mercure""#),
    );
    response
}

/// Refuses a request whose `Host` could be a rebound domain ([`AllowedHosts`]).
async fn check_host(hosts: &AllowedHosts, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    if hosts.allows(host) {
        return next.run(request).await;
    }
    let name = host.unwrap_or_default();
    ApiError::UnknownHost(format!(
        "this Hearth is not served as {name:?}; add the name to HEARTH_ALLOWED_HOSTS (or --allowed-hosts) to allow it"
    ))
    .into_response()
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
    streams::STREAM_PATHS.contains(&path)
        || paths::is_job_events(path)
        || path == crate::mercure::HUB_PATH
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn static_files_are_compressed_for_clients_that_accept_it() {
        let root = std::env::temp_dir().join(format!("hearth-static-{}", std::process::id()));
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/app.wasm"), vec![7u8; 64 * 1024]).unwrap();
        let request = |encoding: Option<&str>| {
            let mut r = axum::http::Request::get("/pkg/app.wasm");
            if let Some(e) = encoding {
                r = r.header(header::ACCEPT_ENCODING, e);
            }
            r.body(Body::empty()).unwrap()
        };
        let site = static_files(root.to_str().unwrap());
        let gzipped = site.clone().oneshot(request(Some("gzip"))).await.unwrap();
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = site.oneshot(request(None)).await.unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
