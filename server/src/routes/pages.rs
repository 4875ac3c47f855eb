//! `GET /`: the dashboard, rendered on the server from the current snapshot so the first paint is complete
//! before the WASM loads; the browser then hydrates it and goes live.

use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

async fn dashboard(State(state): State<AppState>, request: Request<Body>) -> Response {
    let snapshot = state.hub.snapshot();
    let options = state.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(snapshot.clone());
        },
        move || app::shell(options.clone()),
    );
    handler(request).await.into_response()
}
