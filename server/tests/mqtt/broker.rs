//! The broker going away and coming back: every MQTT entity is shown stale meanwhile (the `bridge` event),
//! `/healthz` and `/metrics` say so, writes to them get 503; on reconnect Hearth says `online` on the status
//! topic, devices announce again, the retained states come back, and an unchanged state makes no event.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

const CONFIG: &str = "homeassistant/switch/heater/config";

fn heater() -> Value {
    json!({"unique_id": "heater", "name": "Heater", "command_topic": "heater/set", "state_topic": "heater/state"})
}

#[tokio::test]
async fn while_the_broker_is_down_entities_are_stale_and_writes_get_503_and_it_all_comes_back() {
    // Arrange: a device that announces itself again when Hearth says it is online, as devices do.
    let mut broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;
    device.announce(CONFIG, &heater()).await;
    device.retain("heater/state", "ON").await;
    entity_when(&app, "heater", "on", |e| e["state"] == "on").await;
    let mut stream = entity_stream(&app).await;

    // Act: the broker dies.
    broker.kill();

    // Assert: stale, said everywhere.
    let down = stream
        .wait_for("the bridge down", |e| e.event == "bridge")
        .await;
    let down = json(&down);
    assert_eq!(down["connected"], false);
    assert!(down["problem"].is_string(), "{down}");
    let (status, health) = app.healthz().await;
    assert_eq!(
        status, 200,
        "a broker down leaves Hearth itself healthy: {health}"
    );
    assert_eq!(health["mqtt"]["connected"], false);
    assert_eq!(app.metric("hearth_mqtt_connected").await, 0);
    let (status, body) = command(&app, "heater", "off").await;
    assert_eq!(status, 503, "{body}");
    let snapshot = app.state.hub.snapshot();
    let stale = snapshot
        .entities
        .values()
        .find(|e| e.id.as_str() == "heater")
        .unwrap();
    assert!(snapshot.is_stale(stale));
    assert_eq!(
        stale.pending, None,
        "a refused command leaves nothing pending"
    );

    // Act: it comes back empty (nothing persisted), and the device announces itself again (as devices do when
    // Hearth says `online`; that message has a test of its own).
    broker.restart().await;
    let device = Device::connect(&broker).await;
    device.announce(CONFIG, &heater()).await;
    device.retain("heater/state", "ON").await;

    // Assert: connected again, and the unchanged heater makes no event.
    let events = stream
        .collect_until("the bridge up", |e| e.event == "bridge")
        .await;
    assert_eq!(json(events.last().unwrap())["connected"], true);
    connected(&app, true).await;
    let after = events_for(&mut stream, Duration::from_millis(800)).await;
    let entity_events: Vec<_> = events
        .iter()
        .chain(&after)
        .filter(|e| e.event == "entity")
        .collect();
    assert!(
        entity_events.is_empty(),
        "no duplicate event for an unchanged state: {entity_events:?}"
    );
    assert_eq!(app.metric("hearth_mqtt_connected").await, 1);
    let (status, body) = command(&app, "heater", "off").await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn hearth_says_online_on_the_status_topic_when_it_connects_so_devices_announce_again() {
    // Arrange
    let broker = broker().await;
    let mut device = Device::connect(&broker).await;
    device.subscribe("homeassistant/status").await;

    // Act
    let _app = hearth(&broker, |_| {}).await;

    // Assert
    assert_eq!(device.hears("homeassistant/status").await, "online");
}

#[tokio::test]
async fn a_broker_that_is_not_there_at_start_is_reported_and_never_logs_the_password() {
    // Arrange: nothing listens on this port.
    let port = free_port();
    let url = format!("mqtt://hearth:hunter2-secret@127.0.0.1:{port}");

    // Act
    let app = spawn_app(|f| {
        f.set("--mqtt-url", &url);
    })
    .await;
    connected(&app, false).await;

    // Assert
    let (_, health) = app.healthz().await;
    let shown = health.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(
        health["mqtt"]["broker"],
        format!("mqtt://hearth@127.0.0.1:{port}")
    );
    assert!(!format!("{:?}", app.state.config).contains("hunter2"));
    eventually("the bridge event to say disconnected", || async {
        app.state
            .hub
            .snapshot()
            .bridge
            .is_some_and(|b| !b.connected)
    })
    .await;
}

#[tokio::test]
async fn availability_lists_combine_as_their_mode_says() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;
    device
        .announce(
            "homeassistant/sensor/attic/config",
            &json!({"uniq_id": "attic", "stat_t": "attic/t", "unit_of_meas": "°C",
                    "avty_mode": "all",
                    "avty": [{"t": "attic/status"}, {"t": "bridge/state", "val_tpl": "{{ value_json.state }}",
                              "pl_avail": "up", "pl_not_avail": "down"}]}),
        )
        .await;

    // Act and Assert: unavailable until both say online; one saying offline is enough to be offline.
    let first = entity_when(&app, "attic", "announced", |_| true).await;
    assert_eq!(first["available"], false, "nothing heard yet");
    device.retain("attic/status", "online").await;
    device.retain("bridge/state", r#"{"state":"up"}"#).await;
    entity_when(&app, "attic", "online", |e| e["available"] == true).await;
    device.retain("bridge/state", r#"{"state":"down"}"#).await;
    entity_when(&app, "attic", "offline", |e| e["available"] == false).await;
}
