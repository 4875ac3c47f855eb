//! Operations: `/healthz` (liveness, with the storage's and the MQTT broker's state) and `/metrics` (Prometheus
//! text).

use crate::auth::Reader;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// 200 while writes are accepted, 503 while storage refuses them; either way the body says what the backend is
/// and the newest committed id, so a probe can tell a stuck hub from a live one. With a broker configured, `mqtt`
/// says whether it is reached: a broker that is down makes the devices stale, not Hearth unhealthy, so it does
/// not change the status code (a probe restarting Hearth would not bring the broker back).
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let health = state.hub.health();
    let status = if health.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = if health.ok { "ok" } else { "degraded" };
    let mut body = json!({ "status": word, "store": health });
    if let Some(bridge) = &state.bridge {
        body["mqtt"] = json!(bridge.health());
    }
    (status, Json(body))
}

async fn metrics(State(state): State<AppState>, _reader: Reader) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
