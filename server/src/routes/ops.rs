//! Operations: `/healthz` (liveness, with the storage's and the MQTT broker's state) and `/metrics` (Prometheus
//! text).

use crate::auth::Reader;
use crate::state::AppState;
use axum::extract::State;
use axum::http::request::Parts;
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

/// 200 while writes are accepted, 503 while storage refuses them, to anyone. To whoever may read the home, the
/// body also says what the backend is and the newest committed id, so a probe can tell a stuck hub from a live
/// one; a stranger of a private home learns nothing else (the newest id is where a replay would start). With a
/// broker configured, `mqtt` says whether it is reached: a broker that is down makes the devices stale, not Hearth
/// unhealthy, so it does not change the status code (a probe restarting Hearth would not bring the broker back).
async fn healthz(State(state): State<AppState>, mut parts: Parts) -> impl IntoResponse {
    let health = state.hub.health();
    let status = if health.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = if health.ok { "ok" } else { "degraded" };
    // A wrong token is counted as anywhere; a refused one (429) is still told whether Hearth is up.
    let reader = match state.auth.credential(&mut parts).await {
        Ok(credential) => state.auth.may_read(credential),
        Err(_) => false,
    };
    if !reader {
        return (status, Json(json!({ "status": word })));
    }
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
