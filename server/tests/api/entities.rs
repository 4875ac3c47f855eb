//! The home's entities over HTTP: listed, commanded (applied at once for the demo home), refused with the status
//! that says why, renamed and moved — and what a command changed is what every stream says, under the id the
//! answer named.

use crate::helpers::{json, seq, spawn_app, spawn_default, ScratchDir, TestApp, TOKEN};
use app::contract::Snapshot;
use serde_json::{json, Value};

async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn command(app: &TestApp, id: &str, state: &str) -> (u16, Value) {
    let body = json!({ "state": state }).to_string();
    send(
        app,
        reqwest::Method::POST,
        &format!("/api/entities/{id}"),
        &body,
    )
    .await
}

async fn edit(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/entities/{id}");
    send(app, reqwest::Method::PATCH, &path, &body.to_string()).await
}

async fn entities(app: &TestApp) -> Vec<Value> {
    let list: Value = app.get("/api/entities").await.json().await.unwrap();
    list["entities"].as_array().unwrap().clone()
}

async fn snapshot(app: &TestApp) -> Snapshot {
    app.get("/api/snapshot").await.json().await.unwrap()
}

#[tokio::test]
async fn the_demo_home_is_listed_as_six_entities_in_three_areas() {
    // Arrange
    let app = spawn_default().await;

    // Act
    let listed = entities(&app).await;
    let snapshot: Value = app.get("/api/snapshot").await.json().await.unwrap();

    // Assert
    let mut ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "bedroom-curtains",
            "bedroom-lights",
            "kitchen-blinds",
            "kitchen-lights",
            "livingroom-curtains",
            "livingroom-lights"
        ]
    );
    let lights = listed.iter().find(|e| e["id"] == "kitchen-lights").unwrap();
    for field in [
        "id",
        "name",
        "area",
        "areaName",
        "kind",
        "state",
        "available",
        "source",
        "changedAt",
    ] {
        assert!(lights.get(field).is_some(), "{field} in {lights}");
    }
    assert_eq!(
        (&lights["kind"], &lights["source"], &lights["area"]),
        (&json!("light"), &json!("demo"), &json!("kitchen"))
    );
    assert!(
        snapshot["entities"].is_array(),
        "the snapshot's entities are a list"
    );
}

#[tokio::test]
async fn a_command_to_a_demo_entity_is_applied_at_once_and_every_stream_says_so_under_its_id() {
    // Arrange
    let app = spawn_default().await;
    let mut events = app.sse("/events?topics=entities").await;
    assert_eq!(events.next_event().await.event, "snapshot");
    let mut smart_home = app.sse("/smart-home").await;
    for _ in 0..3 {
        smart_home.next_event().await;
    }

    // Act
    let (status, answer) = command(&app, "kitchen-blinds", "open").await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["id"], &answer["state"]),
        (&json!("kitchen-blinds"), &json!("open"))
    );
    let id = answer["seq"].as_u64().unwrap();
    let event = events
        .wait_for("the blinds' entity", |e| e.event == "entity")
        .await;
    assert_eq!(seq(&event), id, "the answer names the event");
    assert_eq!(json(&event)["id"], "kitchen-blinds");
    assert_eq!(json(&event)["state"], "open");
    let room = smart_home
        .wait_for("the kitchen", |e| e.event == "kitchen")
        .await;
    assert_eq!(seq(&room), id, "the tutorial's stream carries the same id");
    assert_eq!(json(&room)["blinds"], "open");
    assert_eq!(
        json(&room)["lights"],
        "off",
        "the whole room, as the tutorial sent it"
    );
}

#[tokio::test]
async fn commands_are_refused_with_the_status_that_says_why_and_nothing_is_applied() {
    // Arrange
    let app = spawn_default().await;
    let before = snapshot(&app).await;

    // Act and Assert: each refusal, and its JSON error.
    for (id, state, status, says) in [
        ("garage-door", "on", 404, "not found"),
        ("Kitchen Lights", "on", 404, "not found"),
        ("kitchen-lights", "open", 422, "can be set to on, off"),
        ("kitchen-blinds", "on", 422, "open, closed, stop"),
        ("kitchen-lights", "blue", 422, "asked for \"blue\""),
    ] {
        let (got, body) = command(&app, id, state).await;
        assert_eq!(got, status, "{id} {state}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{id} {state}: {body}"
        );
    }
    let (got, body) = send(
        &app,
        reqwest::Method::POST,
        "/api/entities/kitchen-lights",
        r#"{"state":"on","brightness":3}"#,
    )
    .await;
    assert_eq!(got, 400, "an unknown field: {body}");
    let anonymous = app
        .client
        .post(app.url("/api/entities/kitchen-lights"))
        .header("content-type", "application/json")
        .body(r#"{"state":"on"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let after = snapshot(&app).await;
    assert_eq!(after.entities, before.entities, "nothing was applied");
}

#[tokio::test]
async fn a_rename_and_a_move_stick_across_a_restart() {
    // Arrange: one data directory for two lives of the server.
    let dir = ScratchDir::new("entities");
    let first = spawn_app(|f| {
        f.set("--data-dir", dir.path().display());
    })
    .await;

    // Act: rename the kitchen's lights and move them to a new area; move the bedroom's lights to an existing
    // area, named as a person would.
    let (status, renamed) = edit(
        &first,
        "kitchen-lights",
        json!({"name": "  Ceiling lamp ", "area": "Study"}),
    )
    .await;
    let (moved_status, moved) =
        edit(&first, "bedroom-lights", json!({"area": "LIVING ROOM"})).await;
    drop(first);
    let second = spawn_app(|f| {
        f.set("--data-dir", dir.path().display());
    })
    .await;

    // Assert
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        (&renamed["name"], &renamed["area"], &renamed["areaName"]),
        (&json!("Ceiling lamp"), &json!("study"), &json!("Study"))
    );
    assert!(renamed["seq"].as_u64().is_some(), "{renamed}");
    assert_eq!(moved_status, 200, "{moved}");
    assert_eq!(
        (&moved["area"], &moved["areaName"]),
        (&json!("livingroom"), &json!("Living room"))
    );
    let listed = entities(&second).await;
    let lamp = listed.iter().find(|e| e["id"] == "kitchen-lights").unwrap();
    assert_eq!(
        (&lamp["name"], &lamp["area"]),
        (&json!("Ceiling lamp"), &json!("study"))
    );
    let lights = listed.iter().find(|e| e["id"] == "bedroom-lights").unwrap();
    assert_eq!(lights["area"], "livingroom");
    // The demo home was put in place again at start without undoing either.
    assert_eq!(listed.len(), 6);
}

#[tokio::test]
async fn edits_that_make_no_sense_are_refused_and_change_nothing() {
    // Arrange
    let app = spawn_default().await;
    let before = snapshot(&app).await;

    // Act and Assert
    for (id, body, status) in [
        ("kitchen-lights", json!({}), 400),
        ("kitchen-lights", json!({"name": "   "}), 400),
        ("kitchen-lights", json!({"name": "x".repeat(101)}), 400),
        ("kitchen-lights", json!({"area": "%%%"}), 400),
        ("kitchen-lights", json!({"name": "n", "colour": "red"}), 400),
        ("no-such-thing", json!({"name": "n"}), 404),
    ] {
        let (got, answer) = edit(&app, id, body.clone()).await;
        assert_eq!(got, status, "{id} {body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    // An area is given as a name, so the answer speaks of names, not of slugs.
    let (_, answer) = edit(&app, "kitchen-lights", json!({"area": "!!"})).await;
    assert_eq!(
        answer["error"], "area needs at least one letter or digit",
        "{answer}"
    );
    assert_eq!(snapshot(&app).await.entities, before.entities);
}

#[tokio::test]
async fn a_real_homes_broker_turns_the_demo_home_off_and_takes_its_entities_away() {
    // Arrange: a first life with the demo home, then one pointed at a broker (none answers on port 9; the demo
    // home is off as soon as one is configured).
    let dir = ScratchDir::new("real-home");
    let demo = spawn_app(|f| {
        f.set("--data-dir", dir.path().display());
    })
    .await;
    assert_eq!(entities(&demo).await.len(), 6);
    drop(demo);

    // Act
    let real = spawn_app(|f| {
        f.set("--data-dir", dir.path().display())
            .set("--mqtt-url", "mqtt://127.0.0.1:9")
            .set("--temperature-ms", 20);
    })
    .await;
    let before = snapshot(&real).await.temperatures;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Assert: no demo entity, and no new made-up reading from the demo's thermometer (every 20 ms, were it on).
    assert!(entities(&real).await.is_empty());
    assert_eq!(snapshot(&real).await.temperatures, before);
    let (status, body) = command(&real, "kitchen-lights", "on").await;
    assert_eq!(status, 404, "{body}");
    let seed = real
        .client
        .post(real.url("/api/rooms/kitchen/lights"))
        .bearer_auth(TOKEN)
        .json(&json!({"state": "on"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        seed.status(),
        404,
        "the tutorial's route says the demo home is off"
    );
}
