//! The dashboard's calls to the HTTP API. In the browser they go through `fetch` (same origin, so the session
//! cookie rides along and no credential is ever visible to page scripts); on the server they are never made,
//! because buttons only act after hydration.
//!
//! No `serde_json::Value` here: building, printing or parsing one brings its maps and number handling into the
//! WASM bundle, and every call has a fixed shape anyway.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

/// Why a call did not succeed, phrased for the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiFailure {
    /// The server answered with an error status and (usually) a JSON `{"error": ...}` body.
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error("could not reach the server: {0}")]
    Network(String),
}

/// The body of a call that takes no fields: `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct NoFields {}

/// The part of an error body the page shows; `detail` and anything else are skipped.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// The methods the page calls the API with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Post,
    Patch,
    Delete,
}

/// POSTs `body` as JSON to `url`; decodes a JSON answer (or `null` for an empty one).
pub async fn post_json<B: Serialize, R: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<R, ApiFailure> {
    send_json(Verb::Post, url, body).await
}

/// PATCHes `url` with `body` as JSON (a partial change of what `url` names); decodes the JSON answer.
pub async fn patch_json<B: Serialize, R: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<R, ApiFailure> {
    send_json(Verb::Patch, url, body).await
}

/// POSTs a form (`application/x-www-form-urlencoded`) to `url`, with `bearer` as the credential when given (else
/// the session cookie); the answer's text (a Mercure publish is answered with the update's id).
pub async fn post_form(
    url: &str,
    form: String,
    bearer: Option<String>,
) -> Result<String, ApiFailure> {
    send(
        Verb::Post,
        url,
        Some(("application/x-www-form-urlencoded", form)),
        bearer.as_deref(),
    )
    .await
}

/// DELETEs `url`.
pub async fn delete(url: &str) -> Result<(), ApiFailure> {
    decode::<IgnoredAny>(&send(Verb::Delete, url, None, None).await?).map(|_| ())
}

async fn send_json<B: Serialize, R: DeserializeOwned>(
    verb: Verb,
    url: &str,
    body: &B,
) -> Result<R, ApiFailure> {
    let json = serde_json::to_string(body).unwrap_or_default();
    decode(&send(verb, url, Some(("application/json", json)), None).await?)
}

/// The message of a JSON error body, or a generic one for the status.
pub fn error_message(status: u16, body: &str) -> String {
    serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| format!("the server answered {status}"))
}

/// A successful answer's body as `R`; an empty body reads as `null`.
fn decode<R: DeserializeOwned>(text: &str) -> Result<R, ApiFailure> {
    let text = if text.trim().is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| ApiFailure::Network(format!("unexpected answer: {e}")))
}

/// Makes the call and gives back the body of a successful answer. Not generic on purpose: one copy of the
/// request's async state machine serves every call, where a generic one was compiled once per answer type.
#[cfg(feature = "hydrate")]
async fn send(
    verb: Verb,
    url: &str,
    body: Option<(&'static str, String)>,
    bearer: Option<&str>,
) -> Result<String, ApiFailure> {
    use gloo_net::http::{Method, RequestBuilder};
    let method = match verb {
        Verb::Post => Method::POST,
        Verb::Patch => Method::PATCH,
        Verb::Delete => Method::DELETE,
    };
    let mut builder = RequestBuilder::new(url).method(method);
    if let Some(token) = bearer {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    let request = match body {
        Some((content_type, body)) => builder.header("Content-Type", content_type).body(body),
        None => builder.build(),
    }
    .map_err(|e| ApiFailure::Network(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiFailure::Network(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !response.ok() {
        return Err(ApiFailure::Refused {
            status,
            message: error_message(status, &text),
        });
    }
    Ok(text)
}

#[cfg(not(feature = "hydrate"))]
async fn send(
    _verb: Verb,
    _url: &str,
    _body: Option<(&'static str, String)>,
    _bearer: Option<&str>,
) -> Result<String, ApiFailure> {
    Err(ApiFailure::Network("not in a browser".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_messages() {
        assert_eq!(
            error_message(401, r#"{"error":"that token is not right","detail":null}"#),
            "that token is not right"
        );
        assert_eq!(error_message(502, "<html>"), "the server answered 502");
        assert_eq!(
            error_message(400, r#"{"error":{"nested":true}}"#),
            "the server answered 400"
        );
        assert_eq!(serde_json::to_string(&NoFields {}).unwrap(), "{}");
    }

    #[test]
    fn answers_decode_and_an_empty_one_is_null() {
        assert_eq!(decode::<Option<u8>>("  "), Ok(None));
        assert_eq!(decode::<Option<u8>>("7"), Ok(Some(7)));
        assert!(
            matches!(decode::<u8>("<html>"), Err(ApiFailure::Network(m)) if m.starts_with("unexpected answer"))
        );
    }
}
