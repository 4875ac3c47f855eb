//! How stream connections are held (server/src/serve): in direct mode an event stream is written by Hearth itself,
//! outside hyper — chunked for HTTP/1.1, close-delimited for HTTP/1.0, closed after its one response, watched for
//! the client leaving — whether it opened its connection or came later on a keep-alive one, and everything else
//! is hyper's. In hyper mode (`HEARTH_TEST_SERVE=hyper`) everything is hyper's; where the two differ, each test
//! says what it expects of each.

use crate::helpers::{direct, eventually, spawn_app, spawn_default, TestApp, SSE_ROUTES, WAIT};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects and sends `request` verbatim.
pub async fn raw(app: &TestApp, request: &str) -> TcpStream {
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
}

/// Reads until `wanted` is in what was read (returned whole); fails after [`WAIT`] or at the end of the stream.
pub async fn read_until(socket: &mut TcpStream, read: &mut Vec<u8>, wanted: &str) -> String {
    let found = |read: &[u8]| String::from_utf8_lossy(read).contains(wanted);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while !found(read) {
        let n = tokio::time::timeout_at(deadline, socket.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {wanted:?} within {WAIT:?}; read {:?}",
                    String::from_utf8_lossy(read)
                )
            })
            .unwrap();
        assert!(
            n > 0,
            "the connection closed before {wanted:?}; read {:?}",
            String::from_utf8_lossy(read)
        );
        read.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(read).into_owned()
}

/// Reads one whole response with a `Content-Length` body; returns its head and its body.
pub async fn read_response(socket: &mut TcpStream) -> (String, String) {
    let mut read = Vec::new();
    let text = read_until(socket, &mut read, "\r\n\r\n").await;
    let (head, _) = text.split_once("\r\n\r\n").unwrap();
    let head = head.to_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    let body_start = head.len() + 4;
    while read.len() < body_start + length {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, socket.read(&mut buf))
            .await
            .expect("the body within WAIT")
            .unwrap();
        assert!(n > 0, "the connection closed inside the body");
        read.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&read[body_start..body_start + length]).into_owned();
    (head, body)
}

/// Reads until the server closes the connection.
pub async fn read_to_close(socket: &mut TcpStream, read: &mut Vec<u8>) -> String {
    tokio::time::timeout(WAIT, socket.read_to_end(read))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(read).into_owned()
}

#[test]
fn every_sse_route_is_held_outside_hyper_and_nothing_else_is() {
    for route in SSE_ROUTES {
        assert!(server::routes::is_stream_path(route), "{route}");
    }
    assert!(server::routes::is_stream_path("/api/jobs/abc123/events"));
    for other in [
        "/",
        "/api/jobs",
        "/api/jobs//events",
        "/api/jobs/a/b/events",
        "/message",
        "/healthz",
        "/events/x",
    ] {
        assert!(!server::routes::is_stream_path(other), "{other}");
    }
}

#[tokio::test]
async fn an_http_1_1_stream_is_chunked_says_close_and_ends_with_the_last_chunk() {
    // Arrange
    let app = spawn_default().await;
    let mut socket = raw(&app, "GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n").await;
    let mut read = Vec::new();
    let head = read_until(&mut socket, &mut read, "\r\n\r\n")
        .await
        .to_lowercase();

    // Act
    app.publish_message("over the wire").await;
    read_until(&mut socket, &mut read, "over the wire").await;
    app.state.shutdown.cancel();
    let all = read_to_close(&mut socket, &mut read).await;

    // Assert
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    for header in [
        "content-type: text/event-stream; charset=utf-8\r\n",
        "cache-control: no-cache\r\n",
        "transfer-encoding: chunked\r\n",
        "date: ",
    ] {
        assert!(head.contains(header), "{header:?} missing from {head}");
    }
    // The direct writer serves one response per connection and says so; hyper keeps the connection alive.
    assert_eq!(head.contains("connection: close\r\n"), direct(), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(
        all.ends_with("\r\n0\r\n\r\n"),
        "a clean end of the chunked body: {all:?}"
    );
}

#[tokio::test]
async fn an_http_1_0_stream_is_delimited_by_the_connection_closing() {
    let app = spawn_default().await;
    let mut socket = raw(&app, "GET /eventstream HTTP/1.0\r\n\r\n").await;
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "retry:").await;
    app.publish_message("plain bytes").await;
    read_until(&mut socket, &mut read, "plain bytes").await;
    app.state.shutdown.cancel();
    let all = read_to_close(&mut socket, &mut read).await;

    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    assert!(!head.to_lowercase().contains("transfer-encoding"), "{head}");
    assert!(
        body.starts_with("retry: "),
        "the body is the event stream itself: {body:?}"
    );
    assert!(body.contains("data: {"), "{body:?}");
}

#[tokio::test]
async fn a_client_that_closes_its_end_frees_its_viewer_slot_at_once() {
    // Arrange: keep-alives far apart, so only watching the socket can notice the client leaving.
    let app = spawn_app(|f| {
        f.set("--keepalive-secs", 120);
    })
    .await;
    let mut socket = raw(&app, "GET /events HTTP/1.1\r\nHost: hearth\r\n\r\n").await;
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "event: snapshot").await;
    assert_eq!(app.state.metrics.viewers.get(), 1);

    // Act
    let closed = std::time::Instant::now();
    drop(socket);

    // Assert: freed long before a keep-alive would have told. On the direct path the end of input alone could be
    // a half-close, so it takes the two probes sent after it (half a second apart); hyper takes the end of input
    // for the client leaving.
    eventually("the closed stream's slots to be freed", || async {
        app.state.metrics.viewers.get() == 0 && app.state.metrics.subscribers.get() == 0
    })
    .await;
    assert!(
        closed.elapsed() < Duration::from_secs(3),
        "freed after {:?}",
        closed.elapsed()
    );
}

/// A message POST with a `Content-Length` body, as a browser sends it on a keep-alive connection.
fn post_message_request(text: &str) -> String {
    let body = serde_json::json!({ "message": text }).to_string();
    format!(
        "POST /message HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        crate::helpers::TOKEN,
        body.len()
    )
}

/// Asks for `/eventstream` on `socket` (already used for other requests), and checks the stream works and who
/// holds it: `direct` when Hearth's own writer does, else hyper.
async fn stream_on_a_used_connection(app: &TestApp, mut socket: TcpStream, direct: bool) {
    socket
        .write_all(b"GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n")
        .await
        .unwrap();
    let mut read = Vec::new();
    let head = read_until(&mut socket, &mut read, "retry:")
        .await
        .to_lowercase();
    app.publish_message("on the same connection").await;
    read_until(&mut socket, &mut read, "on the same connection").await;

    assert!(head.contains("http/1.1 200 ok"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert_eq!(app.state.metrics.subscribers.get(), 1);
    assert_eq!(
        app.state.metrics.serve.streams_direct(),
        u64::from(direct),
        "held outside hyper: {direct}"
    );
}

#[tokio::test]
async fn a_stream_asked_for_on_a_reused_keep_alive_connection_is_taken_out_of_hyper() {
    // What a browser does: the page and its scripts first, then the EventSource on the same connection.
    let app = spawn_default().await;
    let mut socket = raw(&app, "GET /healthz HTTP/1.1\r\nHost: hearth\r\n\r\n").await;
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "\r\n\r\n").await;
    socket
        .write_all(post_message_request("before the stream").as_bytes())
        .await
        .unwrap();
    read_until(&mut socket, &mut read, "HTTP/1.1 201").await;
    read_until(&mut socket, &mut read, "before the stream").await;

    stream_on_a_used_connection(&app, socket, direct()).await;
}

#[tokio::test]
async fn requests_sent_together_are_answered_in_order_and_the_stream_last() {
    let app = spawn_default().await;
    let pipelined = format!(
        "GET /healthz HTTP/1.1\r\nHost: hearth\r\n\r\n{}GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n",
        post_message_request("pipelined")
    );
    let mut socket = raw(&app, &pipelined).await;
    let mut read = Vec::new();
    let all = read_until(&mut socket, &mut read, "retry:").await;

    let statuses: Vec<&str> = all
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &all[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "201", "200"], "{all}");
    assert!(all.contains("text/event-stream"), "{all}");
    assert_eq!(
        app.state.metrics.serve.streams_direct(),
        u64::from(direct())
    );
}

#[tokio::test]
async fn after_a_chunked_upload_hyper_keeps_the_connection_and_streams_still_work() {
    // The end of a chunked body cannot be told from its head, so the gate stops looking: hyper serves the
    // stream, as it would have anyway.
    let app = spawn_default().await;
    let body = serde_json::json!({ "message": "chunked" }).to_string();
    let chunked = format!(
        "POST /message HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        crate::helpers::TOKEN,
        body.len()
    );
    let mut socket = raw(&app, &chunked).await;
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "HTTP/1.1 201").await;
    read_until(&mut socket, &mut read, "chunked").await;

    stream_on_a_used_connection(&app, socket, false).await;
}

#[tokio::test]
async fn an_error_on_a_stream_route_is_a_whole_json_response_then_close() {
    let app = spawn_default().await;
    let mut socket = raw(
        &app,
        "GET /events?topics=nonsense HTTP/1.1\r\nHost: hearth\r\n\r\n",
    )
    .await;
    let (head, body) = read_response(&mut socket).await;
    if direct() {
        // One response per connection on the direct path; hyper keeps the connection for the next request.
        let mut rest = Vec::new();
        assert_eq!(read_to_close(&mut socket, &mut rest).await, "");
    }

    let head = head.to_lowercase();
    assert!(head.starts_with("http/1.1 400 bad request\r\n"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}\r\n", body.len())),
        "{head}"
    );
    assert!(head.contains("content-type: application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["detail"]["field"], "topics", "{json}");
    assert_eq!(app.state.metrics.subscribers.get(), 0);
}

#[tokio::test]
async fn a_client_that_keeps_sending_on_a_stream_is_cut() {
    let app = spawn_default().await;
    let mut socket = raw(&app, "GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n").await;
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "retry:").await;

    // 256 KiB the server has no use for; the direct writer gives up on the client well before the end. hyper
    // stops reading once its buffer is full: the rest waits in the kernel's buffers (or the client's writes
    // block), and the stream goes on.
    let junk = vec![b'x'; 4096];
    for _ in 0..64 {
        let write = tokio::time::timeout(Duration::from_secs(1), socket.write_all(&junk)).await;
        if !matches!(write, Ok(Ok(()))) {
            break;
        }
    }

    if direct() {
        eventually("the sending client's stream to be closed", || async {
            app.state.metrics.subscribers.get() == 0
        })
        .await;
    } else {
        app.publish_message("still streaming").await;
        read_until(&mut socket, &mut read, "still streaming").await;
        assert_eq!(app.state.metrics.subscribers.get(), 1);
    }
}

/// Decodes a complete chunked body; fails on anything malformed.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16)
            .expect("a hexadecimal chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            assert_eq!(body, b"\r\n", "nothing after the last chunk");
            return out;
        }
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n", "a chunk ends with CRLF");
        body = &body[size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_cut_short_by_a_full_socket_resume_exactly_where_they_stopped() {
    // Arrange: ~12 MB of events in 2 MB pieces, more than the kernel buffers on both sides hold, read slowly: the server's
    // writes fill its socket and stop part-way through a chunk, again and again, and must continue exactly there.
    // (A tiny receive buffer would not do: with loopback's 64 KiB segments the window then reopens so rarely that
    // the server rightly cuts the client as stalled.)
    const EVENTS: u64 = 6;
    // The stall period (the keep-alive's) is long: the reading starts only once ~12 MB are committed, which
    // takes seconds on a busy machine, and a client not read from for that long must not be cut as stalled here.
    let app = spawn_app(|f| {
        f.set("--queue-size", 64).set("--keepalive-secs", 30);
    })
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let mut socket = socket.connect(app.addr).await.unwrap();
    socket
        .write_all(b"GET /eventstream HTTP/1.1\r\nHost: hearth\r\n\r\n")
        .await
        .unwrap();
    let mut read = Vec::new();
    read_until(&mut socket, &mut read, "retry:").await;

    // Act: publish everything at once, then read slowly, in small pieces, until shutdown ends the body.
    let texts: Vec<String> = (0..EVENTS)
        .map(|k| {
            format!(
                "{k}:{}",
                char::from(b'a' + k as u8)
                    .to_string()
                    .repeat(2_000_000 + 997 * k as usize)
            )
        })
        .collect();
    let published: Vec<_> = texts
        .iter()
        .map(|text| app.publish_message_now(text))
        .collect();
    futures::future::join_all(published).await;
    let total: usize = texts.iter().map(String::len).sum();
    let mut buf = [0u8; 16 * 1024];
    while read.len() < total {
        let n = tokio::time::timeout(WAIT, socket.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream ended after {} bytes", read.len());
        read.extend_from_slice(&buf[..n]);
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
    app.state.shutdown.cancel();
    read_to_close(&mut socket, &mut read).await;

    // Assert: every event arrived whole and in order.
    let at = read.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = dechunk(&read[at..]);
    let events = sse::Parser::default().feed(&body);
    let messages: Vec<String> = events
        .iter()
        .filter(|e| e.event == "message")
        .map(|e| {
            crate::helpers::json(e)["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages.len(), texts.len(), "every event arrived");
    for (got, sent) in messages.iter().zip(&texts) {
        assert!(
            got == sent,
            "an event was damaged ({} bytes instead of {})",
            got.len(),
            sent.len()
        );
    }
}
