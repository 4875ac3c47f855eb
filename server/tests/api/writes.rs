//! Writes: a credential is required, bad input gets a 4xx with a JSON body saying what was wrong, and nothing
//! is half-applied — a refused request publishes nothing.

use crate::helpers::{json, spawn_app, spawn_default, TestApp};
use reqwest::StatusCode;

const BODY_LIMIT: usize = 512;

/// How a case authenticates.
#[derive(Clone, Copy)]
enum Auth {
    Token,
    Missing,
    Wrong,
    /// The right token under another scheme.
    Basic,
}

struct Case {
    what: &'static str,
    path: &'static str,
    auth: Auth,
    content_type: Option<&'static str>,
    body: String,
    status: StatusCode,
    /// The field `detail.field` must name, for a 400 about one field.
    field: Option<&'static str>,
}

fn case(what: &'static str, path: &'static str, body: impl Into<String>, status: u16) -> Case {
    Case {
        what,
        path,
        auth: Auth::Token,
        content_type: Some("application/json"),
        body: body.into(),
        status: StatusCode::from_u16(status).unwrap(),
        field: None,
    }
}

impl Case {
    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }
    fn field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

fn cases() -> Vec<Case> {
    let ok_message = r#"{"message":"hi"}"#;
    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(BODY_LIMIT * 2));
    vec![
        case("no token", "/message", ok_message, 401).auth(Auth::Missing),
        case("a wrong token", "/message", ok_message, 401).auth(Auth::Wrong),
        case("the token under Basic", "/message", ok_message, 401).auth(Auth::Basic),
        case("text/plain", "/message", ok_message, 415).content_type(Some("text/plain")),
        case("no content type", "/message", ok_message, 415).content_type(None),
        case("a body over the limit", "/message", big, 413),
        case("malformed JSON", "/message", r#"{"message": "#, 400),
        case("a number for message", "/message", r#"{"message": 5}"#, 400).field("message"),
        case("no message field", "/message", r#"{}"#, 400).field("message"),
        case("an empty message", "/message", r#"{"message": "   "}"#, 400).field("message"),
        case(
            "an unknown field",
            "/message",
            r#"{"message": "x", "admin": true}"#,
            400,
        ),
        case(
            "a device change without token",
            "/api/rooms/kitchen/lights",
            r#"{"state":"on"}"#,
            401,
        )
        .auth(Auth::Missing),
        case(
            "an unknown room",
            "/api/rooms/garage/lights",
            r#"{"state":"on"}"#,
            404,
        ),
        case(
            "a device the room lacks",
            "/api/rooms/kitchen/curtains",
            r#"{"state":"open"}"#,
            404,
        ),
        case(
            "an unknown device",
            "/api/rooms/kitchen/oven",
            r#"{"state":"on"}"#,
            404,
        ),
        case(
            "a state lights cannot have",
            "/api/rooms/kitchen/lights",
            r#"{"state":"open"}"#,
            400,
        )
        .field("state"),
        case(
            "a state nothing has",
            "/api/rooms/bedroom/curtains",
            r#"{"state":"purple"}"#,
            400,
        )
        .field("state"),
        case("a job without token", "/api/jobs", "", 401).auth(Auth::Missing),
    ]
}

async fn send(app: &TestApp, case: &Case) -> reqwest::Response {
    let mut request = app.client.post(app.url(case.path)).body(case.body.clone());
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    request = match case.auth {
        Auth::Token => request.bearer_auth(&app.token),
        Auth::Missing => request,
        Auth::Wrong => request.bearer_auth(format!("{}x", app.token)),
        Auth::Basic => request.header("authorization", format!("Basic {}", app.token)),
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn bad_writes_are_refused_with_a_json_error_and_publish_nothing() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--body-limit", BODY_LIMIT);
    })
    .await;
    let mut feed = app.sse("/eventstream").await;
    let before = app.state.hub.snapshot();

    // Act + Assert: each refusal says what was wrong, as JSON.
    for case in cases() {
        let response = send(&app, &case).await;
        assert_eq!(response.status(), case.status, "{}", case.what);
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json")),
            "{}: a JSON error body, not {content_type:?}",
            case.what
        );
        if case.status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{}",
                case.what
            );
        }
        let body: serde_json::Value = response.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            !error.is_empty(),
            "{}: the body says what was wrong: {body}",
            case.what
        );
        if let Some(field) = case.field {
            assert_eq!(
                body["detail"]["field"], field,
                "{}: names the field: {body}",
                case.what
            );
        }
        if case.status == StatusCode::PAYLOAD_TOO_LARGE {
            assert_eq!(
                body["detail"]["limit"], BODY_LIMIT,
                "{}: says the limit",
                case.what
            );
        }
    }

    // Assert: nothing was applied — the hub did not move, and the feed's next message is the first good one.
    assert_eq!(
        app.state.hub.snapshot(),
        before,
        "no refused write changed the state"
    );
    app.post_message("the first accepted message").await;
    let next = feed.next_event().await;
    assert_eq!(
        json(&next)["message"],
        "the first accepted message",
        "nothing refused was broadcast"
    );
}

#[tokio::test]
async fn a_message_at_the_limits_is_accepted() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--body-limit", 4096);
    })
    .await;
    let longest = "x".repeat(app::contract::MessageBody::MAX_CHARS);

    // Act
    let at_limit = app
        .post_json(
            "/message",
            &serde_json::json!({ "message": longest }).to_string(),
        )
        .await;
    let one_more = app
        .post_json(
            "/message",
            &serde_json::json!({ "message": format!("{longest}x") }).to_string(),
        )
        .await;
    let charset = app
        .client
        .post(app.url("/message"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"message":"with a charset"}"#)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(
        at_limit.status(),
        201,
        "exactly the longest message is fine"
    );
    assert_eq!(one_more.status(), 400, "one character more is not");
    let body: serde_json::Value = one_more.json().await.unwrap();
    assert_eq!(body["detail"]["field"], "message");
    assert_eq!(
        charset.status(),
        201,
        "a charset parameter on application/json is fine"
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_too() {
    // Arrange: no Content-Length to refuse early on; the limit must hold while reading.
    let app = spawn_app(|f| {
        f.set("--body-limit", BODY_LIMIT);
    })
    .await;
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok(r#"{"message":""#.to_owned()),
        Ok("y".repeat(BODY_LIMIT)),
        Ok(r#""}"#.to_owned()),
    ];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));

    // Act
    let response = app
        .client
        .post(app.url("/message"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["detail"]["limit"], BODY_LIMIT);
}

#[tokio::test]
async fn guessing_the_token_is_throttled_per_client_address() {
    // Arrange: three failures a minute.
    let app = spawn_app(|f| {
        f.set("--auth-failures-per-minute", 3);
    })
    .await;
    let guess = |token: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/session"))
                .header("content-type", "application/json")
                .body(serde_json::json!({ "token": token }).to_string())
                .send()
                .await
                .unwrap()
        }
    };

    // Act: wrong logins, then a wrong bearer token, then the right token from the same address.
    for _ in 0..3 {
        assert_eq!(guess("wrong-wrong-wrong").await.status(), 401);
    }
    let refused = guess("wrong-wrong-wrong").await;
    let bearer = app
        .client
        .post(app.url("/message"))
        .bearer_auth("another-wrong-token")
        .header("content-type", "application/json")
        .body(r#"{"message":"m"}"#)
        .send()
        .await
        .unwrap();
    let right = guess(crate::helpers::TOKEN).await;

    // Assert: refused with 429 and a Retry-After, right token or not, and nothing applied.
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many failed attempts"),
        "{body}"
    );
    assert_eq!(
        bearer.status(),
        429,
        "bearer guesses count and are refused too"
    );
    assert_eq!(
        right.status(),
        429,
        "even the right token waits out the window"
    );
    assert!(app.state.hub.snapshot().messages.is_empty());
}

#[tokio::test]
async fn the_session_cookie_expires_and_says_so() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let login = app
        .client
        .post(app.url("/api/session"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "token": crate::helpers::TOKEN }).to_string())
        .send()
        .await
        .unwrap();

    // Assert: the browser is told how long it lives (an absolute lifetime, not for ever).
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        cookie.contains(&format!("Max-Age={}", 30 * 86_400)),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "only when asked (served behind TLS)"
    );
}
