//! Limits and cross-origin access: a cap on open streams (503 with Retry-After beyond it), per client address,
//! with slots kept for the owner; and CORS for the configured origins only.

use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn streams_beyond_the_limit_get_503_with_retry_after() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--max-subscribers", 2);
    })
    .await;
    let first = app.sse("/eventstream").await;
    let _second = app.sse("/events").await;

    // Act
    let refused = app.get("/smart-home").await;

    // Assert
    assert_eq!(refused.status(), 503);
    let retry_after = refused
        .headers()
        .get("retry-after")
        .expect("503 says when to retry");
    retry_after
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After in seconds");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(app.metric("hearth_subscribers_refused_total").await, 1);

    // A closed stream frees its place.
    drop(first);
    eventually("a place to free up after a stream closed", || async {
        app.metric("hearth_subscribers").await < 2
    })
    .await;
    let _third = app.sse("/smart-home").await;
}

const ALLOWED: &str = "https://dashboard.example";
const OTHER: &str = "https://evil.example";

async fn app_with_cors() -> crate::helpers::TestApp {
    spawn_app(|f| {
        f.set(
            "--cors-origins",
            format!("{ALLOWED},https://second.example"),
        );
    })
    .await
}

async fn preflight(app: &crate::helpers::TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/message"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

fn allow_origin(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_allowed_origin_may_call_the_api() {
    // Arrange
    let app = app_with_cors().await;

    // Act
    let preflight = preflight(&app, ALLOWED).await;
    let stream = app
        .client
        .get(app.url("/events"))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();

    // Assert
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(allow_origin(&preflight).as_deref(), Some(ALLOWED));
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(stream.status(), 200);
    assert_eq!(allow_origin(&stream).as_deref(), Some(ALLOWED));
}

#[tokio::test]
async fn another_origin_gets_no_cors_grant() {
    // Arrange
    let app = app_with_cors().await;

    // Act
    let preflight = preflight(&app, OTHER).await;
    let stream = app
        .client
        .get(app.url("/events"))
        .header("origin", OTHER)
        .send()
        .await
        .unwrap();
    let health = app
        .client
        .get(app.url("/healthz"))
        .header("origin", OTHER)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(allow_origin(&preflight), None);
    assert_eq!(allow_origin(&stream), None);
    assert_eq!(allow_origin(&health), None);
}

#[tokio::test]
async fn a_star_allows_any_origin_without_credentials() {
    // Arrange: `*` used to panic inside the CORS layer at start-up.
    let app = spawn_app(|f| {
        f.set("--cors-origins", "*");
    })
    .await;

    // Act
    let response = preflight(&app, OTHER).await;

    // Assert
    assert!(response.status().is_success());
    assert_eq!(allow_origin(&response).as_deref(), Some("*"));
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "never with credentials"
    );
}

#[tokio::test]
async fn one_client_cannot_take_every_stream_and_the_owner_still_gets_in() {
    // Arrange: 4 streams in all, one kept for logged-in clients, 2 per address.
    let app = spawn_app(|f| {
        f.set("--max-subscribers", 4)
            .set("--reserved-streams", 1)
            .set("--max-streams-per-client", 2);
    })
    .await;
    let _a = app.sse("/eventstream").await;
    let _b = app.sse("/eventstream").await;

    // Act: a third anonymous stream from the same address, then the owner's.
    let refused = app.get("/smart-home").await;
    let owner = app
        .client
        .get(app.url("/smart-home"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("from your address"),
        "{body}"
    );
    assert_eq!(owner.status(), 200, "the owner is not limited per address");
    // With the owner's stream open, three are taken: the last one is the reserve's, not a stranger's.
    let _owner = owner;
    let stranger = tokio::net::TcpSocket::new_v4().unwrap();
    stranger.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stranger = stranger.connect(app.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stranger
        .write_all(b"GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n")
        .await
        .unwrap();
    let mut head = vec![0u8; 64];
    let n = stranger.read(&mut head).await.unwrap();
    assert!(
        String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
}

#[tokio::test]
async fn wrong_bearer_tokens_offered_for_a_stream_are_throttled_like_any_other_attempt() {
    // Arrange: three failures a minute; every stream place but the reserved one taken, so only the token gets
    // one: the answer to a guess (503 or a stream) would tell a right token from a wrong one.
    let app = spawn_app(|f| {
        f.set("--auth-failures-per-minute", 3)
            .set("--max-subscribers", 2)
            .set("--reserved-streams", 1);
    })
    .await;
    let _taken = app.sse("/eventstream").await;
    let stream = |token: &'static str, path: &'static str| {
        let request = app.client.get(app.url(path)).bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };

    // Act: guesses on every kind of stream route, the open one included.
    let mut guesses = Vec::new();
    for path in ["/eventstream", "/stream-random-numbers", "/events"] {
        guesses.push(stream("not-the-token-at-all", path).await);
    }
    let after = stream("not-the-token-at-all", "/stream-random-numbers").await;
    let right = stream(crate::helpers::TOKEN, "/eventstream").await;

    // Assert
    assert!(
        guesses.iter().all(|status| *status == 503),
        "no reserved place for a wrong token: {guesses:?}"
    );
    assert_eq!(after, 429, "the guesses were counted");
    assert_eq!(right, 429, "right token or not, while the address waits");
}
