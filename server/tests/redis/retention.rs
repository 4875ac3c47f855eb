//! Retention: the log stays within its bound however much is published, sensor readings keep a window of their
//! own outside that bound, and an instance started late reaches the same state from the checkpoint and what
//! follows it.

use crate::harness::{eventually, instance, Redis};
use crate::resume::message;
use app::contract::{Payload, Temperature, MAX_TEMPERATURES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_stays_bounded_and_a_late_instance_reaches_the_same_state() {
    // Arrange: a retention of 100 events.
    let redis = Redis::start().await;
    let short = |f: &mut crate::harness::Flags| {
        f.set("--replay-size", 50).set("--retain-events", 100);
    };
    let a = instance(&redis, short).await;

    // Act: ten times the retention, in bursts.
    let mut last = 0;
    for burst in 0..10 {
        let publishes: Vec<_> = (0..100)
            .map(|i| a.state.hub.publish(message(&format!("r{burst}-{i}"))))
            .collect();
        for publish in publishes {
            last = last.max(publish.await.expect("published").id.unwrap());
        }
    }

    // Assert: trimmed to the bound (retention runs once a second, behind the checkpoint). The sensor reading
    // each instance takes as it starts keeps its own window and is not counted.
    eventually("the log is trimmed to 100 entries", || async {
        redis
            .log()
            .iter()
            .filter(|(_, t)| t != "temperature")
            .count()
            <= 100
    })
    .await;
    assert_eq!(
        redis.log().last().map(|(id, _)| *id),
        Some(last),
        "the newest entries are kept"
    );

    // Act: a late instance starts from the checkpoint and the log after it.
    let c = instance(&redis, short).await;

    // Assert: it has A's state.
    eventually("C caught up", || async {
        let seq = c.state.hub.snapshot().seq;
        seq >= last && a.state.hub.snapshot().seq == seq
    })
    .await;
    let (mut on_a, mut on_c) = (a.state.hub.snapshot(), c.state.hub.snapshot());
    on_a.viewers = 0;
    on_c.viewers = 0;
    assert_eq!(on_c, on_a, "the late instance reaches the same state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_past_their_age_go_but_never_the_checkpoint_or_what_follows_it() {
    // Arrange: no age is young enough (0 hours), but plenty of room by count.
    let redis = Redis::start().await;
    let a = instance(&redis, |f| {
        f.set("--retain-events", 100_000).set("--retain-hours", 0);
    })
    .await;

    // Act
    let mut last = 0;
    for i in 0..50 {
        last = a
            .state
            .hub
            .publish(message(&format!("old{i}")))
            .await
            .expect("published")
            .id
            .unwrap();
    }

    // Assert: everything before the checkpoint goes; the checkpoint's own entry stays.
    eventually("the old entries are trimmed by age", || async {
        redis.log().iter().all(|(id, _)| *id >= last)
    })
    .await;
    assert!(
        redis.log().iter().any(|(id, _)| *id == last),
        "the checkpoint's entry is kept"
    );
}

/// Publishes `count` temperature readings, a hundred at a time; returns the newest one's id.
async fn publish_readings(instance: &crate::harness::TestApp, count: usize) -> u64 {
    let mut newest = 0;
    for start in (0..count).step_by(100) {
        let publishes: Vec<_> = (start..count.min(start + 100))
            .map(|i| {
                instance
                    .state
                    .hub
                    .publish(Payload::Temperature(Temperature {
                        temperature: 20.0 + (i % 10) as f64 / 10.0,
                        updated_at: format!("reading {i}"),
                    }))
            })
            .collect();
        for publish in publishes {
            newest = newest.max(publish.await.expect("published").id.unwrap());
        }
    }
    newest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensor_readings_keep_their_window_and_never_push_messages_out_of_retention() {
    // Arrange: a retention of 100 events (the ring is smaller: retention never goes below it), and 60
    // messages in it.
    let redis = Redis::start().await;
    let short = |f: &mut crate::harness::Flags| {
        f.set("--replay-size", 50).set("--retain-events", 100);
    };
    let a = instance(&redis, short).await;
    let mut messages = Vec::new();
    for i in 0..60 {
        let posted = a.state.hub.publish(message(&format!("early{i}"))).await;
        messages.push(posted.expect("published").id.unwrap());
    }

    // Act: far more readings than the retention and the window hold, then 60 more messages (120 in all, 20
    // over the retention).
    let newest_reading = publish_readings(&a, MAX_TEMPERATURES + 500).await;
    for i in 0..60 {
        let posted = a.state.hub.publish(message(&format!("late{i}"))).await;
        messages.push(posted.expect("published").id.unwrap());
    }

    // Assert: the log keeps exactly the newest readings of the window, and the retention counts messages only:
    // the 20 oldest messages go, the other 100 stay.
    let of = |topic: &str| -> Vec<u64> {
        redis
            .log()
            .into_iter()
            .filter(|(_, t)| t == topic)
            .map(|(id, _)| id)
            .collect()
    };
    eventually("the 20 oldest messages are trimmed", || async {
        of("message").len() == 100
    })
    .await;
    assert_eq!(
        of("message"),
        messages[20..],
        "the newest 100 messages are kept"
    );
    let readings = of("temperature");
    assert_eq!(
        readings.len(),
        MAX_TEMPERATURES,
        "the window's readings are kept"
    );
    assert_eq!(
        readings.last(),
        Some(&newest_reading),
        "the newest reading is kept"
    );

    // Assert: an instance started now reaches the same state, the chart's window included.
    let late = instance(&redis, short).await;
    let last = *messages.last().expect("posted");
    eventually("the late instance caught up", || async {
        let seq = late.state.hub.snapshot().seq;
        seq >= last && a.state.hub.snapshot().seq == seq
    })
    .await;
    let (on_a, on_late) = (a.state.hub.snapshot(), late.state.hub.snapshot());
    assert_eq!(on_late.temperatures, on_a.temperatures);
    assert_eq!(on_late.temperatures.len(), MAX_TEMPERATURES);
}
