//! Long-running jobs: `POST /api/jobs` answers 202 with an id; `/api/jobs/{id}/events` streams `progress`
//! then `done` and ends; once finished it answers 204, so an `EventSource` stops reconnecting.

use crate::helpers::{json, spawn_default, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_streams_progress_then_done_then_ends_and_answers_204_afterwards() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.post_json("/api/jobs", "").await;
    assert_eq!(response.status(), 202, "a job is accepted, not finished");
    let started: serde_json::Value = response.json().await.unwrap();
    let id = started["id"]
        .as_str()
        .expect("the answer carries the job id")
        .to_owned();
    let path = format!("/api/jobs/{id}/events");
    let mut stream = app.sse(&path).await;
    // A job takes about 4 s; its stream must end on its own shortly after.
    let events = stream.until_end(WAIT + WAIT).await;

    // Assert: progress rises, the last event is `done` at 100, then a clean end.
    assert!(!events.is_empty(), "the job stream sent something");
    let (done, progress) = events.split_last().unwrap();
    assert!(progress.len() >= 2, "several progress steps: {events:?}");
    let mut previous = None;
    for event in progress {
        assert_eq!(event.event, "progress", "{event:?}");
        let data = json(event);
        assert_eq!(data["id"], id.as_str());
        assert_eq!(data["done"], false);
        let value = data["progress"].as_u64().expect("progress is a number");
        assert!(value < 100, "progress below 100 until done: {value}");
        if let Some(before) = previous {
            assert!(value > before, "progress rises: {before} then {value}");
        }
        previous = Some(value);
    }
    assert_eq!(done.event, "done", "the last event is done: {events:?}");
    assert_eq!(json(done)["progress"], 100);
    assert_eq!(json(done)["done"], true);
    assert_eq!(
        stream.ended(),
        Some(&Ok(())),
        "the stream ends cleanly after done"
    );

    let again = app.get(&path).await;
    assert_eq!(
        again.status(),
        204,
        "a finished job answers 204 so clients stop reconnecting"
    );
}

#[tokio::test]
async fn an_unknown_job_is_404() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.get("/api/jobs/does-not-exist/events").await;

    // Assert
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("does-not-exist"),
        "{body}"
    );
}
