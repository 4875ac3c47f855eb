//! `GET /` (the dashboard) and `GET /inspector` (the event inspector): the app's pages, rendered on the server
//! from the current snapshot so the first paint is complete before the WASM loads; the browser then hydrates
//! the page and goes live. The request's path says which page. `GET /api/snapshot`: the same state as
//! JSON, for scripts and probes that want the dashboard's data without a stream.

use crate::auth::has_session;
use crate::state::AppState;
use app::contract::Snapshot;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::provide_context;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/inspector", get(page))
        .route("/api/snapshot", get(snapshot))
}

async fn snapshot(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.hub.snapshot())
}

async fn page(State(state): State<AppState>, request: Request<Body>) -> Response {
    let snapshot = state.hub.snapshot();
    let can_write = app::CanWrite(has_session(request.headers(), &state));
    let page = app::Page::from_path(request.uri().path()).unwrap_or(app::Page::Dashboard);
    let options = state.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(snapshot.clone());
            provide_context(can_write);
            provide_context(page);
        },
        move || app::shell(options.clone()),
    );
    handler(request).await.into_response()
}
