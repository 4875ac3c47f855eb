//! One error type for every route: a status and a JSON body `{"error": "...", "detail": ...}`. Server errors are
//! logged in full and answered generically.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        /// The JSON path of the offending field, when there is one.
        field: Option<String>,
    },
    #[error("missing or wrong credential: send Authorization: Bearer <token> or log in")]
    Unauthorized,
    /// 401 at `/.well-known/mercure`: no credential where one is needed, or a token that did not verify (why).
    #[error("{0}")]
    MercureUnauthorized(String),
    /// A login with the wrong token: 401, with a message for the person at the form.
    #[error("{0}")]
    WrongToken(String),
    #[error("{0}")]
    Forbidden(String),
    /// 429: this client made too many failed attempts; it may try again after `retry_after` seconds.
    #[error("too many failed attempts from this address; try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    /// 421: the request names a host that is not served (DNS rebinding protection).
    #[error("{0}")]
    UnknownHost(String),
    #[error("{0} not found")]
    NotFound(String),
    /// 409: the request is well-formed but the resource's state does not allow it now (a device is offline).
    #[error("{0}")]
    Conflict(String),
    /// 422: the request is well-formed but asks for something its target cannot do.
    #[error("{message}")]
    Unprocessable {
        message: String,
        field: Option<String>,
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 408: the body did not arrive whole within its deadline (the connection closes after the answer).
    #[error("{0}")]
    BodyTooSlow(String),
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 415 for a body of another type than the route reads (named).
    #[error("expected Content-Type: {0}")]
    ExpectedContentType(&'static str),
    /// 503 with `Retry-After`: the server cannot take this now (at a limit, or storage not answering).
    #[error("{reason}; retry in {retry_after} s")]
    Unavailable { reason: String, retry_after: u64 },
    /// 507: the disk is below its free-space floor, so writes are refused before it fills.
    #[error("{0}")]
    InsufficientStorage(String),
    /// 504: storage did not say, within the write timeout, whether it took the write; the client must look
    /// before it writes again (a retry may make a duplicate).
    #[error("{0}")]
    OutcomeUnknown(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, field: Option<&str>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::WrongToken(_) | ApiError::MercureUnauthorized(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnknownHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType | ApiError::ExpectedContentType(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::OutcomeUnknown(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// Too many open streams: 503 with a hint of when to try again.
    pub fn too_many_streams() -> Self {
        ApiError::Unavailable {
            reason: "too many open streams".to_owned(),
            retry_after: 5,
        }
    }
}

/// A write the hub refused was not applied anywhere, so every refusal is a "try again" (503) or a full disk
/// (507), never a 500 that leaves the client guessing; the one write whose fate storage could not tell in time
/// is a 504 that says so. What storage said is logged, not sent.
impl From<crate::hub::HubError> for ApiError {
    fn from(e: crate::hub::HubError) -> Self {
        use crate::hub::HubError;
        tracing::warn!(error = %e, "write refused");
        match e {
            HubError::Storage(_) => ApiError::Unavailable {
                reason: "the write could not be stored and was not applied".to_owned(),
                retry_after: 1,
            },
            HubError::Unavailable(_) => ApiError::Unavailable {
                reason: "storage is not accepting writes right now; nothing was applied".to_owned(),
                retry_after: 5,
            },
            HubError::DiskFull { .. } => ApiError::InsufficientStorage(
                "the server's disk is nearly full; writes are refused until space is freed"
                    .to_owned(),
            ),
            HubError::Unknown(_) => ApiError::OutcomeUnknown(
                "storage did not confirm in time whether the write was applied; look before retrying"
                    .to_owned(),
            ),
        }
    }
}

/// A refused command: nothing of it was applied or sent.
impl From<crate::commands::CommandError> for ApiError {
    fn from(e: crate::commands::CommandError) -> Self {
        use crate::commands::CommandError;
        match e {
            CommandError::NotFound(what) => ApiError::NotFound(what),
            CommandError::WrongState(bad) => ApiError::Unprocessable {
                message: bad.to_string(),
                field: Some("state".to_owned()),
            },
            CommandError::Offline(_) => ApiError::Conflict(e.to_string()),
            CommandError::Unreachable(link) => ApiError::Unavailable {
                reason: format!("{link}; nothing was sent"),
                retry_after: 5,
            },
            CommandError::Hub(hub) => hub.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail: Value = match &self {
            ApiError::BadRequest { field, .. } | ApiError::Unprocessable { field, .. } => {
                json!({ "field": field })
            }
            ApiError::PayloadTooLarge { limit } => json!({ "limit": limit }),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                Value::Null
            }
            _ => Value::Null,
        };
        let mut response = (
            status,
            Json(json!({ "error": self.to_string(), "detail": detail })),
        )
            .into_response();
        match self {
            ApiError::Unauthorized | ApiError::MercureUnauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable { retry_after, .. }
            | ApiError::TooManyAttempts { retry_after } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            _ => {}
        }
        response
    }
}
