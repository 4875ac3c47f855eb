//! Commands: published once (QoS 1, not retained) to the command topic with the payload the config names; pending
//! until the device reports the state asked for, or until the timeout, when the switch returns to what the device
//! said; applied at once for a device that reports no state.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

const LAMP: &str = "homeassistant/switch/lamp/config";

/// A lamp whose device reports its state; and the device, listening for commands.
async fn lamp(broker: &Mosquitto, app: &TestApp) -> Device {
    let mut device = Device::connect(broker).await;
    device.subscribe("lamp/set").await;
    device
        .announce(
            LAMP,
            &json!({"unique_id": "lamp", "name": "Lamp", "command_topic": "lamp/set", "state_topic": "lamp/state",
                    "payload_on": "1", "payload_off": "0"}),
        )
        .await;
    follows(broker, "lamp/state", 1).await;
    device.say("lamp/state", "0").await;
    entity_when(app, "lamp", "off", |e| e["state"] == "off").await;
    device
}

fn command_event(event: &sse::SseEvent) -> Option<Value> {
    (event.event == "command").then(|| json(event))
}

#[tokio::test]
async fn a_command_reaches_the_device_once_and_waits_for_it_to_confirm() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let mut device = lamp(&broker, &app).await;
    let mut stream = entity_stream(&app).await;

    // Act
    let (status, answer) = command(&app, "lamp", "on").await;

    // Assert: 202, pending, sent exactly once with the config's payload, not retained.
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        (answer["id"].clone(), answer["requested"].clone()),
        (json!("lamp"), json!("on"))
    );
    let pending = entity_event(&mut stream, "lamp", |e| e["pending"] == "on").await;
    assert_eq!(
        pending["state"], "off",
        "the switch shows the device's state meanwhile"
    );
    let sent = stream
        .wait_for("command sent", |e| e.event == "command")
        .await;
    assert_eq!(
        json(&sent),
        json!({"id": "lamp", "requested": "on", "outcome": "sent"})
    );
    assert_eq!(
        device
            .hears_for("lamp/set", Duration::from_millis(800))
            .await,
        ["1"]
    );
    let retained = Device::connect(&broker).await;
    let mut late = retained;
    late.subscribe("lamp/set").await;
    assert!(
        late.hears_for("lamp/set", Duration::from_millis(300))
            .await
            .is_empty(),
        "not retained"
    );

    // Act: the device does it and says so.
    device.say("lamp/state", "1").await;

    // Assert
    let confirmed = entity_event(&mut stream, "lamp", |e| e["state"] == "on").await;
    assert!(confirmed.get("pending").is_none(), "{confirmed}");
    let outcome = stream
        .wait_for("confirmation", |e| e.event == "command")
        .await;
    assert_eq!(
        json(&outcome),
        json!({"id": "lamp", "requested": "on", "outcome": "confirmed"})
    );
    assert!(seq(&outcome) > seq(&sent));
}

#[tokio::test]
async fn a_device_that_does_not_answer_times_out_and_the_switch_shows_its_real_state() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |f| {
        f.set("--command-timeout-secs", 1);
    })
    .await;
    let mut device = lamp(&broker, &app).await;
    let mut stream = entity_stream(&app).await;

    // Act
    let (status, _) = command(&app, "lamp", "on").await;
    let started = std::time::Instant::now();

    // Assert
    assert_eq!(status, 202);
    assert_eq!(device.hears("lamp/set").await, "1");
    let events = stream
        .collect_until("the timeout", |e| {
            command_event(e).is_some_and(|c| c["outcome"] == "timeout")
        })
        .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let last_entity = events
        .iter()
        .rev()
        .find(|e| e.event == "entity")
        .map(json)
        .unwrap();
    assert_eq!(last_entity["state"], "off");
    assert!(last_entity.get("pending").is_none(), "{last_entity}");
    let outcomes: Vec<Value> = events
        .iter()
        .filter_map(command_event)
        .map(|c| c["outcome"].clone())
        .collect();
    assert_eq!(outcomes, [json!("sent"), json!("timeout")]);
}

#[tokio::test]
async fn a_device_without_a_state_topic_is_taken_at_its_word() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let mut device = Device::connect(&broker).await;
    device.subscribe("plug/cmd").await;
    device
        .announce(
            "homeassistant/switch/plug/config",
            &json!({"uniq_id": "plug", "cmd_t": "plug/cmd"}),
        )
        .await;
    entity_when(&app, "plug", "announced", |_| true).await;

    // Act
    let (status, answer) = command(&app, "plug", "on").await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "on");
    assert_eq!(device.hears("plug/cmd").await, "ON");
    assert_eq!(entity(&app, "plug").await.unwrap()["state"], "on");
}

#[tokio::test]
async fn covers_and_json_lights_are_sent_what_they_announced() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let mut device = Device::connect(&broker).await;
    device.subscribe("blind/set").await;
    device.subscribe("strip/set").await;
    device
        .announce(
            "homeassistant/cover/blind/config",
            &json!({"unique_id": "blind", "command_topic": "blind/set", "state_topic": "blind/state",
                    "payload_close": "DOWN", "state_closed": "down", "state_open": "up"}),
        )
        .await;
    device
        .announce(
            "homeassistant/light/strip/config",
            &json!({"unique_id": "strip", "schema": "json", "command_topic": "strip/set", "state_topic": "strip/state"}),
        )
        .await;
    follows(&broker, "blind/state", 1).await;
    device.say("blind/state", "up").await;
    follows(&broker, "strip/state", 1).await;
    device
        .say("strip/state", r#"{"state":"OFF","brightness":10}"#)
        .await;
    entity_when(&app, "blind", "open", |e| e["state"] == "open").await;
    entity_when(&app, "strip", "off", |e| e["state"] == "off").await;

    // Act
    let (closing, _) = command(&app, "blind", "closed").await;
    let (lighting, _) = command(&app, "strip", "on").await;
    device.say("blind/state", "closing").await;
    device
        .say("strip/state", r#"{"state":"ON","brightness":10}"#)
        .await;

    // Assert
    assert_eq!((closing, lighting), (202, 202));
    assert_eq!(device.hears("blind/set").await, "DOWN");
    assert_eq!(device.hears("strip/set").await, r#"{"state":"ON"}"#);
    entity_when(&app, "strip", "on, confirmed", |e| {
        e["state"] == "on" && e.get("pending").is_none()
    })
    .await;
    let moving = entity_when(&app, "blind", "closing", |e| e["state"] == "closing").await;
    assert_eq!(moving["pending"], "closed", "closing is not yet closed");
    device.say("blind/state", "down").await;
    entity_when(&app, "blind", "closed, confirmed", |e| {
        e["state"] == "closed" && e.get("pending").is_none()
    })
    .await;
}
