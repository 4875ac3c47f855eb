//! A private home stays private: only hosts that cannot be rebound are served, and off loopback the home's state
//! needs a login.

use crate::helpers::{spawn_app, TestApp, TOKEN};

async fn get_as_host(app: &TestApp, path: &str, host: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_page_that_rebinds_its_domain_to_hearth_gets_nothing() {
    // Arrange: a page on evil.example whose domain now resolves to this Hearth.
    let app = spawn_app(|f| {
        f.set("--allowed-hosts", "home.example");
    })
    .await;

    // Act + Assert: every route refuses the name, the dashboard's streams and static files included.
    for path in [
        "/api/snapshot",
        "/events",
        "/",
        "/favicon.svg",
        "/smart-home",
    ] {
        let response = get_as_host(&app, path, &format!("evil.example:{}", app.addr.port())).await;
        assert_eq!(response.status(), 421, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("HEARTH_ALLOWED_HOSTS"),
            "{path}: {body}"
        );
    }
    // The names that cannot be rebound, and the configured one, are served.
    for host in ["localhost", "127.0.0.1", "home.example"] {
        let response = get_as_host(
            &app,
            "/api/snapshot",
            &format!("{host}:{}", app.addr.port()),
        )
        .await;
        assert_eq!(response.status(), 200, "{host}");
    }
}

/// An app that believes it listens on every interface (the harness still binds loopback).
async fn off_loopback(public_read: bool) -> TestApp {
    spawn_app(|f| {
        f.set("--addr", "0.0.0.0:3000");
        if public_read {
            f.set("--public-read", "true");
        }
    })
    .await
}

async fn get(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn off_loopback_a_private_home_needs_a_login_to_be_read() {
    // Arrange
    let app = off_loopback(false).await;
    let login = app
        .client
        .post(app.url("/api/session"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "token": TOKEN }).to_string())
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // Act + Assert: without a credential, nothing of the home.
    for path in [
        "/api/snapshot",
        "/events",
        "/smart-home",
        "/eventstream",
        "/live-users",
        "/metrics",
    ] {
        let response = get(&app, path, None, None).await;
        assert_eq!(response.status(), 401, "{path} without a login");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: a JSON error");
    }
    let page = get(&app, "/", None, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"login-token\""), "a login form");
    assert!(
        !html.contains("hearth-snapshot") && !html.contains("kitchen"),
        "and nothing of the home"
    );
    // The tutorial's random numbers are not the home's: still open.
    assert_eq!(
        get(&app, "/stream-random-numbers", None, None)
            .await
            .status(),
        200
    );

    // With the token or a session, everything.
    assert_eq!(
        get(&app, "/api/snapshot", Some(TOKEN), None).await.status(),
        200
    );
    assert_eq!(get(&app, "/metrics", Some(TOKEN), None).await.status(), 200);
    let stream = get(&app, "/events", None, Some(&cookie)).await;
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let page = get(&app, "/", None, Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("hearth-snapshot"), "the dashboard itself");
    // A wrong token is an error, not a read.
    assert_eq!(
        get(&app, "/api/snapshot", Some("not-the-token-at-all"), None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn public_read_opens_a_home_off_loopback_but_not_its_writes() {
    let app = off_loopback(true).await;
    assert_eq!(get(&app, "/api/snapshot", None, None).await.status(), 200);
    assert_eq!(get(&app, "/events", None, None).await.status(), 200);
    let write = app
        .client
        .post(app.url("/message"))
        .header("content-type", "application/json")
        .body(r#"{"message":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 401);
}

#[tokio::test]
async fn off_loopback_healthz_tells_a_stranger_only_whether_hearth_is_up() {
    // Arrange: events, so that the newest id is something to hide.
    let app = off_loopback(false).await;
    app.post_message("an event with an id").await;

    // Act
    let stranger = get(&app, "/healthz", None, None).await;
    let owner = get(&app, "/healthz", Some(TOKEN), None).await;

    // Assert: the same status either way; the store's state (its newest id) only with a login.
    assert_eq!(stranger.status(), 200);
    let stranger: serde_json::Value = stranger.json().await.unwrap();
    assert_eq!(stranger, serde_json::json!({ "status": "ok" }));
    assert_eq!(owner.status(), 200);
    let owner: serde_json::Value = owner.json().await.unwrap();
    assert!(owner["store"]["last_seq"].as_u64().unwrap() > 0, "{owner}");
}

#[tokio::test]
async fn camera_images_behind_a_login_are_kept_by_no_shared_cache() {
    // Arrange: a private home and an open one, each with a camera shot.
    let private = off_loopback(false).await;
    let open = off_loopback(true).await;
    let image = |app: &TestApp| {
        let shots = app.state.hub.snapshot().camera;
        shots.last().expect("the camera's first shot").url.clone()
    };

    // Act
    let behind_login = get(&private, &image(&private), Some(TOKEN), None).await;
    let public = get(&open, &image(&open), None, None).await;

    // Assert: a year in the browser either way; in shared caches only when anyone may read it.
    assert_eq!(behind_login.status(), 200);
    assert_eq!(
        behind_login.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );
    assert_eq!(public.status(), 200);
    assert_eq!(
        public.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}
