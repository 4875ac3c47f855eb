//! `POST /message`: the tutorial's broadcast feed. A posted `{"message": "..."}` is stored and sent to every
//! `/eventstream` (and dashboard) subscriber as `event: message`.

use crate::auth::Writer;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::{now_rfc3339, AppState};
use app::contract::{Message, MessageBody, Payload};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/message", post(post_message))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    message: String,
}

/// The title the tutorial gave every broadcast.
const TITLE: &str = "New message!";

async fn post_message(
    State(state): State<AppState>,
    _writer: Writer,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let text = MessageBody::parse(&body.message)
        .map_err(|e| ApiError::bad_request(format!("message {e}"), Some("message")))?;
    let message = Message {
        id: state.next_message_id(),
        title: TITLE.to_owned(),
        message: text.into_inner(),
        timestamp: now_rfc3339(),
    };
    // Answered only once the message is durable and delivered.
    state.hub.publish(Payload::Message(message.clone())).await?;
    Ok((StatusCode::CREATED, Json(message)))
}
