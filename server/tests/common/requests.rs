//! Talking to a [`TestApp`] the way its clients do, over HTTP: plain requests, writes with the token,
//! `/healthz`, `/metrics` and event streams.

use super::eventually::eventually;
use super::launch::TestApp;
use super::sse_client::{SseClient, SseStream};
use super::TOKEN;

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Where this app keeps its state (the store is `hearth.db` in it).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.state.config.data_dir
    }

    /// The store, opened beside the running app (SQLite allows readers beside the writer).
    pub fn store(&self) -> server::store::Store {
        server::store::Store::open(self.data_dir()).expect("the app's store opens")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the server")
    }

    /// POSTs `body` as JSON with the right token.
    pub async fn post_json(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST reaches the server")
    }

    /// POSTs a message the way the tutorial's client does, and checks it was accepted.
    pub async fn post_message(&self, text: &str) -> serde_json::Value {
        let (status, body) = self.try_post_message(text).await;
        assert_eq!(status, 201, "POST /message {text:?} is accepted: {body}");
        body
    }

    /// POSTs a message, whatever the answer: its status and JSON body.
    pub async fn try_post_message(&self, text: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({ "message": text });
        post(&self.client, &self.url("/message"), &body).await
    }

    /// `/healthz`: its status and JSON body.
    pub async fn healthz(&self) -> (u16, serde_json::Value) {
        let response = self.get("/healthz").await;
        let status = response.status().as_u16();
        (
            status,
            response.json().await.expect("/healthz answers JSON"),
        )
    }

    /// Waits until `/healthz` answers 200 (on a broker: it follows the broker's log).
    pub async fn wait_healthy(&self) {
        let what = format!("{} to become healthy", self.addr);
        eventually(&what, || async {
            let answer = self.client.get(self.url("/healthz")).send().await;
            answer.is_ok_and(|response| response.status() == 200)
        })
        .await;
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), 200);
        response.text().await.expect("metrics text")
    }

    /// One sample's value from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics_text().await;
        metric_value(&text, name)
            .unwrap_or_else(|| panic!("/metrics has no sample for {name}:\n{text}"))
    }

    /// Opens an SSE stream and checks the response is one.
    pub async fn sse(&self, path: &str) -> SseStream {
        self.sse_from(path, None).await
    }

    /// Opens an SSE stream resuming from `last_event_id` (sent as the `Last-Event-ID` header).
    pub async fn sse_from(&self, path: &str, last_event_id: Option<&str>) -> SseStream {
        self.sse_client().open(path, last_event_id).await
    }

    /// A handle that opens streams from spawned tasks.
    pub fn sse_client(&self) -> SseClient {
        SseClient {
            client: self.client.clone(),
            base: self.url(""),
        }
    }
}

/// POSTs `body` as JSON with the token to any server a test started: the status and the JSON answer (`null`
/// when there is none).
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// The value of the sample `name` in Prometheus text, if present.
pub fn metric_value(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}
