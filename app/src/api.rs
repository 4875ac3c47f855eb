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

/// POSTs `body` as JSON to `url`; decodes a JSON answer (or `null` for an empty one).
pub async fn post_json<B: Serialize, R: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<R, ApiFailure> {
    send(
        "POST",
        url,
        Some(serde_json::to_string(body).unwrap_or_default()),
    )
    .await
}

/// DELETEs `url`.
pub async fn delete(url: &str) -> Result<(), ApiFailure> {
    send::<IgnoredAny>("DELETE", url, None).await.map(|_| ())
}

/// The message of a JSON error body, or a generic one for the status.
pub fn error_message(status: u16, body: &str) -> String {
    serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| format!("the server answered {status}"))
}

#[cfg(feature = "hydrate")]
async fn send<R: DeserializeOwned>(
    method: &str,
    url: &str,
    json: Option<String>,
) -> Result<R, ApiFailure> {
    use gloo_net::http::{Method, RequestBuilder};
    let method = if method == "DELETE" {
        Method::DELETE
    } else {
        Method::POST
    };
    let builder = RequestBuilder::new(url).method(method);
    let request = match json {
        Some(body) => builder
            .header("Content-Type", "application/json")
            .body(body),
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
    let text = if text.trim().is_empty() {
        "null"
    } else {
        &text
    };
    serde_json::from_str(text).map_err(|e| ApiFailure::Network(format!("unexpected answer: {e}")))
}

#[cfg(not(feature = "hydrate"))]
async fn send<R: DeserializeOwned>(
    _method: &str,
    _url: &str,
    _json: Option<String>,
) -> Result<R, ApiFailure> {
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
}
