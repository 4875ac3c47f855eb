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
