//! The dashboard login: `POST /api/session` exchanges the token for an HttpOnly, SameSite=Strict session cookie,
//! `DELETE /api/session` ends it, `GET /api/session` says whether this browser may write.

use crate::auth::{session_cookie, SESSION_COOKIE};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use app::contract::api::{paths, Login, SessionState};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route(paths::SESSION, post(login).delete(logout).get(whoami))
}

fn cookie(value: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    let text = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{age}");
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("hearth_session=; Path=/"))
}

async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    if !state.auth.is_token(body.token.trim()) {
        return Err(ApiError::WrongToken("that token is not right".to_owned()));
    }
    let id = state.auth.sessions().create();
    let mut response = (StatusCode::OK, Json(SessionState { writer: true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&id, None));
    Ok(response)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        state.auth.sessions().remove(id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", Some(0)));
    response
}

async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> Json<SessionState> {
    Json(SessionState {
        writer: state.auth.has_session(&headers),
    })
}
