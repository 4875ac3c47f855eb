//! Graceful shutdown: every open stream and background task ends when the shutdown token is
//! cancelled, `run` returns within the configured deadline even if a connection lingers, and new connections
//! are refused afterwards.

use crate::helpers::{spawn_app, TestApp, SSE_ROUTES, WAIT};
use crate::slow_consumer::{big_text, stuck_client};
use std::time::{Duration, Instant};

/// Waits for `run` to return, failing after `within`; returns how long it took.
async fn run_returns(app: &mut TestApp, within: Duration) -> Duration {
    let started = Instant::now();
    let result = tokio::time::timeout(within, &mut app.server)
        .await
        .unwrap_or_else(|_| panic!("run did not return within {within:?} of shutdown"))
        .expect("the server task did not panic");
    result.expect("run ends without error");
    started.elapsed()
}

async fn assert_refused(app: &TestApp) {
    let connect = tokio::net::TcpStream::connect(app.addr).await;
    assert!(
        connect.is_err(),
        "a new connection after shutdown must be refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_stream_and_task_then_refuses_connections() {
    // Arrange: 50 open streams of every kind plus a running job, with busy sensors. Keep-alives are rare, so
    // that nothing but the shutdown token can end an idle stream in time.
    let mut app = spawn_app(|f| {
        f.set("--shutdown-secs", 5)
            .set("--keepalive-secs", 60)
            .set("--random-ms", 20)
            .set("--temperature-ms", 20);
    })
    .await;
    let mut streams = Vec::new();
    for i in 0..48 {
        streams.push(app.sse(SSE_ROUTES[i % SSE_ROUTES.len()]).await);
    }
    let job: serde_json::Value = app.post_json("/api/jobs", "").await.json().await.unwrap();
    for path in [
        format!("/api/jobs/{}/events", job["id"].as_str().unwrap()),
        "/events".to_owned(),
    ] {
        let mut stream = app.sse(&path).await;
        stream.next_event().await;
        streams.push(stream);
    }
    assert_eq!(app.state.metrics.subscribers.get(), 50);

    // Act
    let cancelled = Instant::now();
    app.state.shutdown.cancel();

    // Assert: every stream ends cleanly and promptly, `run` returns well within the deadline, and the port
    // is closed.
    for stream in &mut streams {
        stream.until_end(Duration::from_secs(3)).await;
        assert_eq!(
            stream.ended(),
            Some(&Ok(())),
            "a stream ends cleanly on shutdown"
        );
    }
    let deadline = app.state.config.shutdown_deadline();
    run_returns(&mut app, deadline).await;
    assert!(
        cancelled.elapsed() < deadline,
        "nothing lingered, so run did not need the deadline"
    );
    assert_refused(&app).await;

    // The sensors stopped with everything else: the hub no longer moves.
    let seq = app.state.hub.snapshot().seq;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.state.hub.snapshot().seq,
        seq,
        "background producers end on shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_lingers_cannot_hold_shutdown_past_the_deadline() {
    // Arrange: a client that never reads, with its buffers full; the stall cut-off (one keep-alive period)
    // is set far beyond the shutdown deadline, so only the deadline can end the wait.
    let mut app = spawn_app(|f| {
        f.set("--shutdown-secs", 1)
            .set("--keepalive-secs", 60)
            .set("--queue-size", 4096);
    })
    .await;
    let _stuck = stuck_client(&app, "/eventstream").await;
    // Publish in batches until the stuck stream stops taking events: its buffers are full. The queue is
    // large enough that it cannot lag (a lagging stream would end, and the connection with it).
    let delivered = || app.state.metrics.events_delivered.get();
    let mut sent = 0;
    loop {
        assert!(
            sent < 3000,
            "the stuck client still took everything after {sent} messages"
        );
        for k in sent..sent + 200 {
            app.publish_message(&big_text(k)).await;
        }
        sent += 200;
        let before = delivered();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if delivered() == before && before < sent {
            break;
        }
    }
    // Act
    app.state.shutdown.cancel();

    // Assert: run waited for the lingering connection, but no longer than the deadline.
    let took = run_returns(&mut app, Duration::from_secs(1) + WAIT).await;
    assert!(
        took >= Duration::from_millis(900),
        "run waited for the open connection: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "run returned at the deadline: {took:?}"
    );
    assert_refused(&app).await;
}
