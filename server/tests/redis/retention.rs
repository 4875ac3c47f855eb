//! Retention: the log stays within its bound however much is published, sensor readings keep a window of their
//! own outside that bound, and an instance started late reaches the same state from the checkpoint and what
//! follows it. What retention removed is never replayed around: a resume from before it is a `reset`, on every
//! instance; readings that left their window are not a gap (the window's newest are replayed).

use crate::harness::{eventually, instance, seq, starts_over, Flags, Redis, SseStream, TestApp};
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

/// Publishes `count` messages on `instance`, one after another; their ids.
async fn publish_messages(instance: &TestApp, prefix: &str, count: usize) -> Vec<u64> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let event = instance
            .state
            .hub
            .publish(message(&format!("{prefix}{i}")))
            .await;
        ids.push(event.expect("published").id.unwrap());
    }
    ids
}

/// The ids of the next `count` events on `stream` named one of `names`, failing on a `reset`.
async fn ids_of(stream: &mut SseStream, names: &[&str], count: usize) -> Vec<u64> {
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let event = stream.next_event().await;
        assert_ne!(event.event, "reset", "no reset, only what was missed");
        if names.contains(&event.event.as_str()) {
            ids.push(seq(&event));
        }
    }
    ids
}

/// Waits until `instance` has tailed up to `id`.
async fn tailed(instance: &TestApp, id: u64) {
    eventually("the instance has tailed the log", || async {
        instance.state.hub.snapshot().seq >= id
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_before_what_retention_removed_is_a_reset_on_every_instance() {
    // Arrange: a retention of 30 events and rings of 10, so resumes read the log.
    let redis = Redis::start().await;
    let short = |f: &mut Flags| {
        f.set("--replay-size", 10).set("--retain-events", 30);
    };
    let a = instance(&redis, short).await;
    let b = instance(&redis, short).await;

    // Act: a reading (its window keeps it), then 100 messages of which retention keeps the newest 30.
    let reading = publish_readings(&a, 1).await;
    let ids = publish_messages(&a, "m", 100).await;
    let kept = |redis: &Redis| -> Vec<u64> {
        redis
            .log()
            .into_iter()
            .filter(|(_, t)| t == "message")
            .map(|(id, _)| id)
            .collect()
    };
    eventually("70 of the messages are trimmed", || async {
        kept(&redis).len() == 30
    })
    .await;
    assert!(
        redis.log().iter().any(|(id, _)| *id == reading),
        "the reading is kept: the log has a hole after it"
    );
    // An instance started after the trim knows of it only from the broker.
    let c = instance(&redis, short).await;

    for instance in [&a, &b, &c] {
        tailed(instance, ids[99]).await;

        // Act + Assert: a resume from the reading, with 70 messages after it gone, is a reset, not the 30 that
        // are left.
        let id = reading.to_string();
        starts_over(
            instance,
            "/eventstream",
            &id,
            "a resume across trimmed messages",
        )
        .await;

        // Assert: a resume from after the hole replays exactly the rest.
        let mut after = instance
            .sse_from("/eventstream", Some(&ids[79].to_string()))
            .await;
        assert_eq!(ids_of(&mut after, &["message"], 20).await, ids[80..]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_across_readings_that_left_their_window_replays_the_window_without_a_reset() {
    // Arrange: a message, then more readings than their window keeps, then another message; a ring of 10, so
    // the resume reads the log.
    let redis = Redis::start().await;
    let a = instance(&redis, |f| {
        f.set("--replay-size", 10);
    })
    .await;
    let before = publish_messages(&a, "before", 1).await[0];
    publish_readings(&a, MAX_TEMPERATURES + 40).await;
    let after = publish_messages(&a, "after", 1).await[0];
    let window: Vec<u64> = redis
        .log()
        .into_iter()
        .filter(|(id, t)| t == "temperature" && *id > before)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(window.len(), MAX_TEMPERATURES, "the oldest 40 left the log");

    // Act: resume across the readings that left.
    let mut stream = a
        .sse_from(
            "/events?topics=message,temperature",
            Some(&before.to_string()),
        )
        .await;

    // Assert: no reset; the window's readings, then the message.
    let expected: Vec<u64> = window.iter().copied().chain([after]).collect();
    assert_eq!(
        ids_of(&mut stream, &["message", "temperature"], expected.len()).await,
        expected
    );
}
