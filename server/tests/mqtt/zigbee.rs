//! Zigbee2MQTT's own topics: the retained device list makes entities of each device's lights, switches, numbers
//! and true/false properties; state comes from the device's JSON, commands go to its `/set` topic, availability
//! from its `/availability`; a device Zigbee2MQTT also announces by discovery stays one entity.

use crate::harness::*;
use serde_json::{json, Value};

const BULB: &str = "0x000b57fffec6a5b2-light-zigbee2mqtt";
const TEMPERATURE: &str = "0x0017880104e45522-temperature-zigbee2mqtt";
const OCCUPANCY: &str = "0x0017880104e45522-occupancy-zigbee2mqtt";

/// A device list as Zigbee2MQTT publishes it: the coordinator, a bulb, and a sensor.
fn devices() -> Value {
    json!([
        {"ieee_address": "0x00124b00120144ae", "type": "Coordinator", "friendly_name": "Coordinator",
         "definition": null, "interview_completed": true, "supported": true, "disabled": false},
        {"ieee_address": "0x000b57fffec6a5b2", "type": "Router", "friendly_name": "hall_bulb",
         "supported": true, "disabled": false, "interview_completed": true, "power_source": "Mains (single phase)",
         "definition": {"model": "LED1545G12", "vendor": "IKEA", "description": "TRADFRI bulb", "options": [],
            "exposes": [
                {"type": "light", "features": [
                    {"type": "binary", "name": "state", "property": "state", "access": 7,
                     "value_on": "ON", "value_off": "OFF", "value_toggle": "TOGGLE"},
                    {"type": "numeric", "name": "brightness", "property": "brightness", "access": 7}]},
                {"type": "numeric", "name": "linkquality", "property": "linkquality", "access": 1, "unit": "lqi"}]}},
        {"ieee_address": "0x0017880104e45522", "type": "EndDevice", "friendly_name": "study_sensor",
         "supported": true, "disabled": false, "interview_completed": true,
         "definition": {"model": "RTCGQ11LM", "vendor": "Aqara", "exposes": [
            {"type": "numeric", "name": "temperature", "property": "temperature", "access": 1, "unit": "°C"},
            {"type": "binary", "name": "occupancy", "property": "occupancy", "access": 1,
             "value_on": true, "value_off": false}]}}
    ])
}

#[tokio::test]
async fn the_device_list_becomes_entities_that_follow_their_devices() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let mut z2m = Device::connect(&broker).await;
    z2m.subscribe("zigbee2mqtt/hall_bulb/set").await;

    // Act
    z2m.announce("zigbee2mqtt/bridge/devices", &devices()).await;
    z2m.retain(
        "zigbee2mqtt/hall_bulb",
        r#"{"state":"OFF","brightness":80,"linkquality":120}"#,
    )
    .await;
    z2m.retain(
        "zigbee2mqtt/study_sensor",
        r#"{"temperature":19.5,"occupancy":true,"battery":90}"#,
    )
    .await;

    // Assert: the entities, by IEEE address and Zigbee2MQTT's keys, with their states.
    let bulb = entity_when(&app, BULB, "off", |e| e["state"] == "off").await;
    assert_eq!(
        (bulb["kind"].clone(), bulb["name"].clone()),
        (json!("light"), json!("hall_bulb"))
    );
    assert_eq!(bulb["source"], "zigbee2mqtt");
    let temperature = entity_when(&app, TEMPERATURE, "19.5", |e| e["state"] == "19.5").await;
    assert_eq!(temperature["name"], "study_sensor Temperature");
    assert_eq!(temperature["unit"], "°C");
    let occupancy = entity_when(&app, OCCUPANCY, "occupied", |e| e["state"] == "on").await;
    assert_eq!(occupancy["deviceClass"], "occupancy");
    let ids: Vec<String> = entities(&app)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "no coordinator, no link quality: {ids:?}");

    // Act: a command, confirmed by the device's next state.
    let (status, _) = command(&app, BULB, "on").await;

    // Assert
    assert_eq!(status, 202);
    assert_eq!(
        z2m.hears("zigbee2mqtt/hall_bulb/set").await,
        r#"{"state":"ON"}"#
    );
    z2m.say("zigbee2mqtt/hall_bulb", r#"{"state":"ON","brightness":80}"#)
        .await;
    entity_when(&app, BULB, "on, confirmed", |e| {
        e["state"] == "on" && e.get("pending").is_none()
    })
    .await;

    // Act and Assert: availability, in both of Zigbee2MQTT's forms.
    z2m.retain(
        "zigbee2mqtt/hall_bulb/availability",
        r#"{"state":"offline"}"#,
    )
    .await;
    entity_when(&app, BULB, "offline", |e| e["available"] == false).await;
    z2m.retain("zigbee2mqtt/hall_bulb/availability", "online")
        .await;
    entity_when(&app, BULB, "online", |e| e["available"] == true).await;

    // Act and Assert: a device no longer listed is gone.
    let mut fewer = devices();
    fewer.as_array_mut().unwrap().pop();
    z2m.announce("zigbee2mqtt/bridge/devices", &fewer).await;
    eventually("the sensor's entities to go", || async {
        entity(&app, TEMPERATURE).await.is_none() && entity(&app, OCCUPANCY).await.is_none()
    })
    .await;
    assert!(entity(&app, BULB).await.is_some());
}

#[tokio::test]
async fn a_device_announced_both_ways_is_one_entity() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;
    let z2m = Device::connect(&broker).await;

    // Act: Zigbee2MQTT with its Home Assistant discovery on announces the bulb both ways.
    z2m.announce("zigbee2mqtt/bridge/devices", &devices()).await;
    z2m.announce(
        "homeassistant/light/0x000b57fffec6a5b2/light/config",
        &json!({
            "availability": [{"topic": "zigbee2mqtt/bridge/state", "value_template": "{{ value_json.state }}"}],
            "brightness": true, "brightness_scale": 254, "supported_color_modes": ["color_temp"],
            "command_topic": "zigbee2mqtt/hall_bulb/set",
            "device": {"identifiers": ["zigbee2mqtt_0x000b57fffec6a5b2"], "manufacturer": "IKEA",
                       "model": "TRADFRI bulb", "name": "hall_bulb", "sw_version": null,
                       "via_device": "zigbee2mqtt_bridge_0x00124b00120144ae", "suggested_area": "Hall"},
            "json_attributes_topic": "zigbee2mqtt/hall_bulb", "name": null, "schema": "json",
            "state_topic": "zigbee2mqtt/hall_bulb", "object_id": "hall_bulb",
            "unique_id": "0x000b57fffec6a5b2_light_zigbee2mqtt",
            "origin": {"name": "Zigbee2MQTT", "sw": "1.40.0", "url": "https://www.zigbee2mqtt.io"}
        }),
    )
    .await;
    z2m.retain("zigbee2mqtt/bridge/state", r#"{"state":"online"}"#)
        .await;
    z2m.retain("zigbee2mqtt/hall_bulb", r#"{"state":"ON"}"#)
        .await;

    // Assert: one bulb, placed as its discovery config says, online, on.
    let bulb = entity_when(&app, BULB, "in the hall, on", |e| {
        e["area"] == "hall" && e["state"] == "on"
    })
    .await;
    assert_eq!(bulb["available"], true);
    let bulbs = entities(&app)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "light")
        .count();
    assert_eq!(bulbs, 1);
}
