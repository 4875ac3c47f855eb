//! Connections that would wear the server down: idle ones, slow request heads, more connections than the server
//! can hold or than one client should, a client that half-closes its stream, a length too large to count. Each
//! test runs in both serve modes; where hyper alone behaves differently from the direct path, the test says so.

use crate::connections::{raw, read_response, read_to_close, read_until};
use crate::helpers::{direct, eventually, spawn_app, TestApp, TOKEN, WAIT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: hearth\r\n\r\n";

/// Waits until the server closes `socket` (end of input or a reset), failing after [`WAIT`]; returns what the
/// server sent first.
pub async fn closed_by_server(socket: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, socket.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {WAIT:?}; read {:?}",
                String::from_utf8_lossy(&read)
            ),
            Ok(Ok(0) | Err(_)) => return read,
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
        }
    }
}

/// Connects from `source` (any loopback address: each is a different client to the server).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Opens `n` connections that have sent one request and been answered, then wait; returns them once the server
/// counts them and nothing else.
async fn idle_connections(app: &TestApp, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut socket = raw(app, HEALTHZ).await;
        let (head, _) = read_response(&mut socket).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(socket);
    }
    eventually("the server to count only the idle connections", || async {
        app.state.metrics.serve.connections() == n as u64
    })
    .await;
    held
}

/// An app with one regular place, taken by an idle connection (returned with it); 4 reserved places, so 8 on
/// probation.
async fn one_place_taken() -> (TestApp, Vec<TcpStream>) {
    let app = spawn_app(|f| {
        f.set("--max-connections", 1)
            .set("--reserved-connections", 4)
            .set("--max-connections-per-client", 0);
    })
    .await;
    let held = idle_connections(&app, 1).await;
    (app, held)
}

/// A session cookie (`name=value`) for a logged-in dashboard, got on a connection of its own that is closed.
async fn log_in(app: &TestApp) -> String {
    let body = serde_json::json!({ "token": TOKEN }).to_string();
    let request = format!(
        "POST /api/session HTTP/1.1\r\nHost: hearth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut socket = raw(app, &request).await;
    let (head, _) = read_response(&mut socket).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let cookie = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no session cookie in {head}"));
    cookie.split(';').next().unwrap().to_owned()
}

/// Asserts `socket` gets a 503 with a JSON error naming `limit`, then is closed.
async fn refused(socket: &mut TcpStream, limit: &str) {
    let answer = String::from_utf8(closed_by_server(socket).await).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no whole answer: {answer:?}"));
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(head.contains("retry-after: "), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        json["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{json}"
    );
    assert_eq!(json["detail"]["limit"], limit, "{json}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--idle-timeout-secs", 1)
            .set("--header-timeout-secs", 1);
    })
    .await;
    let mut socket = raw(&app, HEALTHZ).await;
    read_response(&mut socket).await;

    // Act
    let started = Instant::now();
    let rest = closed_by_server(&mut socket).await;

    // Assert: closed, without another word, after the idle timeout (hyper: idle and header timeouts together).
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(app.state.metrics.serve.timed_out(), 1);
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    let app = spawn_app(|f| {
        f.set("--idle-timeout-secs", 1)
            .set("--header-timeout-secs", 1);
    })
    .await;
    let mut socket = TcpStream::connect(app.addr).await.unwrap();

    let rest = closed_by_server(&mut socket).await;

    assert!(rest.is_empty());
    assert_eq!(app.state.metrics.serve.timed_out(), 1);
    assert_eq!(app.state.metrics.serve.connections(), 0);
}

#[tokio::test]
async fn a_second_request_head_sent_a_byte_at_a_time_is_cut_off() {
    // Arrange: the slow-head attack on a reused connection. The head takes ~12 s to send; the header timeout
    // (direct: 1 s from its first byte) or hyper's deadline (idle + header: 4 s from the first response) ends the
    // connection long before.
    let app = spawn_app(|f| {
        f.set("--idle-timeout-secs", 3)
            .set("--header-timeout-secs", 1);
    })
    .await;
    let mut socket = raw(&app, HEALTHZ).await;
    read_response(&mut socket).await;
    let (mut reader, mut writer) = socket.into_split();
    let trickle = tokio::spawn(async move {
        for byte in HEALTHZ.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });

    // Act
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT, reader.read_to_end(&mut rest)).await;

    // Assert
    assert!(closed.is_ok(), "still open after {WAIT:?}");
    assert!(
        rest.is_empty(),
        "the slow head was answered: {:?}",
        String::from_utf8_lossy(&rest)
    );
    let bound = if direct() { 3 } else { 6 };
    assert!(
        started.elapsed() < Duration::from_secs(bound),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.state.metrics.serve.timed_out(), 1);
    trickle.abort();
}

#[tokio::test]
async fn over_the_connection_limit_strangers_get_503_and_a_logged_in_dashboard_still_gets_in() {
    // Arrange: three connections for anyone, two more for logged-in clients; the limit is reached by connections
    // that did nothing wrong.
    let app = spawn_app(|f| {
        f.set("--max-connections", 3)
            .set("--reserved-connections", 2)
            .set("--max-connections-per-client", 0);
    })
    .await;
    let cookie = log_in(&app).await;
    let _held = idle_connections(&app, 3).await;

    // Act
    let mut stranger = raw(&app, HEALTHZ).await;
    let dashboard_request =
        format!("GET /events HTTP/1.1\r\nHost: hearth\r\nCookie: {cookie}\r\n\r\n");
    let mut dashboard = raw(&app, &dashboard_request).await;
    let token_request =
        format!("GET /healthz HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let mut with_token = raw(&app, &token_request).await;

    // Assert
    refused(&mut stranger, "connections").await;
    let mut read = Vec::new();
    read_until(&mut dashboard, &mut read, "event: snapshot").await;
    let (head, _) = read_response(&mut with_token).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let serve = &app.state.metrics.serve;
    assert_eq!(serve.refused_total_limit(), 1);
    assert_eq!(serve.let_in_over_limit(), 2);
    let metrics = crate::helpers::metric_value(
        &app.state.metrics.render(),
        "hearth_connections_refused_total",
    );
    assert_eq!(metrics, Some(1), "counted in /metrics");
}

#[tokio::test]
async fn one_client_address_cannot_take_every_connection() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--max-connections-per-client", 2);
    })
    .await;
    let _held = idle_connections(&app, 2).await;

    // Act
    let mut third = raw(&app, HEALTHZ).await;
    let mut neighbour = connect_from("127.0.0.2", app.addr).await;
    neighbour.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let token_request =
        format!("GET /healthz HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let mut with_token = raw(&app, &token_request).await;

    // Assert
    refused(&mut third, "connections_per_client").await;
    let (head, _) = read_response(&mut neighbour).await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "another address is served: {head}"
    );
    let (head, _) = read_response(&mut with_token).await;
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "the token holder is served: {head}"
    );
    assert_eq!(app.state.metrics.serve.refused_per_client(), 1);
}

#[tokio::test]
async fn a_flood_of_silent_connections_over_the_limit_cannot_keep_a_logged_in_client_out() {
    // Arrange: the limit is full, and 40 more connections wait on probation without sending anything.
    let (app, _held) = one_place_taken().await;
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }

    // Act
    let token_request =
        format!("GET /healthz HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let mut with_token = raw(&app, &token_request).await;

    // Assert: served; the silent ones were pushed out (closed) to make room.
    let (head, _) = read_response(&mut with_token).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    closed_by_server(&mut silent[0]).await;
    assert!(app.state.metrics.serve.refused_total_limit() >= 30);
}

#[tokio::test]
async fn a_stream_client_that_half_closes_its_sending_side_still_gets_events() {
    // Arrange: HTTP/1.1 lets a client close its sending side once its request is sent.
    let app = spawn_app(|f| {
        f.set("--keepalive-secs", 120);
    })
    .await;
    let mut socket = raw(&app, "GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n").await;
    socket.shutdown().await.unwrap();
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "retry:").await;

    // Act
    app.publish_message("after the half-close").await;
    if !direct() {
        // hyper's own rule: the end of a client's input while it answers means the client left.
        read_to_close(&mut socket, &mut read).await;
        eventually("hyper to end the half-closed stream", || async {
            app.state.metrics.subscribers.get() == 0
        })
        .await;
        return;
    }
    read_until(&mut socket, &mut read, "after the half-close").await;
    // Past the probes sent to learn whether the client is still there (harmless comment lines).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.publish_message("still there").await;

    // Assert
    read_until(&mut socket, &mut read, "still there").await;
    assert_eq!(app.state.metrics.subscribers.get(), 1);
}

#[tokio::test]
async fn a_stream_client_that_closes_cleanly_is_still_noticed_at_once() {
    // Arrange: a client that has read everything sent to it, so that its close is a plain FIN (with unread data
    // it would be a reset, noticed at once anyway), and keep-alives far apart.
    let app = spawn_app(|f| {
        f.set("--keepalive-secs", 120);
    })
    .await;
    // `/eventstream`: nothing is sent after its first lines (a dashboard stream would get viewer counts).
    let mut socket = raw(&app, "GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n").await;
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "retry:").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut buf = [0u8; 4096];
    while matches!(socket.try_read(&mut buf), Ok(n) if n > 0) {}

    // Act
    let closed = Instant::now();
    drop(socket);

    // Assert: the end of input could be a half-close; the probes after it find the client gone.
    eventually("the closed stream's slots to be freed", || async {
        app.state.metrics.subscribers.get() == 0
    })
    .await;
    assert!(
        closed.elapsed() < Duration::from_secs(3),
        "{:?}",
        closed.elapsed()
    );
}

#[tokio::test]
async fn a_content_length_too_large_to_count_is_answered_not_hung() {
    // Arrange: u64::MAX, which overflowed the gate's arithmetic (a panic in debug builds, a hung connection in
    // release ones).
    let app = spawn_app(|_| {}).await;
    let request = format!(
        "POST /message HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 18446744073709551615\r\n\r\n{{}}"
    );

    // Act
    let mut socket = raw(&app, &request).await;
    let answer = String::from_utf8(closed_by_server(&mut socket).await).unwrap();

    // Assert: hyper's answer to a length it will not read, then the connection closes; the server goes on.
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer:?}");
    let mut next = raw(&app, HEALTHZ).await;
    let (head, _) = read_response(&mut next).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn wrong_tokens_offered_for_a_reserved_connection_count_as_failed_attempts() {
    // Arrange: this address holds its one connection, so each further one is heard only with the token; three
    // failures a minute.
    let app = spawn_app(|f| {
        f.set("--max-connections-per-client", 1)
            .set("--auth-failures-per-minute", 3);
    })
    .await;
    let held = idle_connections(&app, 1).await;
    let guess = "GET /healthz HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer not-the-token-at-all\r\n\r\n";

    // Act: three guesses over the limit, each refused; then, the held connection gone, a login with the token.
    for _ in 0..3 {
        let mut socket = raw(&app, guess).await;
        refused(&mut socket, "connections_per_client").await;
    }
    drop(held);
    eventually("the held connection to be gone", || async {
        app.state.metrics.serve.connections() == 0
    })
    .await;
    let login = app
        .client
        .post(app.url("/api/session"))
        .json(&serde_json::json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();

    // Assert: the guesses counted; the address waits out its window.
    assert_eq!(login.status(), 429);
}

#[tokio::test]
async fn the_owners_connection_is_not_pushed_out_by_another_addresses_flood() {
    // Arrange: every regular place taken; probation holds 8. The owner's connection is on probation, its head
    // not yet read (a loaded server, a slow link), when a flood of silent connections comes from another address.
    let (app, _held) = one_place_taken().await;
    let mut owner = connect_from("127.0.0.3", app.addr).await;
    eventually("the owner's connection to be counted", || async {
        app.state.metrics.serve.connections() == 2
    })
    .await;

    // Act
    let mut flood = Vec::new();
    for _ in 0..30 {
        flood.push(connect_from("127.0.0.2", app.addr).await);
    }
    eventually("the flood to push out its own", || async {
        app.state.metrics.serve.refused_total_limit() >= 20
    })
    .await;
    let token_request =
        format!("GET /healthz HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let sent = owner.write_all(token_request.as_bytes()).await;

    // Assert
    assert!(sent.is_ok(), "the owner's connection was closed: {sent:?}");
    let (head, _) = read_response(&mut owner).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}
