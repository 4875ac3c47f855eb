//! Requests that would hold a connection without ever finishing: a body sent a byte at a time, however it is
//! framed, and a head larger than any browser sends. Each ends within a bound of its own, in both serve modes:
//! a body must arrive whole within the body deadline, and a head past the size cap is answered 431 at once
//! rather than buffered while it grows.

use crate::connections::{raw, read_response};
use crate::hardening_connections::closed_by_server;
use crate::helpers::{spawn_app, TestApp, TOKEN, WAIT};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Between two pieces of a trickled body: far below the idle timeout, so only a deadline for the whole body
/// can end it.
const PIECE_EVERY: Duration = Duration::from_millis(300);

/// An app whose bodies must arrive within 2 s, and whose idle timeout (1 s) is longer than the pause between
/// the pieces a trickler sends.
async fn app_with_body_deadline() -> TestApp {
    spawn_app(|f| {
        f.set("--body-timeout-secs", 2)
            .set("--idle-timeout-secs", 1)
            .set("--header-timeout-secs", 1);
    })
    .await
}

/// Sends `head` at once, then `piece` every [`PIECE_EVERY`] for as long as the server takes them, and reads
/// until the server closes the connection (failing after the kit's wait): what the server answered, and when.
async fn trickle_until_closed(
    app: &TestApp,
    head: &str,
    piece: &'static [u8],
) -> (String, Duration) {
    let socket = raw(app, head).await;
    let started = Instant::now();
    let (mut reader, mut writer) = socket.into_split();
    let trickle = tokio::spawn(async move {
        loop {
            tokio::time::sleep(PIECE_EVERY).await;
            if writer.write_all(piece).await.is_err() {
                return;
            }
        }
    });
    let read = closed_by_server(&mut reader).await;
    trickle.abort();
    (
        String::from_utf8_lossy(&read).into_owned(),
        started.elapsed(),
    )
}

/// The answer to a body cut at its deadline: 408 with a JSON error, if the client got to read it before the
/// close (a client still sending may see the connection reset instead).
fn assert_timed_out(answer: &str) {
    if answer.is_empty() {
        return;
    }
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(answer.contains("\"error\""), "a JSON error: {answer:?}");
}

/// A write with the token whose body, framed by `framing`, comes one `piece` at a time and never ends: cut at the
/// body deadline.
async fn a_trickled_body_is_cut_at_the_body_deadline(framing: &str, piece: &'static [u8]) {
    // Arrange
    let app = app_with_body_deadline().await;
    let head = format!(
        "POST /message HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    );

    // Act
    let (answer, after) = trickle_until_closed(&app, &head, piece).await;

    // Assert
    assert_timed_out(&answer);
    assert!(after >= Duration::from_millis(1500), "cut after {after:?}");
    assert!(app.state.metrics.serve.timed_out() >= 1);
}

#[tokio::test]
async fn a_chunked_body_sent_a_byte_at_a_time_is_cut_at_the_body_deadline() {
    a_trickled_body_is_cut_at_the_body_deadline("Transfer-Encoding: chunked", b"1\r\n \r\n").await;
}

#[tokio::test]
async fn a_body_with_a_length_that_keeps_trickling_is_cut_at_the_body_deadline() {
    // Each byte comes well within the idle timeout, so waiting per piece would never end it.
    a_trickled_body_is_cut_at_the_body_deadline("Content-Length: 4000", b" ").await;
}

#[tokio::test]
async fn a_body_that_arrives_in_time_is_served_whatever_its_framing() {
    // Arrange
    let app = app_with_body_deadline().await;
    let body = r#"{"message":"in time"}"#;
    let chunked = format!(
        "POST /message HTTP/1.1\r\nHost: hearth\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );

    // Act
    let mut socket = raw(&app, &chunked).await;
    let (head, _) = read_response(&mut socket).await;

    // Assert
    assert!(head.starts_with("HTTP/1.1 201 "), "{head}");
}

/// A request head of about `bytes` bytes: a request line and 1 KiB headers, without the blank line that ends it
/// unless `complete`.
fn big_head(bytes: usize, complete: bool) -> String {
    let mut head = "GET /healthz HTTP/1.1\r\nHost: hearth\r\n".to_owned();
    let mut i = 0;
    while head.len() < bytes {
        head.push_str(&format!("X-Filler-{i}: {}\r\n", "y".repeat(1000)));
        i += 1;
    }
    if complete {
        head.push_str("\r\n");
    }
    head
}

#[tokio::test]
async fn a_request_head_past_the_size_cap_is_answered_431_at_once() {
    // Arrange: the default cap (16 KiB); a 12 KiB head (cookies, say) is still served.
    let app = spawn_app(|_| {}).await;
    let mut within = raw(&app, &big_head(12 * 1024, true)).await;
    let (head, _) = read_response(&mut within).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");

    // Act: 40 KiB of headers that never end; the connection stays open, waiting for the answer.
    let mut socket = raw(&app, &big_head(40 * 1024, false)).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, socket.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no answer to an oversized head within {WAIT:?}"))
            .unwrap_or(0);
        assert!(
            n > 0,
            "closed unanswered after {:?}: {:?}",
            started.elapsed(),
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }

    // Assert
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
}
