//! The viewer count is the total over all instances, coalesced, and an instance that dies drops out of it.

use crate::harness::{instance, json, Flags, Redis, SseStream, TestApp, WAIT};
use std::sync::Arc;
use std::time::Duration;

/// Reads a dashboard stream until it shows `count` viewers (its snapshot or a `viewers` event); the number of
/// `viewers` events it read on the way.
pub async fn until_viewers(stream: &mut SseStream, count: u64) -> usize {
    let mut events = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = stream
            .next_event_or_end(left)
            .await
            .unwrap_or_else(|| panic!("the stream ended before it showed {count} viewers"));
        let shown = match event.event.as_str() {
            "snapshot" | "reset" => json(&event)["viewers"].as_u64(),
            "viewers" => {
                events += 1;
                json(&event).as_u64()
            }
            _ => None,
        };
        if shown == Some(count) {
            return events;
        }
    }
}

fn open_door(f: &mut Flags) {
    // Every test connection comes from 127.0.0.1: no per-address cap here.
    f.set("--max-connections-per-client", 0)
        .set("--max-streams-per-client", 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_on_two_instances_all_show_the_total_and_a_burst_is_coalesced() {
    // Arrange
    let redis = Redis::start().await;
    let a = Arc::new(instance(&redis, open_door).await);
    let b = Arc::new(instance(&redis, open_door).await);

    // Act: three dashboards on A, two on B.
    let mut dashboards = Vec::new();
    for instance in [&a, &a, &a, &b, &b] {
        dashboards.push(instance.sse("/events").await);
    }

    // Assert: every one shows 5.
    for dashboard in &mut dashboards {
        until_viewers(dashboard, 5).await;
    }

    // Act: 500 more viewers arrive on A at once.
    let burst: Vec<_> = (0..500)
        .map(|_| {
            let a = Arc::clone(&a);
            tokio::spawn(async move { a.sse("/live-users").await })
        })
        .collect();
    let mut held = Vec::new();
    for opening in burst {
        held.push(opening.await.unwrap());
    }

    // Assert: a dashboard on B reaches 505 in a handful of updates, not 500.
    let updates = until_viewers(&mut dashboards[4], 505).await;
    assert!(
        updates <= 30,
        "{updates} viewer updates for a burst of 500: not coalesced"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_stops_drops_out_of_the_total() {
    let redis = Redis::start().await;
    let a: TestApp = instance(&redis, open_door).await;
    let b: TestApp = instance(&redis, open_door).await;
    let _on_a = a.sse("/events").await;
    let _also_on_a = a.sse("/events").await;
    let mut on_b = b.sse("/events").await;
    until_viewers(&mut on_b, 3).await;

    // Act: A stops reporting (its tasks end; its streams are left open as a frozen process would).
    let started = tokio::time::Instant::now();
    a.state.shutdown.cancel();

    // Assert: within the time a count stands (3 s) and a heartbeat, B shows 1.
    until_viewers(&mut on_b, 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropped out after {:?}",
        started.elapsed()
    );
}
