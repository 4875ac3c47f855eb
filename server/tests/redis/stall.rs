//! A broker that stalls or dies while a write is in flight: the write's answer says what became of it. A 2xx
//! carries the id the write was stored under; an error means it is nowhere, so a client that retries an error
//! never makes a duplicate.

use crate::harness::{plain, Redis, TestApp};
use std::time::Duration;

/// The ids of the log's messages whose text is `text`.
fn messages_with_text(redis: &Redis, text: &str) -> Vec<u64> {
    redis
        .entries()
        .into_iter()
        .filter(|(_, name, data)| name == "message" && data.contains(&format!("\"{text}\"")))
        .map(|(id, _, _)| id)
        .collect()
}

/// Makes the broker sleep for `secs` (it answers nothing meanwhile), on a connection of its own.
fn stall(redis: &Redis, secs: u64) -> tokio::task::JoinHandle<()> {
    let mut conn = redis.conn();
    tokio::task::spawn_blocking(move || {
        // The reply is lost when a test kills the broker mid-sleep.
        let _ = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(secs)
            .query::<redis::Value>(&mut conn);
    })
}

/// A broker on which `DEBUG SLEEP` is allowed, an instance on it, and one write through already (so the
/// instance's scripts are loaded and its connections are up); the sensors' first readings are done, so the
/// test's write is the only one in flight when the broker stalls (one queued behind another batch would be
/// refused unsent when that batch's connection is given up: a different case).
async fn stallable() -> (Redis, TestApp) {
    let redis = Redis::start_with(&["--enable-debug-command", "yes"]).await;
    let a = plain(&redis).await;
    a.post_message("warm-up").await;
    redis.settled().await;
    (redis, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_broker_took_late_is_answered_with_its_id_not_refused() {
    // Arrange: the broker stops answering for 3 s, longer than a command may take (2 s).
    let (redis, a) = stallable().await;
    let sleeping = stall(&redis, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act: a write while it sleeps; the broker takes it when it wakes.
    let (status, body) = a.try_post_message("late").await;
    sleeping.await.unwrap();

    // Assert: answered with the id it was stored under, and stored once.
    assert_eq!(
        status, 201,
        "a write that was applied is not refused: {body}"
    );
    assert_eq!(
        messages_with_text(&redis, "late"),
        vec![body["seq"].as_u64().unwrap()],
        "stored once, under the id it was answered with"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_broker_died_before_taking_is_refused_and_is_nowhere() {
    // Arrange: the broker stops answering, with plenty of time to kill it meanwhile.
    let (mut redis, a) = stallable().await;
    let sleeping = stall(&redis, 10);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act: a write goes out while it sleeps; the broker is killed before it reads it, then comes back.
    let client = a.client.clone();
    let url = a.url("/message");
    let write = tokio::spawn(async move {
        crate::harness::post(
            &client,
            &url,
            &serde_json::json!({ "message": "never taken" }),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    redis.kill();
    let _ = sleeping.await;
    redis.restart().await;
    let (status, body) = write.await.unwrap();

    // Assert: refused, and nowhere.
    assert_eq!(status, 503, "{body}");
    assert!(
        messages_with_text(&redis, "never taken").is_empty(),
        "a refused write is not in the log"
    );
}
