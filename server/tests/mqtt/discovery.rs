//! Home Assistant discovery: configs in full and abbreviated form become entities, named and placed as Home
//! Assistant shows them; their states, availability and withdrawal follow; a person's rename survives the device
//! announcing itself again.

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_full_form_switch_is_an_entity_whose_state_topic_is_followed_as_soon_as_its_config_arrives(
) {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let mut stream = entity_stream(&app).await;
    let device = Device::connect(&broker).await;

    // Act: the config, and as soon as Hearth follows its state topic, a state that is not retained.
    device
        .announce(
            "homeassistant/switch/garden/pump/config",
            &json!({
                "name": "Pump", "unique_id": "garden_pump_1",
                "state_topic": "garden/pump/state", "command_topic": "garden/pump/set",
                "device": {"name": "Garden", "identifiers": ["garden-1"], "suggested_area": "Back Yard"},
                "json_attributes_topic": "garden/pump/attributes", "icon": "mdi:pump", "retain": false,
                "platform": "mqtt", "optimistic": false
            }),
        )
        .await;
    follows(&broker, "garden/pump/state", 1).await;
    device.say("garden/pump/state", "ON").await;

    // Assert: first unknown (announced, nothing said yet) or straight away on; then on, in its area.
    let on = entity_event(&mut stream, "garden-pump-1", |e| e["state"] == "on").await;
    assert_eq!(on["name"], "Garden Pump");
    assert_eq!(
        (on["area"].clone(), on["areaName"].clone()),
        (json!("back-yard"), json!("Back Yard"))
    );
    assert_eq!(
        (on["kind"].clone(), on["source"].clone()),
        (json!("switch"), json!("mqtt"))
    );
    assert_eq!(
        on["available"], true,
        "no availability topic: always online"
    );
}

#[tokio::test]
async fn an_entity_is_unknown_until_its_device_says_and_a_state_that_does_not_fit_is_ignored() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;

    // Act
    device
        .announce(
            "homeassistant/binary_sensor/hall/door/config",
            &json!({"name": "Door", "state_topic": "hall/door", "device_class": "door",
                    "payload_on": "open", "payload_off": "shut"}),
        )
        .await;
    let first = entity_when(&app, "binary-sensor-hall-door", "announced", |_| true).await;
    follows(&broker, "hall/door", 1).await;
    device.say("hall/door", "ajar").await;
    device.say("hall/door", "OPEN").await;

    // Assert
    assert_eq!(first["state"], "unknown");
    assert_eq!(first["name"], "Door");
    assert_eq!(first["area"], "unassigned");
    entity_when(&app, "binary-sensor-hall-door", "open (any case)", |e| {
        e["state"] == "on"
    })
    .await;
    assert_eq!(app.state.metrics.mqtt.ignored_for("unexpected"), 1);
}

#[tokio::test]
async fn a_tasmota_style_config_with_a_base_topic_and_lwt_availability() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;
    let id = "a1b2c3-rl-1";

    // Act: Tasmota's own discovery shape: abbreviations, `~`, a JSON state read by a template, an LWT.
    device
        .announce(
            "homeassistant/switch/A1B2C3_RL_1/config",
            &json!({
                "name": null, "~": "tasmota_A1B2C3/",
                "cmd_t": "~cmnd/POWER", "stat_t": "~tele/STATE", "val_tpl": "{{value_json.POWER}}",
                "pl_off": "OFF", "pl_on": "ON",
                "avty_t": "~tele/LWT", "pl_avail": "Online", "pl_not_avail": "Offline",
                "uniq_id": "A1B2C3_RL_1",
                "dev": {"ids": ["A1B2C3"], "name": "Hall Light", "mdl": "Sonoff Basic", "sw": "14.1.0", "mf": "Tasmota"}
            }),
        )
        .await;
    device.retain("tasmota_A1B2C3/tele/LWT", "Online").await;
    follows(&broker, "tasmota_A1B2C3/tele/STATE", 1).await;
    device
        .say(
            "tasmota_A1B2C3/tele/STATE",
            r#"{"Time":"2026-12-04T10:00:00","POWER":"ON","Wifi":{"RSSI":80}}"#,
        )
        .await;

    // Assert
    let on = entity_when(&app, id, "on and online", |e| {
        e["state"] == "on" && e["available"] == true
    })
    .await;
    assert_eq!(on["name"], "Hall Light");
    device.retain("tasmota_A1B2C3/tele/LWT", "Offline").await;
    entity_when(&app, id, "offline", |e| e["available"] == false).await;
    let (status, body) = command(&app, id, "off").await;
    assert_eq!(status, 409, "an offline device takes no command: {body}");
}

#[tokio::test]
async fn an_esphome_style_sensor_is_named_by_its_device_and_reads_numbers() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;

    // Act: ESPHome's shape: abbreviations, a device with a name, an availability topic with its defaults.
    device
        .announce(
            "homeassistant/sensor/utility/utility_temperature/config",
            &json!({
                "dev_cla": "temperature", "unit_of_meas": "°C", "stat_cla": "measurement",
                "name": "Temperature", "stat_t": "utility/sensor/utility_temperature/state",
                "avty_t": "utility/status", "uniq_id": "esp-utility-temperature", "exp_aft": 300,
                "dev": {"ids": "a4cf12345678", "name": "Utility sensor", "sw": "esphome v2024.6.1",
                        "mdl": "esp32dev", "mf": "espressif", "sa": "Utility Room"}
            }),
        )
        .await;
    device.retain("utility/status", "online").await;
    follows(&broker, "utility/sensor/utility_temperature/state", 1).await;
    device
        .say("utility/sensor/utility_temperature/state", "21.4")
        .await;
    device
        .say("utility/sensor/utility_temperature/state", "warm")
        .await;
    device
        .say("utility/sensor/utility_temperature/state", "21.6")
        .await;

    // Assert
    let reading = entity_when(&app, "esp-utility-temperature", "21.6", |e| {
        e["state"] == "21.6"
    })
    .await;
    assert_eq!(reading["name"], "Utility sensor Temperature");
    assert_eq!(
        (reading["unit"].clone(), reading["deviceClass"].clone()),
        (json!("°C"), json!("temperature"))
    );
    assert_eq!(reading["area"], "utility-room");
    assert_eq!(reading["available"], true);
    assert_eq!(app.state.metrics.mqtt.ignored_for("not_a_number"), 1);
    let trend = app.state.hub.snapshot().trends;
    assert!(
        trend
            .keys()
            .any(|k| k.as_str() == "esp-utility-temperature"),
        "a numeric sensor keeps a window, as temperature does"
    );
}

#[tokio::test]
async fn an_empty_retained_config_removes_the_entity() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;
    let topic = "homeassistant/light/desk/config";
    device
        .announce(
            topic,
            &json!({"unique_id": "desk-lamp", "command_topic": "desk/set", "name": "Desk"}),
        )
        .await;
    entity_when(&app, "desk-lamp", "announced", |_| true).await;
    let mut stream = entity_stream(&app).await;

    // Act
    device.retain(topic, Vec::new()).await;

    // Assert
    let removed = stream
        .wait_for("entity-removed", |e| e.event == "entity-removed")
        .await;
    assert_eq!(json(&removed), json!({"id": "desk-lamp"}));
    assert!(entity(&app, "desk-lamp").await.is_none());
}

#[tokio::test]
async fn a_rename_and_a_move_survive_the_device_announcing_itself_again() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let device = Device::connect(&broker).await;
    let topic = "homeassistant/switch/fan/config";
    let config = json!({"unique_id": "ceiling-fan", "name": "Fan", "command_topic": "fan/set",
                        "state_topic": "fan/state", "device": {"name": "Ceiling", "sa": "Hall"}});
    device.announce(topic, &config).await;
    follows(&broker, "fan/state", 1).await;
    device.say("fan/state", "ON").await;
    entity_when(&app, "ceiling-fan", "on", |e| e["state"] == "on").await;
    let (status, body) = edit(
        &app,
        "ceiling-fan",
        json!({"name": "Bedroom fan", "area": "Bedroom"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut stream = entity_stream(&app).await;

    // Act: the same config again, then one with a new name from the device.
    device.announce(topic, &config).await;
    let unchanged = events_for(&mut stream, Duration::from_millis(500)).await;
    let mut renamed = config.clone();
    renamed["name"] = json!("Fan 2");
    device.announce(topic, &renamed).await;
    device.say("fan/state", "OFF").await;

    // Assert
    assert!(
        unchanged.is_empty(),
        "the same config again makes no event: {unchanged:?}"
    );
    let now = entity_when(&app, "ceiling-fan", "off", |e| e["state"] == "off").await;
    assert_eq!(
        (now["name"].clone(), now["area"].clone()),
        (json!("Bedroom fan"), json!("bedroom"))
    );
}
