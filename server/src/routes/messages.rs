//! `POST /message`: the tutorial's broadcast feed. A posted `{"message": "..."}` is stored and sent to every
//! `/eventstream` (and dashboard) subscriber as `event: message`.

use crate::auth::Writer;
use crate::clock::now_rfc3339;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use app::contract::api::{paths, MessagePosted, NewMessage};
use app::contract::{Message, MessageBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route(paths::MESSAGE, post(post_message))
}

/// The title the tutorial gave every broadcast.
const TITLE: &str = "New message!";

async fn post_message(
    State(state): State<AppState>,
    _writer: Writer,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<MessagePosted>), ApiError> {
    let text = MessageBody::parse(&body.message)
        .map_err(|e| ApiError::bad_request(format!("message {e}"), Some("message")))?;
    let message = Message {
        // The hub gives a message the id of the event that carries it.
        id: 0,
        title: TITLE.to_owned(),
        message: text.into_inner(),
        timestamp: now_rfc3339(),
    };
    // Answered only once the message is durable and delivered.
    let posted = state.hub.publish_as(message).await?;
    Ok((
        StatusCode::CREATED,
        Json(MessagePosted {
            seq: posted.seq,
            message: posted.value,
        }),
    ))
}
