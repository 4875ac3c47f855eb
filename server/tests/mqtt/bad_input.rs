//! Bad input from the broker never hurts the home: configs that are not JSON, lack what their kind needs, name an
//! unknown component or template, or are too large are skipped and counted by reason; more entities than
//! `--max-entities` are refused the same way; states that do not fit are ignored and counted; and ten thousand
//! bad configs leave the server up with its memory flat.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn every_kind_of_bad_config_is_skipped_and_counted_by_reason_and_a_good_one_still_works() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |f| {
        f.set("--mqtt-max-payload", 2048);
    })
    .await;
    let device = Device::connect(&broker).await;
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "homeassistant/switch/a/config",
            b"{not json".to_vec(),
            "not_json",
        ),
        (
            "homeassistant/switch/b/config",
            b"\xff\xfe".to_vec(),
            "not_json",
        ),
        (
            "homeassistant/vacuum/c/config",
            br#"{"name":"Robot","command_topic":"v/set"}"#.to_vec(),
            "unknown_component",
        ),
        (
            "homeassistant/sensor/d/config",
            br#"{"name":"No topic"}"#.to_vec(),
            "incomplete",
        ),
        (
            "homeassistant/switch/e/config",
            br#"{"state_topic":"e/state"}"#.to_vec(),
            "incomplete",
        ),
        (
            "homeassistant/sensor/f/config",
            br#"{"state_topic":"f","value_template":"{{ states('sensor.x') | float * 2 }}"}"#
                .to_vec(),
            "template",
        ),
        (
            "homeassistant/sensor/g/config",
            br##"{"state_topic":"#"}"##.to_vec(),
            "bad_topic",
        ),
        (
            "homeassistant/sensor/h/config",
            json!({"state_topic": "h", "name": "x".repeat(3000)})
                .to_string()
                .into_bytes(),
            "too_large",
        ),
    ];

    // Act
    for (topic, payload, _) in &bad {
        device.retain(topic, payload.clone()).await;
    }
    device
        .announce(
            "homeassistant/sensor/ok/config",
            &json!({"uniq_id": "fine", "stat_t": "ok/state"}),
        )
        .await;
    follows(&broker, "ok/state", 1).await;
    device.say("ok/state", "dry").await;

    // Assert: the good one works; each bad one is counted under its reason; nothing else exists; still up.
    entity_when(&app, "fine", "dry", |e| e["state"] == "dry").await;
    let text = app.metrics_text().await;
    for (topic, _, reason) in &bad {
        let wanted = bad.iter().filter(|(_, _, r)| r == reason).count();
        let line = format!("hearth_mqtt_configs_skipped_total{{reason=\"{reason}\"}} {wanted}");
        assert!(text.contains(&line), "{topic}: no {line:?} in\n{text}");
    }
    assert_eq!(entities(&app).await.len(), 1);
    assert_eq!(app.healthz().await.0, 200);
}

#[tokio::test]
async fn states_that_do_not_fit_are_ignored_and_counted() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |f| {
        f.set("--mqtt-max-payload", 1024);
    })
    .await;
    let device = Device::connect(&broker).await;
    device
        .announce(
            "homeassistant/sensor/meter/config",
            &json!({"uniq_id": "meter", "stat_t": "meter/state", "unit_of_meas": "W",
                    "val_tpl": "{{ value_json.power }}"}),
        )
        .await;
    follows(&broker, "meter/state", 1).await;
    device.say("meter/state", r#"{"power": 5}"#).await;
    entity_when(&app, "meter", "5", |e| e["state"] == "5").await;

    // Act
    device.say("meter/state", "\u{fffd}not json").await;
    device.retain("meter/state", b"\xff\xfe\xfd".to_vec()).await;
    device
        .say(
            "meter/state",
            &format!(r#"{{"power": 6, "pad": "{}"}}"#, "x".repeat(2000)),
        )
        .await;
    device.say("meter/state", r#"{"power": "lots"}"#).await;
    device.say("meter/state", r#"{"energy": 1}"#).await;
    device.say("meter/state", r#"{"power": 7}"#).await;

    // Assert
    entity_when(&app, "meter", "7", |e| e["state"] == "7").await;
    let m = &app.state.metrics.mqtt;
    let counts =
        ["template", "not_text", "too_large", "not_a_number"].map(|r| (r, m.ignored_for(r)));
    assert_eq!(
        counts,
        [
            ("template", 2),
            ("not_text", 1),
            ("too_large", 1),
            ("not_a_number", 1)
        ]
    );
}

#[tokio::test]
async fn no_more_entities_than_the_limit_are_taken() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |f| {
        f.set("--max-entities", 3);
    })
    .await;
    let device = Device::connect(&broker).await;

    // Act
    for n in 0..5 {
        device
            .announce(
                &format!("homeassistant/sensor/s{n}/config"),
                &json!({"uniq_id": format!("sensor-{n}"), "stat_t": format!("s/{n}")}),
            )
            .await;
    }

    // Assert
    eventually("two refusals", || async {
        app.state.metrics.mqtt.skipped_for("too_many_entities") == 2
    })
    .await;
    assert_eq!(entities(&app).await.len(), 3);
    assert_eq!(app.metric("hearth_entities").await, 3);
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn ten_thousand_bad_configs_leave_the_server_up_with_flat_memory() {
    // Arrange: the built server in a process of its own, so its memory is its own.
    let broker = broker().await;
    let server = ServerProcess::start(&[("HEARTH_MQTT_URL", &broker.url())]).await;
    let pid = server.pid().unwrap();
    let client = reqwest::Client::new();
    let skipped = || async {
        let text = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with("hearth_mqtt_configs_skipped_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    let device = Device::connect(&broker).await;
    let flood = |from: u32, to: u32| {
        let device = &device;
        async move {
            for n in from..to {
                let (component, payload): (&str, Vec<u8>) = match n % 4 {
                    0 => ("switch", format!("{{not json {n}").into_bytes()),
                    1 => ("vacuum", format!(r#"{{"name":"v{n}"}}"#).into_bytes()),
                    2 => ("sensor", format!(r#"{{"name":"s{n}"}}"#).into_bytes()),
                    _ => (
                        "sensor",
                        format!(r#"{{"stat_t":"s","val_tpl":"{{{{ now() }}}} {n}"}}"#).into_bytes(),
                    ),
                };
                device
                    .say(
                        &format!("homeassistant/{component}/bad_{n}/config"),
                        std::str::from_utf8(&payload).unwrap(),
                    )
                    .await;
            }
        }
    };
    // In batches, each counted before the next: a broker queues at most 1,000 messages for a client that lags
    // (Mosquitto's default), and drops the rest, which would count as nothing here.
    let batches = |from: u32, to: u32| {
        let flood = &flood;
        let skipped = &skipped;
        async move {
            for start in (from..to).step_by(500) {
                flood(start, (start + 500).min(to)).await;
                let what = format!("configs up to {} to be counted", start + 500);
                eventually(&what, || async {
                    skipped().await >= u64::from((start + 500).min(to))
                })
                .await;
            }
        }
    };
    // A first thousand settles the allocator, so what follows measures growth, not warm-up.
    batches(0, 1000).await;
    let before = rss_kib(pid);

    // Act
    batches(1000, 11_000).await;
    let after = rss_kib(pid);

    // Assert
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["mqtt"]["connected"], true);
    assert_eq!(body["mqtt"]["entities"], 0);
    let grown = after.saturating_sub(before);
    eprintln!("RSS {before} KiB -> {after} KiB");
    assert!(
        grown < 8 * 1024,
        "RSS grew {grown} KiB over 10,000 bad configs ({before} → {after} KiB)"
    );
}
