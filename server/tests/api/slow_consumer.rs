//! A subscriber that cannot keep up — here one that never reads at all — must not hold anyone else back: its
//! stream is dropped (it would resume by id), and the others receive everything promptly.

use crate::helpers::{counted, eventually, json, spawn_app, TestApp, WAIT};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Opens `path` over a raw socket and never reads the response: its buffers fill and stay full.
pub async fn stuck_client(app: &TestApp, path: &str) -> TcpStream {
    let opened = app.state.metrics.subscribers.get();
    // A small receive buffer, so that the server's side fills up after a few hundred kilobytes whatever the
    // machine's TCP defaults.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut socket = socket.connect(app.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        app.addr
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    eventually("the server to open the stuck client's stream", || async {
        app.state.metrics.subscribers.get() > opened
    })
    .await;
    socket
}

/// A message big enough that a few hundred overflow every socket buffer between the server and a client.
pub fn big_text(k: u64) -> String {
    format!("{k:08} {}", "x".repeat(8 * 1024))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped_and_holds_nobody_back() {
    // Arrange
    const AT_LEAST: u64 = 600;
    const AT_MOST: u64 = 6000;
    let app = spawn_app(|f| {
        f.set("--queue-size", 8).set("--replay-size", 16);
    })
    .await;
    let _stuck = stuck_client(&app, "/eventstream").await;
    let mut fast = app.sse("/eventstream").await;

    // Act: 8 KB messages, each awaited by the fast client before the next is sent, so that only the stuck
    // one falls behind — at least ~5 MB, and on until the server has given up on the stuck client (how much
    // the socket buffers hold depends on the machine's TCP settings).
    let started = Instant::now();
    let mut sent = 0;
    while sent < AT_LEAST || app.state.metrics.clients_given_up() == 0 {
        assert!(
            sent < AT_MOST,
            "the stuck client was still not dropped after {sent} messages"
        );
        let published = app.publish_message(&big_text(sent)).await;
        let event = fast.next_event_within(Duration::from_secs(5)).await;
        assert_eq!(
            json(&event)["id"],
            published.id.unwrap(),
            "the fast client gets every message, in order"
        );
        sent += 1;
    }
    let took = started.elapsed();

    // Assert: the fast client was never held up (each of its events came within 5 s, above; a stuck client
    // holding it back would have stopped it outright), and the stuck one was cut off, freeing its place. The
    // total is bounded only loosely: each 8 KB message is journaled, which a busy machine does slowly.
    assert!(
        took < Duration::from_secs(120),
        "the fast client was held back: {took:?} for {sent} messages"
    );
    // Given up on once, by whichever came first, or both: its stream fell a queue behind, and its connection
    // stopped taking bytes. Only the stuck client was.
    let given_up = app.metric("hearth_slow_consumers_dropped_total").await
        + app.metric("hearth_connections_stalled_total").await;
    assert!((1..=2).contains(&given_up), "{given_up}");
    eventually("the stuck client's subscriber slot to be freed", || async {
        app.metric("hearth_subscribers").await == 1
    })
    .await;
}

// The burst below is queued without yielding (each publish takes its id at once), so the journal commits and
// delivers it in a batch or two, far faster than the subscriber's stream can read along: it falls more than a
// queue behind.
#[tokio::test]
async fn a_subscriber_that_falls_a_queue_behind_is_ended_and_resumes_without_loss() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--queue-size", 8);
    })
    .await;
    let mut stream = app.sse("/eventstream").await;
    app.publish_message("burst 0, before the burst").await;
    assert_eq!(counted(&stream.next_event().await, "burst "), 0);

    // Act: far more than a queue's worth at once.
    let pending: Vec<_> = (1..=100)
        .map(|k| app.publish_message_now(&format!("burst {k}")))
        .collect();
    for publish in pending {
        publish.await.expect("the burst is committed");
    }
    let before_the_end = stream.until_end(WAIT).await;
    let last_id = stream.parser().last_event_id().to_owned();
    let mut resumed = app.sse_from("/eventstream", Some(&last_id)).await;
    let rest = resumed
        .collect_until("the last message", |e| counted(e, "burst ") == 100)
        .await;

    // Assert: the stream ended (instead of stalling or skipping), and resuming by id lost nothing.
    assert_eq!(
        stream.ended(),
        Some(&Ok(())),
        "a lagging stream ends cleanly"
    );
    assert_eq!(app.metric("hearth_slow_consumers_dropped_total").await, 1);
    let ids: Vec<u64> = std::iter::once(0)
        .chain(
            before_the_end
                .iter()
                .chain(&rest)
                .map(|e| counted(e, "burst ")),
        )
        .collect();
    assert_eq!(
        ids,
        (0..=100).collect::<Vec<_>>(),
        "every message exactly once across the reconnect"
    );
}
