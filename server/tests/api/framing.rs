//! What every SSE route shares on the wire: the response headers, one `retry:` at the very start, and
//! keep-alives on an idle stream.

use crate::helpers::{seq, spawn_default, SseStream, TestApp, RETRY_MS, SSE_ROUTES};
use std::time::Duration;

/// Opens `path` as a browser would, offering compression so that a compressing layer would show.
async fn open_offering_compression(app: &TestApp, path: &str) -> SseStream {
    let response = app
        .client
        .get(app.url(path))
        .header("accept", "text/event-stream")
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    // `SseStream::new` checks content-type, cache-control, x-accel-buffering and the absence of
    // content-encoding.
    SseStream::new(path, response)
}

/// Checks the stream began with exactly one `retry:` field carrying the configured delay.
fn assert_one_retry_at_start(path: &str, stream: &SseStream) {
    assert_eq!(
        stream.parser().retry(),
        Some(RETRY_MS),
        "{path}: retry comes from --retry-ms"
    );
    let expected = format!("retry: {RETRY_MS}\n\n");
    assert!(
        stream.prefix().starts_with(expected.as_bytes()),
        "{path}: the stream starts with the retry field; began with {:?}",
        String::from_utf8_lossy(&stream.prefix()[..stream.prefix().len().min(80)])
    );
    let text = String::from_utf8_lossy(stream.prefix());
    let count = text.lines().filter(|l| l.starts_with("retry:")).count();
    assert_eq!(
        count, 1,
        "{path}: retry is sent once, not with every event or keep-alive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sse_route_sends_headers_retry_and_keep_alives() {
    // Arrange
    let app = spawn_default().await;

    // Act: open every route at once, then let them idle past the 1 s keep-alive.
    let mut streams = Vec::new();
    for path in SSE_ROUTES {
        streams.push((path, open_offering_compression(&app, path).await));
    }
    for (path, stream) in &mut streams {
        stream
            .read_until("a keep-alive comment", Duration::from_secs(5), |s| {
                s.parser().comments() > 0
            })
            .await;
        // Assert
        assert_one_retry_at_start(path, stream);
    }
}

#[tokio::test]
async fn the_job_stream_has_the_same_headers_and_retry() {
    // Arrange
    let app = spawn_default().await;
    let started: serde_json::Value = app.post_json("/api/jobs", "").await.json().await.unwrap();
    let path = format!("/api/jobs/{}/events", started["id"].as_str().unwrap());

    // Act
    let mut stream = open_offering_compression(&app, &path).await;
    stream.next_event().await;

    // Assert
    assert_one_retry_at_start(&path, &stream);
}

#[tokio::test]
async fn the_dashboard_heartbeat_is_visible_and_keeps_the_resume_point() {
    // Arrange
    let app = spawn_default().await;
    let mut stream = app.sse("/events?topics=entities").await;
    let snapshot = stream.next_event().await;
    assert_eq!(snapshot.event, "snapshot");

    // Act: nothing is published on the entities topic; wait for the 1 s heartbeat.
    let ping = stream.next_event_with_pings(Duration::from_secs(5)).await;

    // Assert: `EventSource` cannot see comments, so the dashboard stream also sends a `ping` event; it has
    // no id of its own, so the client's Last-Event-ID stays the snapshot's.
    assert_eq!(ping.event, "ping");
    assert_eq!(
        seq(&ping),
        seq(&snapshot),
        "a heartbeat must not move the resume point"
    );
    assert!(
        stream.parser().comments() > 0,
        "the comment form is sent too, for proxies"
    );
}
