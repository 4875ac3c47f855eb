//! What storage promises under pressure: what a client was told (2xx or error) is what the store and every
//! subscriber hold, also after a failure; the log stays within its bounds; the disk is never filled; only what
//! matters is written.

use crate::helpers::{counted, eventually, json, seq, spawn_app, TestApp};
use app::contract::{Device, DeviceState, Room, RoomState, Snapshot};
use std::time::{Duration, Instant};

async fn set(app: &TestApp, device: &str, state: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/rooms/kitchen/{device}"),
        &format!(r#"{{"state":"{state}"}}"#),
    )
    .await
}

/// The reproduction of the review: SQLite's write lock held by another process long enough for a batch to
/// fail, with changes queued behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_never_undoes_an_acknowledged_change_nor_applies_a_refused_one() {
    // Arrange: a subscriber, and the database locked by someone else.
    let app = spawn_app(|_| {}).await;
    let mut smart_home = app.sse("/smart-home").await;
    for _ in 0..3 {
        smart_home.next_event().await; // the rooms' current states
    }
    let blocker = rusqlite::Connection::open(app.data_dir().join("hearth.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    // Act: U0 waits on the lock and fails; U1 is accepted behind it; the lock goes; U2 comes after.
    let u0 = tokio::spawn({
        let app_client = app.client.clone();
        let url = app.url("/api/rooms/kitchen/lights");
        async move {
            app_client
                .post(url)
                .bearer_auth(crate::helpers::TOKEN)
                .header("content-type", "application/json")
                .body(r#"{"state":"on"}"#)
                .send()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let u1 = set(&app, "blinds", "open").await;
    let u0 = u0.await.unwrap();
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let u2 = set(&app, "lights", "off").await;

    // Assert: U0 was refused with a clear, retryable error, and nothing of it shows anywhere.
    assert_eq!(u0.status(), 503, "U0 is refused while the store is locked");
    assert!(u0.headers().contains_key("retry-after"));
    let acked: Vec<(reqwest::StatusCode, serde_json::Value)> = vec![
        (u1.status(), u1.json().await.unwrap()),
        (u2.status(), u2.json().await.unwrap()),
    ];
    assert_eq!(
        acked[1].0, 200,
        "a change after the lock is released is taken"
    );
    // Whatever was acknowledged holds, in order; whatever was refused is nowhere.
    let mut expected = RoomState::initial(Room::Kitchen, String::new()).devices;
    for (status, body) in &acked {
        if *status == 200 {
            let state: RoomState = serde_json::from_value(body["state"].clone()).unwrap();
            assert_ne!(
                state.devices[&Device::Lights],
                DeviceState::On,
                "an acknowledged change carries no refused one: {body}"
            );
            expected = state.devices;
        } else {
            assert_eq!(*status, 503, "{body}");
        }
    }
    let snapshot: Snapshot = app.get("/api/snapshot").await.json().await.unwrap();
    assert_eq!(
        snapshot.room_state(Room::Kitchen).unwrap().devices,
        expected,
        "the dashboard's state"
    );
    let stored = app.store().restore(10).unwrap().snapshot.unwrap();
    assert_eq!(
        stored.room_state(Room::Kitchen).unwrap().devices,
        expected,
        "the store's state"
    );
    let last = smart_home
        .wait_for("the last kitchen change", |e| {
            e.event == "kitchen" && seq(e) == acked[1].1["seq"].as_u64().unwrap()
        })
        .await;
    let seen: RoomState = serde_json::from_str(&last.data).unwrap();
    assert_eq!(seen.devices, expected, "what subscribers saw last");
}

#[tokio::test]
async fn a_nearly_full_disk_refuses_writes_with_507_and_applies_nothing() {
    // Arrange: a free-space floor larger than any disk here.
    let app = spawn_app(|f| {
        f.set("--min-free-mb", 1u64 << 40);
    })
    .await;
    eventually("the writer to look at the disk", || async {
        app.get("/healthz").await.status() == 503
    })
    .await;

    // Act
    let response = app.post_json("/message", r#"{"message":"no room"}"#).await;

    // Assert
    assert_eq!(response.status(), 507);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("disk"), "{body}");
    assert!(app.state.hub.snapshot().messages.is_empty());
    assert!(app.store().messages().unwrap().is_empty());
    let health: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_trimmed_to_its_retention_however_fast_events_come() {
    // Arrange: keep 10 events.
    let app = spawn_app(|f| {
        f.set("--retain-events", 10).set("--replay-size", 10);
    })
    .await;

    // Act: far more than a trim step's worth, as fast as the journal takes them.
    let started = Instant::now();
    let pending: Vec<_> = (0..12_000)
        .map(|k| app.publish_message_now(&format!("flood {k}")))
        .collect();
    for publish in pending {
        publish.await.expect("committed");
    }

    // Assert: within seconds, not one bounded step per half minute. (Readings keep a window of their own, apart
    // from the count: the one the sensor took at start is still there.)
    eventually("the log to be back within its retention", || async {
        app.store().messages().unwrap().len() <= 10
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(app.store().event_count().unwrap() <= 11);
}

#[tokio::test]
async fn an_old_resume_on_the_dashboard_gets_a_reset_not_megabytes_of_replay() {
    // Arrange: 2,000 messages after the client's id; the dashboard's state is smaller than that history.
    let app = spawn_app(|_| {}).await;
    let first = app.publish_message("the client saw this one").await;
    for k in 0..2_000 {
        app.publish_message(&format!("{k} {}", "x".repeat(100)))
            .await;
    }

    // Act
    let mut dashboard = app
        .sse_from(
            "/events?topics=message",
            Some(&first.id.unwrap().to_string()),
        )
        .await;
    let mut feed = app
        .sse_from("/eventstream", Some(&first.id.unwrap().to_string()))
        .await;

    // Assert: the dashboard gets the state instead of the history; a feed still gets every message.
    let event = dashboard.next_event().await;
    assert_eq!(event.event, "reset", "{event:?}");
    let snapshot: Snapshot = serde_json::from_str(&event.data).unwrap();
    assert_eq!(snapshot.messages.len(), app::contract::MAX_MESSAGES);
    for k in 0..2_000 {
        assert_eq!(counted(&feed.next_event().await, ""), k);
    }
}

#[tokio::test]
async fn viewers_coming_and_going_and_random_numbers_write_nothing_to_disk() {
    // Arrange: random numbers every 20 ms.
    let app = spawn_app(|f| {
        f.set("--random-ms", 20);
    })
    .await;
    let before = app.store().event_count().unwrap();
    let mut watcher = app.sse("/live-users").await;
    watcher
        .wait_for("the watcher to count itself", |e| e.data == "1")
        .await;

    // Act: viewers open and close, again and again, while the numbers flow.
    for _ in 0..10 {
        let viewer = app.sse("/events").await;
        assert_eq!(
            watcher
                .wait_for("the count to rise", |e| e.data == "2")
                .await
                .data,
            "2"
        );
        drop(viewer);
        watcher
            .wait_for("the count to fall", |e| e.data == "1")
            .await;
    }

    // Assert: the counts and numbers were delivered live, with no id, and none of it was journaled.
    let mut numbers = app.sse("/stream-random-numbers").await;
    let number = numbers.next_event().await;
    assert!(number.id.is_empty(), "live only: no id to resume from");
    assert!(json(&number)["value"].as_f64().is_some());
    assert_eq!(
        app.store().event_count().unwrap(),
        before,
        "nothing journaled"
    );
}

#[tokio::test]
async fn a_message_id_is_above_every_stored_one_even_when_the_clock_is_behind() {
    // Arrange: a store whose last message has an id far ahead of the clock (it ran while the clock was ahead,
    // or the clock has since stepped back).
    let dir = std::env::temp_dir().join(format!("hearth-ahead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    server::startup::prepare_data_dir(&dir).unwrap();
    let ahead = server::clock::clock_seed() + 10_000_000_000; // ~3 hours ahead
    {
        let mut store = server::store::Store::open(&dir).unwrap();
        let old = crate::helpers::message("acknowledged long ago");
        let mut state = Snapshot::default();
        state.apply(Some(ahead), &old);
        let event = std::sync::Arc::new(server::event::Event::durable(ahead, old));
        store.append(&[event], &state).unwrap();
    }
    let app = spawn_app(|f| {
        f.set("--data-dir", dir.display());
    })
    .await;

    // Act
    let posted: serde_json::Value = app.post_message("new").await;

    // Assert: above the stored one, and nothing overwritten.
    assert!(posted["id"].as_u64().unwrap() > ahead, "{posted}");
    let texts: Vec<String> = app
        .store()
        .messages()
        .unwrap()
        .into_iter()
        .map(|m| m.message)
        .collect();
    assert_eq!(texts, ["acknowledged long ago", "new"]);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
