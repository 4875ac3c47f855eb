//! The dashboard login: `POST /api/session` exchanges the token for an HttpOnly, SameSite=Strict session cookie,
//! `DELETE /api/session` ends it (or answers 503 when it cannot be ended everywhere), `GET /api/session` says
//! whether this browser may write.

use crate::auth::{session_cookie, ClientAddr};
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

fn cookie(state: &AppState, id: &str) -> HeaderValue {
    HeaderValue::from_str(&state.auth.session_cookie(id))
        .unwrap_or_else(|_| HeaderValue::from_static("hearth_session=; Path=/; Max-Age=0"))
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    if !state.auth.check_token(body.token.trim(), client)? {
        return Err(ApiError::WrongToken("that token is not right".to_owned()));
    }
    // Stored where every instance finds it before the cookie is handed out.
    let id = state
        .auth
        .sessions()
        .create_shared()
        .await
        .map_err(|e| ApiError::Unavailable {
            reason: format!("the session could not be stored: {e}"),
            retry_after: 5,
        })?;
    let mut response = (StatusCode::OK, Json(SessionState { writer: true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &id));
    Ok(response)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(id) = session_cookie(&headers) {
        // Refused rather than answered 204 while the session lives on where the other instances look it up.
        state
            .auth
            .sessions()
            .remove_shared(id)
            .await
            .map_err(|_| ApiError::Unavailable {
                reason: "the session could not be ended everywhere, so it still works".to_owned(),
                retry_after: 5,
            })?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, ""));
    Ok(response)
}

async fn whoami(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Json<SessionState> {
    state.auth.learn_session(&headers, client).await;
    Json(SessionState {
        writer: state.auth.has_session(&headers),
    })
}
