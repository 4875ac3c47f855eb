//! Several instances on one Redis and one broker: exactly one journals what the broker says, so one state message
//! is one event id on every instance; a command posted to either reaches the device exactly once; and when the
//! journalling instance goes, the other takes over within seconds.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn instance(redis: &Redis, broker: &Mosquitto) -> TestApp {
    let app = Launch::new()
        .redis(&redis.url())
        .flags(|f| {
            f.set("--mqtt-url", broker.url());
        })
        .spawn()
        .await;
    connected(&app, true).await;
    app
}

async fn journals(app: &TestApp) -> bool {
    app.healthz().await.1["mqtt"]["journals"] == json!(true)
}

fn entity_events(events: &[sse::SseEvent], id: &str) -> Vec<(u64, Value)> {
    events
        .iter()
        .filter(|e| e.event == "entity")
        .map(|e| (seq(e), json(e)))
        .filter(|(_, v)| v["id"] == id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_state_message_is_one_event_id_everywhere_and_commands_from_either_reach_the_device_once(
) {
    // Arrange
    let redis = Redis::start().await;
    let broker = broker().await;
    let a = instance(&redis, &broker).await;
    let b = instance(&redis, &broker).await;
    eventually("exactly one instance to journal", || async {
        journals(&a).await != journals(&b).await
    })
    .await;
    let mut device = Device::connect(&broker).await;
    device.subscribe("valve/set").await;
    device
        .announce(
            "homeassistant/switch/valve/config",
            &json!({"uniq_id": "valve", "cmd_t": "valve/set", "stat_t": "valve/state"}),
        )
        .await;
    follows(&broker, "valve/state", 2).await;
    device.say("valve/state", "OFF").await;
    entity_when(&a, "valve", "off", |e| e["state"] == "off").await;
    entity_when(&b, "valve", "off", |e| e["state"] == "off").await;
    let mut on_a = entity_stream(&a).await;
    let mut on_b = entity_stream(&b).await;

    // Act: one state message.
    device.say("valve/state", "ON").await;

    // Assert: one event, with one id, on both.
    let seen_a = entity_events(
        &events_for(&mut on_a, Duration::from_secs(1)).await,
        "valve",
    );
    let seen_b = entity_events(
        &events_for(&mut on_b, Duration::from_secs(1)).await,
        "valve",
    );
    assert_eq!(seen_a.len(), 1, "{seen_a:?}");
    assert_eq!(seen_a, seen_b);
    assert_eq!(seen_a[0].1["state"], "on");

    // Act and Assert: a command from each instance reaches the device exactly once.
    for (app, state, payload) in [(&a, "off", "OFF"), (&b, "on", "ON")] {
        let (status, body) = command(app, "valve", state).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            device
                .hears_for("valve/set", Duration::from_millis(800))
                .await,
            [payload]
        );
        device.say("valve/state", payload).await;
        for app in [&a, &b] {
            entity_when(app, "valve", "confirmed", |e| {
                e["state"] == state && e.get("pending").is_none()
            })
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_journalling_instance_goes_the_other_takes_over() {
    // Arrange
    let redis = Redis::start().await;
    let broker = broker().await;
    let a = instance(&redis, &broker).await;
    eventually("the first instance to journal", || journals(&a)).await;
    let b = instance(&redis, &broker).await;
    let device = Device::connect(&broker).await;
    device
        .announce(
            "homeassistant/sensor/well/config",
            &json!({"uniq_id": "well", "stat_t": "well/level"}),
        )
        .await;
    follows(&broker, "well/level", 2).await;
    device.say("well/level", "low").await;
    entity_when(&b, "well", "low", |e| e["state"] == "low").await;

    // Act: the journalling instance stops; a state comes while nobody journals, then one after.
    drop(a);
    device.say("well/level", "medium").await;
    eventually("the other instance to journal", || journals(&b)).await;
    device.say("well/level", "high").await;

    // Assert: the state it heard meanwhile is caught up at takeover, and what follows is journalled.
    entity_when(&b, "well", "high", |e| e["state"] == "high").await;
}
