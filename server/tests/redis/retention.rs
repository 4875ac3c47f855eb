//! Retention: the log stays within its bound however much is published, and an instance started late reaches
//! the same state from the checkpoint and what follows it.

use crate::harness::{eventually, instance, Redis};
use crate::resume::message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_stays_bounded_and_a_late_instance_reaches_the_same_state() {
    // Arrange: a retention of 100 events.
    let redis = Redis::start();
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
            last = last.max(publish.await.expect("published").seq);
        }
    }

    // Assert: trimmed to the bound (retention runs once a second, behind the checkpoint).
    eventually("the log is trimmed to 100 entries", || async {
        redis.log().len() <= 100
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
    let redis = Redis::start();
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
            .seq;
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
