//! `GET /` (the dashboard) and `GET /inspector` (the event inspector): the app's pages, rendered on the server
//! from the current snapshot so the first paint is complete before the WASM loads; the browser then hydrates
//! the page and goes live. The request's path says which page. `GET /api/snapshot`: the same state as
//! JSON, for scripts and probes that want the dashboard's data without a stream.

use crate::auth::Reader;
use crate::state::AppState;
use app::contract::api::paths;
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
        .route(paths::SNAPSHOT, get(snapshot))
}

async fn snapshot(State(state): State<AppState>, _reader: Reader) -> Json<Snapshot> {
    Json(state.hub.snapshot())
}

async fn page(State(state): State<AppState>, request: Request<Body>) -> Response {
    let (mut parts, body) = request.into_parts();
    match state.auth.credential(&mut parts).await {
        Ok(credential) if state.auth.may_read(credential) => {}
        // A private home shows a login form and nothing of itself.
        Ok(_) => return login_page(),
        Err(refused) => return refused.into_response(),
    }
    let request = Request::from_parts(parts, body);
    let snapshot = state.hub.snapshot();
    let can_write = app::CanWrite(state.auth.has_session(request.headers()));
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

/// The page a logged-out visitor of a private home gets: a login form, nothing of the home. Plain HTML with the
/// dashboard's stylesheet and test ids, so it works before (and without) the WASM.
fn login_page() -> Response {
    const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Hearth: log in</title>
<link rel="stylesheet" href="/pkg/hearth.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
<main class="login-page">
<h1>Hearth</h1>
<p>This home is private. Log in with its write token to see it.</p>
<form id="login" class="login-form">
<label for="login-token">Write token</label>
<input id="login-token" type="password" autocomplete="current-password" data-testid="login-token" required>
<button type="submit" data-testid="login-submit">Log in</button>
</form>
<p class="form-error" role="alert" data-testid="login-error"></p>
</main>
<script>
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.querySelector("[data-testid=login-error]");
  const token = document.getElementById("login-token").value;
  try {
    const res = await fetch("/api/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    if (res.ok) { location.reload(); return; }
    const body = await res.json().catch(() => ({}));
    error.textContent = res.status === 401 ? "That token is not right." : (body.error || "The server answered " + res.status);
  } catch (e) {
    error.textContent = "Could not reach the server.";
  }
});
</script>
</body>
</html>
"#;
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::response::Html(PAGE),
    )
        .into_response()
}
