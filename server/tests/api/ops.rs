//! Operations: `/healthz`, `/metrics`, and the dashboard page itself.

use crate::helpers::{eventually, metric_value, spawn_default};

const METRICS: [&str; 6] = [
    "hearth_subscribers",
    "hearth_events_published_total",
    "hearth_events_delivered_total",
    "hearth_slow_consumers_dropped_total",
    "hearth_replay_hits_total",
    "hearth_replay_resets_total",
];

#[tokio::test]
async fn healthz_answers_ok() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.get("/healthz").await;

    // Assert
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn metrics_is_prometheus_text_with_every_counter() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.get("/metrics").await;

    // Assert
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    for name in METRICS {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has a TYPE line:\n{text}"
        );
        assert!(
            metric_value(&text, name).is_some(),
            "{name} has a sample:\n{text}"
        );
    }
}

/// `/metrics` as a scraper sees it: its content type, and every line in order with the sample values masked
/// (they depend on what the app did before the scrape; the unit tests pin them for a known state).
#[tokio::test]
async fn the_metrics_text_is_pinned_line_by_line() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.get("/metrics").await;

    // Assert
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let masked: Vec<String> = text
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((name, value)) if !line.starts_with('#') => {
                assert!(value.parse::<u64>().is_ok(), "a whole number: {line}");
                format!("{name} N")
            }
            _ => line.to_owned(),
        })
        .collect();
    assert_eq!(masked.join("\n") + "\n", PINNED, "got:\n{text}");
}

const PINNED: &str = "\
# HELP hearth_subscribers Open SSE streams.
# TYPE hearth_subscribers gauge
hearth_subscribers N
# HELP hearth_viewers Open dashboard streams.
# TYPE hearth_viewers gauge
hearth_viewers N
# HELP hearth_events_published_total Events published to the hub.
# TYPE hearth_events_published_total counter
hearth_events_published_total N
# HELP hearth_events_delivered_total Events written to subscriber streams.
# TYPE hearth_events_delivered_total counter
hearth_events_delivered_total N
# HELP hearth_slow_consumers_dropped_total Streams ended because the subscriber fell a whole queue behind.
# TYPE hearth_slow_consumers_dropped_total counter
hearth_slow_consumers_dropped_total N
# HELP hearth_replay_hits_total Resumes served from the replay buffer.
# TYPE hearth_replay_hits_total counter
hearth_replay_hits_total N
# HELP hearth_replay_resets_total Resumes answered with a reset.
# TYPE hearth_replay_resets_total counter
hearth_replay_resets_total N
# HELP hearth_subscribers_refused_total Subscriptions refused at the limit.
# TYPE hearth_subscribers_refused_total counter
hearth_subscribers_refused_total N
# HELP hearth_connections Open client connections.
# TYPE hearth_connections gauge
hearth_connections N
# HELP hearth_streams_direct Open SSE streams held outside hyper by the direct writer.
# TYPE hearth_streams_direct gauge
hearth_streams_direct N
# HELP hearth_connections_refused_total Connections refused at the connection limit (not logged in, or the reserve full).
# TYPE hearth_connections_refused_total counter
hearth_connections_refused_total N
# HELP hearth_connections_refused_per_client_total Connections refused because their client address held its share.
# TYPE hearth_connections_refused_per_client_total counter
hearth_connections_refused_per_client_total N
# HELP hearth_connections_let_in_over_limit_total Connections over a limit let in because their request carried a credential.
# TYPE hearth_connections_let_in_over_limit_total counter
hearth_connections_let_in_over_limit_total N
# HELP hearth_connections_timed_out_total Connections closed waiting for a request head (idle keep-alive, slow or no head).
# TYPE hearth_connections_timed_out_total counter
hearth_connections_timed_out_total N
# HELP hearth_connections_stalled_total Connections cut because the client stopped reading.
# TYPE hearth_connections_stalled_total counter
hearth_connections_stalled_total N
# HELP hearth_accept_errors_total Failed accepts (most likely out of file descriptors).
# TYPE hearth_accept_errors_total counter
hearth_accept_errors_total N
";

#[tokio::test]
async fn metrics_follow_what_happens() {
    // Arrange
    let app = spawn_default().await;
    let published = app.metric("hearth_events_published_total").await;
    let delivered = app.metric("hearth_events_delivered_total").await;

    // Act
    let mut first = app.sse("/eventstream").await;
    let mut second = app.sse("/eventstream").await;
    app.post_message("counted").await;
    first.next_event().await;
    second.next_event().await;

    // Assert
    assert_eq!(
        app.metric("hearth_subscribers").await,
        2,
        "two open streams"
    );
    assert!(app.metric("hearth_events_published_total").await > published);
    assert!(
        app.metric("hearth_events_delivered_total").await >= delivered + 2,
        "one delivery per stream"
    );
    drop((first, second));
    eventually(
        "the subscriber gauge to drop to 0 after both streams closed",
        || async { app.metric("hearth_subscribers").await == 0 },
    )
    .await;
}

#[tokio::test]
async fn the_dashboard_page_is_server_rendered_with_its_test_ids() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.get("/").await;

    // Assert
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    for id in [
        "connection-state",
        "viewer-count",
        "room-kitchen",
        "device-kitchen-lights",
    ] {
        assert!(
            html.contains(&format!("data-testid=\"{id}\"")),
            "the first paint has {id}"
        );
    }
}
