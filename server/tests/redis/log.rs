//! The shared log: instances publishing at once see one order; read-modify-write updates from several
//! instances lose nothing.

use crate::harness::{plain, post, seq, Redis, TestApp, WAIT};
use app::contract::{Payload, Temperature, MAX_TEMPERATURES};
use std::sync::Arc;

/// Reads `path` on `instance` until `count` events named one of `names` came; their ids.
async fn collect(instance: &TestApp, path: &str, names: &[&str], count: usize) -> Vec<u64> {
    let mut stream = instance.sse(path).await;
    let mut ids = Vec::with_capacity(count);
    let deadline = tokio::time::Instant::now() + WAIT * 4;
    while ids.len() < count {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = stream
            .next_event_or_end(left)
            .await
            .unwrap_or_else(|| panic!("{path}: the stream ended after {} events", ids.len()));
        if names.contains(&event.event.as_str()) {
            ids.push(seq(&event));
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_publishing_at_once_are_seen_in_one_order_everywhere() {
    // Arrange: two instances, two kinds of subscriber on each, opened before anything is published.
    let redis = Redis::start().await;
    let a = Arc::new(plain(&redis).await);
    let b = Arc::new(plain(&redis).await);
    // The sensors (on whichever instance holds their lease) publish at once: let them be done.
    redis.settled().await;
    let mut readers = Vec::new();
    for instance in [&a, &b] {
        for (path, names, count) in [
            ("/eventstream", &["message"][..], 1504),
            (
                "/events?topics=message,temperature",
                &["message", "temperature"][..],
                2000,
            ),
        ] {
            let instance = Arc::clone(instance);
            readers.push(tokio::spawn(async move {
                (path, collect(&instance, path, names, count).await)
            }));
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Act: A posts 1,000 messages over HTTP; B publishes 504 messages and 496 readings, at the same time. Each
    // writer keeps the id every write was acknowledged with.
    let mut writers = Vec::new();
    for w in 0..8 {
        let a = Arc::clone(&a);
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..125 {
                let (status, body) = post(
                    &a.client,
                    &a.url("/message"),
                    &serde_json::json!({ "message": format!("a{w}-{i}") }),
                )
                .await;
                assert_eq!(status, 201);
                acked.push((body["seq"].as_u64().expect("the answer's seq"), "message"));
            }
            acked
        }));
        let b = Arc::clone(&b);
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..125 {
                let (payload, topic) = if i % 2 == 0 {
                    (crate::resume::message(&format!("b{w}-{i}")), "message")
                } else {
                    let reading = Temperature {
                        temperature: 20.0,
                        updated_at: format!("b{w}-{i}"),
                    };
                    (Payload::Temperature(reading), "temperature")
                };
                let event = b.state.hub.publish(payload).await.expect("B publishes");
                acked.push((event.id.unwrap(), topic));
            }
            acked
        }));
    }
    let mut published: Vec<(u64, &str)> = Vec::new();
    for writer in writers {
        published.extend(writer.await.unwrap());
    }
    published.sort_unstable();

    // Assert: 2,000 distinct ids, and the log holds every message and the newest readings of the window.
    assert_eq!(published.len(), 2000);
    assert!(
        published.windows(2).all(|w| w[0].0 < w[1].0),
        "every write got an id of its own"
    );
    let first = published[0].0;
    let log: Vec<(u64, String)> = redis
        .log()
        .into_iter()
        .filter(|(id, _)| *id >= first)
        .collect();
    let ids_of = |entries: &mut dyn Iterator<Item = (u64, &str)>, topic: &str| -> Vec<u64> {
        entries
            .filter(|(_, t)| *t == topic)
            .map(|(id, _)| id)
            .collect()
    };
    let published_messages = ids_of(&mut published.iter().copied(), "message");
    let published_readings = ids_of(&mut published.iter().copied(), "temperature");
    let log_entries = || log.iter().map(|(id, t)| (*id, t.as_str()));
    assert_eq!(ids_of(&mut log_entries(), "message"), published_messages);
    assert_eq!(
        ids_of(&mut log_entries(), "temperature"),
        published_readings[published_readings.len() - MAX_TEMPERATURES..],
        "the log keeps the window's readings"
    );

    // Assert: each subscriber saw exactly what was published, filtered by its topics, in id order.
    for reader in readers {
        let (path, ids) = reader.await.unwrap();
        let wanted: Vec<u64> = published
            .iter()
            .filter(|(_, topic)| *topic == "message" || path.contains("temperature"))
            .map(|(id, _)| *id)
            .collect();
        same_ids(path, &ids, &wanted);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_changes_from_two_instances_on_one_room_lose_nothing() {
    // Arrange: A flips the kitchen's lights, B its blinds, each 100 times, at once.
    let redis = Redis::start().await;
    let a = Arc::new(plain(&redis).await);
    let b = Arc::new(plain(&redis).await);
    // The demo home's entities were put in place at start: only what comes after counts.
    let before = a.state.hub.snapshot().seq.max(b.state.hub.snapshot().seq);
    let flips = |instance: Arc<TestApp>, device: &'static str, states: [&'static str; 2]| {
        tokio::spawn(async move {
            for i in 0..100 {
                let (status, body) = post(
                    &instance.client,
                    &instance.url(&format!("/api/rooms/kitchen/{device}")),
                    &serde_json::json!({ "state": states[i % 2] }),
                )
                .await;
                assert_eq!(status, 200, "{body}");
            }
        })
    };

    // Act
    let (lights, blinds) = (
        flips(Arc::clone(&a), "lights", ["on", "off"]),
        flips(Arc::clone(&b), "blinds", ["open", "closed"]),
    );
    lights.await.unwrap();
    blinds.await.unwrap();

    // Assert: every change is in the log as its device's entity event, all 200, each device's alternating as
    // it was set (none undid another's), and the final state has each writer's last word.
    let changes: Vec<(u64, serde_json::Value)> = redis
        .entries()
        .into_iter()
        .filter(|(id, name, _)| name == "entity" && *id > before)
        .map(|(id, _, data)| {
            (
                id,
                serde_json::from_str::<serde_json::Value>(&data).unwrap(),
            )
        })
        .filter(|(_, e)| e["id"] == "kitchen-lights" || e["id"] == "kitchen-blinds")
        .collect();
    assert_eq!(
        changes.len(),
        200,
        "every acknowledged change is in the log"
    );
    for device in ["kitchen-lights", "kitchen-blinds"] {
        let states: Vec<&str> = changes
            .iter()
            .filter(|(_, e)| e["id"] == device)
            .map(|(_, e)| e["state"].as_str().unwrap())
            .collect();
        assert_eq!(states.len(), 100, "{device}");
        assert!(
            states.windows(2).all(|w| w[0] != w[1]),
            "{device}: each change in order, none lost: {states:?}"
        );
    }
    let last = changes[199].0;
    for instance in [&a, &b] {
        eventually_kitchen(instance, last).await;
        let room = instance
            .state
            .hub
            .snapshot()
            .room_state(app::contract::Room::Kitchen)
            .unwrap();
        assert_eq!(
            room.devices[&app::contract::Device::Lights].to_string(),
            "off"
        );
        assert_eq!(
            room.devices[&app::contract::Device::Blinds].to_string(),
            "closed"
        );
    }
}

async fn eventually_kitchen(instance: &TestApp, id: u64) {
    crate::harness::eventually("the last change reaches every instance", || async {
        instance.state.hub.snapshot().seq >= id
    })
    .await;
}

/// Fails at the first difference, saying where (the lists are long).
pub fn same_ids(what: &str, got: &[u64], wanted: &[u64]) {
    if let Some(i) = got.iter().zip(wanted).position(|(g, w)| g != w) {
        panic!(
            "{what}: differs at index {i} of {} (wanted {}): got {:?}, wanted {:?}",
            got.len(),
            wanted.len(),
            &got[i.saturating_sub(2)..(i + 3).min(got.len())],
            &wanted[i.saturating_sub(2)..(i + 3).min(wanted.len())]
        );
    }
    assert_eq!(got.len(), wanted.len(), "{what}: as many as wanted");
}
