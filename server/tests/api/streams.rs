//! Every SSE route of the HTTP surface (the README's table): what each one sends, under which event names, in which shape.

use crate::helpers::{json, seq, spawn_app, spawn_default};
use app::contract::{Payload, RandomNumber, Room, Snapshot};

fn is_rfc3339(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn events_starts_with_a_snapshot_carrying_its_id() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let mut stream = app.sse("/events").await;
    let first = stream.next_event().await;

    // Assert
    assert_eq!(
        first.event, "snapshot",
        "a fresh /events stream starts with the whole state"
    );
    let snapshot: Snapshot =
        serde_json::from_str(&first.data).expect("snapshot data is a Snapshot");
    assert_eq!(
        seq(&first),
        snapshot.seq,
        "the snapshot's id is the seq it is current to, to resume from"
    );
    assert_eq!(
        snapshot.areas().len(),
        3,
        "every demo room is in the snapshot, as an area"
    );
    assert_eq!(snapshot.entities.len(), 6, "with each of its devices");
}

#[tokio::test]
async fn events_default_topics_are_the_dashboard_ones() {
    // Arrange
    let app = spawn_default().await;
    let mut stream = app.sse("/events").await;
    assert_eq!(stream.next_event().await.event, "snapshot");

    // Act: a random number (not a dashboard topic) and then a message (one).
    app.publish(Payload::Random(RandomNumber { value: 0.5 }))
        .await;
    let message = app.publish_message("dashboard topic").await;

    // Assert: the message arrives, and nothing of the random topic came before it.
    let events = stream
        .collect_until("the message", |e| e.event == "message")
        .await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(
        !names.contains(&"random"),
        "random numbers are not on the dashboard stream: {names:?}"
    );
    assert_eq!(events.last().map(seq), Some(message.id.unwrap()));
}

#[tokio::test]
async fn events_topics_parameter_restricts_the_stream() {
    // Arrange
    let app = spawn_default().await;
    let mut stream = app.sse("/events?topics=entities,viewers").await;
    assert_eq!(stream.next_event().await.event, "snapshot");

    // Act: one event of a topic not asked for, then one of a topic asked for.
    app.publish_message("not asked for").await;
    let lights = Room::Kitchen.entity(
        app::contract::Device::Lights,
        app::contract::DeviceState::On,
        "2026-01-01T00:00:00Z".into(),
    );
    let published = app.publish(Payload::Entity(lights)).await;

    // Assert: only entities and viewers events; the entity came without the message before it.
    let got = stream
        .wait_for("the kitchen lights", |e| e.event != "viewers")
        .await;
    assert_eq!(
        got.event, "entity",
        "a topic not asked for was sent: {got:?}"
    );
    assert_eq!(seq(&got), published.id.unwrap());
    assert_eq!(json(&got)["id"], "kitchen-lights");
    assert_eq!(json(&got)["state"], "on");
}

#[tokio::test]
async fn events_with_an_unknown_topic_is_a_400_naming_it() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let response = app.get("/events?topics=entities,garage").await;

    // Assert
    assert_eq!(response.status(), 400);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = response.json().await.unwrap();
    let error = body["error"].as_str().expect("an error message");
    assert!(
        error.contains("garage"),
        "the error names the unknown topic: {error}"
    );
    assert_eq!(body["detail"]["field"], "topics");
}

#[tokio::test]
async fn live_users_counts_connected_viewers_up_and_down() {
    // Arrange: one viewer, who sees the count reach 1.
    let app = spawn_default().await;
    let mut watcher = app.sse("/live-users").await;
    let first = watcher.next_event().await;
    assert_eq!(first.event, "message", "/live-users events are unnamed");
    first
        .data
        .parse::<u64>()
        .expect("the data is a bare integer");
    watcher.wait_for("a count of 1", |e| e.data == "1").await;

    // Act + Assert: each new dashboard stream raises the count, each closed one lowers it.
    let second = app.sse("/live-users").await;
    watcher.wait_for("a count of 2", |e| e.data == "2").await;
    let dashboard = app.sse("/events").await;
    watcher.wait_for("a count of 3", |e| e.data == "3").await;
    drop(dashboard);
    watcher
        .wait_for("a count of 2 after /events closed", |e| e.data == "2")
        .await;
    drop(second);
    let back = watcher
        .wait_for("a count of 1 after /live-users closed", |e| e.data == "1")
        .await;
    assert!(!back.id.is_empty(), "counts carry ids like every hub event");
}

#[tokio::test]
async fn live_users_only_counts_dashboard_streams() {
    // Arrange
    let app = spawn_default().await;
    let mut watcher = app.sse("/live-users").await;
    watcher.wait_for("a count of 1", |e| e.data == "1").await;

    // Act: a non-viewer stream opens, then a viewer stream.
    let _feed = app.sse("/eventstream").await;
    let _dashboard = app.sse("/events").await;

    // Assert: the next count is 2, not 3 — /eventstream is not a dashboard viewer.
    let next = watcher.next_event().await;
    assert_eq!(next.data, "2");
}

#[tokio::test]
async fn smart_home_sends_each_room_by_name_and_device_changes() {
    // Arrange
    let app = spawn_default().await;
    let mut stream = app.sse("/smart-home").await;

    // Assert: the current state of each room first, named by room, with the tutorial's keys.
    let mut rooms = Vec::new();
    for _ in 0..3 {
        let event = stream.next_event().await;
        let data = json(&event);
        let expected_cover = if event.event == "kitchen" {
            "blinds"
        } else {
            "curtains"
        };
        let mut keys: Vec<&str> = data
            .as_object()
            .expect("room state is an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec!["lights", expected_cover, "updatedAt"];
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{} has the tutorial's devices", event.event);
        assert_eq!(
            data["lights"], "off",
            "rooms start dark with the simulator off"
        );
        assert!(is_rfc3339(data["updatedAt"].as_str().unwrap()));
        rooms.push(event.event);
    }
    assert_eq!(rooms, ["kitchen", "livingroom", "bedroom"]);

    // Act
    let response = app
        .post_json("/api/rooms/kitchen/lights", r#"{"state":"on"}"#)
        .await;
    assert_eq!(response.status(), 200);
    let answered: serde_json::Value = response.json().await.unwrap();

    // Assert
    let event = stream.next_event().await;
    assert_eq!(event.event, "kitchen");
    let data = json(&event);
    assert_eq!(data["lights"], "on");
    assert_eq!(data["blinds"], "closed", "the other device is untouched");
    assert_eq!(
        data, answered["state"],
        "the POST answers the room state every viewer sees"
    );
    assert_eq!(answered["room"], "kitchen");
    assert_eq!(
        answered["seq"].as_u64(),
        Some(seq(&event)),
        "and the event id it was committed as"
    );
}

#[tokio::test]
async fn temperatures_are_unnamed_readings_with_an_rfc3339_time() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--temperature-ms", 50);
    })
    .await;

    // Act
    let mut stream = app.sse("/temperatures").await;

    // Assert
    for _ in 0..3 {
        let event = stream.next_event().await;
        assert_eq!(
            event.event, "message",
            "the tutorial's client listens to onmessage"
        );
        let data = json(&event);
        assert!(
            data["temperature"].is_f64() || data["temperature"].is_i64(),
            "temperature is a number: {data}"
        );
        let at = data["updatedAt"].as_str().expect("updatedAt is a string");
        assert!(is_rfc3339(at), "updatedAt is RFC 3339: {at}");
    }
}

#[tokio::test]
async fn random_numbers_are_in_the_unit_interval_and_open_to_any_origin() {
    // Arrange
    let app = spawn_app(|f| {
        f.set("--random-ms", 50);
    })
    .await;

    // Act
    let mut stream = app.sse("/stream-random-numbers").await;

    // Assert
    let origin = stream
        .headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(origin.as_deref(), Some("*"));
    for _ in 0..3 {
        let event = stream.next_event().await;
        assert_eq!(event.event, "message");
        let value = json(&event)["value"].as_f64().expect("value is a number");
        assert!((0.0..1.0).contains(&value), "{value} is in [0, 1)");
    }
}

#[tokio::test]
async fn eventstream_broadcasts_posted_messages() {
    // Arrange
    let app = spawn_default().await;
    let mut first = app.sse("/eventstream").await;
    let mut second = app.sse("/eventstream").await;

    // Act
    let stored = app.post_message("  hello\nthere  ").await;

    // Assert: every subscriber gets it as `message` with the tutorial's fields.
    for stream in [&mut first, &mut second] {
        let event = stream.next_event().await;
        assert_eq!(event.event, "message");
        let data = json(&event);
        assert_eq!(
            data["title"].as_str().map(str::is_empty),
            Some(false),
            "a title: {data}"
        );
        assert_eq!(
            data["message"], "hello\nthere",
            "trimmed, line break kept across data: lines"
        );
        assert!(is_rfc3339(data["timestamp"].as_str().unwrap()));
        let mut answered = stored.clone();
        let committed_as = answered
            .as_object_mut()
            .and_then(|o| o.remove("seq"))
            .and_then(|s| s.as_u64());
        assert_eq!(data, answered, "the POST answers what was broadcast");
        assert_eq!(
            committed_as,
            Some(seq(&event)),
            "and the event id it became"
        );
        assert_eq!(
            data["id"].as_u64(),
            Some(seq(&event)),
            "a message's id is its event id"
        );
    }
}
