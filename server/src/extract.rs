//! `ApiJson<T>`: a JSON body extractor whose every refusal is an [`ApiError`] with a JSON body — 415 for the
//! wrong content type, 413 past the body limit, 408 for a body that did not arrive in time, 400 naming the
//! offending field.

use crate::error::ApiError;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

/// Parses a JSON body, naming the path of the field that was wrong.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        let inner = e.into_inner();
        let message = format!("invalid JSON body: {inner}");
        // serde names a missing field only in its message; take it from there when the path is empty.
        let field = field.or_else(|| {
            let msg = inner.to_string();
            msg.strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_owned)
        });
        ApiError::BadRequest { message, field }
    })
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(crate::config::DEFAULT_BODY_LIMIT);
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit }
                } else if let Some(slow) = crate::serve::body_too_slow(&e) {
                    ApiError::BodyTooSlow(slow.to_string())
                } else {
                    ApiError::bad_request(format!("could not read the body: {e}"), None)
                }
            })?;
        parse_json(&body).map(ApiJson)
    }
}

/// The configured body limit, put in request extensions so refusals can say what it is.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        message: String,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(field_of(r#"{"message": 5}"#).as_deref(), Some("message"));
        assert_eq!(field_of(r#"{}"#).as_deref(), Some("message"));
        assert_eq!(field_of("not json"), None);
    }
}
