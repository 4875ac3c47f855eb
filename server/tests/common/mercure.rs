//! Talking to a [`TestApp`] as a Mercure client does: tokens signed with the test key, form-encoded publishes,
//! subscriptions at `/.well-known/mercure` read through the project's parser.

use super::launch::TestApp;
use super::sse_client::SseStream;
use super::WAIT;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

/// The key every Mercure test app verifies tokens with (the reference hub's documented example key).
pub const KEY: &str = "!ChangeThisMercureHubJWTSecretKey!";

/// The flags that make an app a Mercure hub with [`KEY`] and anonymous subscribers allowed.
pub fn mercure_flags(flags: &mut super::Flags) -> &mut super::Flags {
    flags
        .set("--mercure-publisher-jwt-key", KEY)
        .set("--mercure-anonymous", "true")
}

/// A token with these claims, HS256 with [`KEY`].
pub fn token(claims: Value) -> String {
    sign(&claims, KEY)
}

/// A token with these claims signed with `key`.
pub fn sign(claims: &Value, key: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(key.as_bytes()).expect("a test key"),
    )
    .expect("the claims serialise")
}

/// A publisher's token for these selectors.
pub fn publisher(selectors: &[&str]) -> String {
    token(json!({"mercure": {"publish": selectors}}))
}

/// A subscriber's token for these selectors.
pub fn subscriber(selectors: &[&str]) -> String {
    token(json!({"mercure": {"subscribe": selectors}}))
}

/// A form body of these fields, encoded as a browser would (`+` for spaces).
pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// `?topic=...&topic=...` plus any other pairs.
pub fn query(selectors: &[&str], extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for s in selectors {
        q.append_pair("topic", s);
    }
    q.extend_pairs(extra);
    format!("?{}", q.finish())
}

impl TestApp {
    /// POSTs an update with `token` as a bearer credential: the status, content type and body as sent.
    pub async fn mercure_publish(
        &self,
        token: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, String, String) {
        let mut request = self
            .client
            .post(self.url("/.well-known/mercure"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST reaches the server");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (
            status,
            content_type,
            response.text().await.unwrap_or_default(),
        )
    }

    /// Publishes and checks it was accepted; the update's id.
    pub async fn mercure_publish_ok(&self, token: &str, fields: &[(&str, &str)]) -> String {
        let (status, _, body) = self.mercure_publish(Some(token), fields).await;
        assert_eq!(status, 200, "publish {fields:?}: {body}");
        body
    }

    /// A GET of the hub with this query string and headers, as sent.
    pub async fn mercure_get(&self, query: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .get(self.url(&format!("/.well-known/mercure{query}")))
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        tokio::time::timeout(WAIT, request.send())
            .await
            .expect("response headers in time")
            .expect("GET reaches the server")
    }

    /// Subscribes with this query string and headers, and checks it is a stream.
    pub async fn mercure_subscribe(&self, query: &str, headers: &[(&str, &str)]) -> SseStream {
        let response = self.mercure_get(query, headers).await;
        SseStream::new(&format!("/.well-known/mercure{query}"), response)
    }
}
