//! Resume across instances: what a client read on one instance continues exactly on another; ids no instance
//! can honour get a `reset` on every instance; a resume reads a bounded part of the log, and one from further
//! back is a `reset`.

use crate::harness::{instance, plain, seq, starts_over, Redis, Relay, SseStream, TestApp};
use app::contract::{Device, DeviceState, Message, Payload, Room};
use std::time::Duration;

/// A message payload with this text.
pub fn message(text: &str) -> Payload {
    Payload::Message(Message {
        id: 0,
        title: "test".into(),
        message: text.into(),
        timestamp: "2026-01-01T00:00:00.000Z".into(),
    })
}

/// Posts `n` messages on `instance`; their ids.
pub async fn post_messages(instance: &TestApp, prefix: &str, n: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (status, body) = instance.try_post_message(&format!("{prefix}{i}")).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["seq"].as_u64().unwrap());
    }
    ids
}

/// Reads `count` message ids from `stream`, failing on anything else (a `reset` above all).
async fn messages(stream: &mut SseStream, count: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    while ids.len() < count {
        let event = stream.next_event().await;
        assert_eq!(
            event.event, "message",
            "only the missed messages, no {event:?}"
        );
        ids.push(seq(&event));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_read_up_to_x_on_a_gets_exactly_the_rest_on_b() {
    // Arrange: 20 messages on A; a client read the first 10 of them on A.
    let redis = Redis::start().await;
    let a = plain(&redis).await;
    let b = plain(&redis).await;
    let mut on_a = a.sse("/eventstream").await;
    let ids = post_messages(&a, "m", 20).await;
    assert_eq!(messages(&mut on_a, 10).await, ids[..10]);
    drop(on_a);
    let x = ids[9].to_string();

    // Act: reconnect to B with X, as the header and as the query parameter.
    let mut by_header = b.sse_from("/eventstream", Some(&x)).await;
    let mut by_query = b.sse(&format!("/eventstream?lastEventId={x}")).await;

    // Assert
    assert_eq!(messages(&mut by_header, 10).await, ids[10..]);
    assert_eq!(messages(&mut by_query, 10).await, ids[10..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_to_b_the_instant_a_acknowledged_a_write_is_no_reset() {
    // B sees the broker 50 ms late, so it has not tailed what A just acknowledged when the client arrives.
    let redis = Redis::start().await;
    let a = plain(&redis).await;
    let slow = Relay::to(&redis, Duration::from_millis(50)).await;
    let b = instance(&redis, |f| {
        f.set("--redis-url", slow.url());
    })
    .await;
    for i in 0..10 {
        // Arrange: A has just answered this write; B may not have it yet.
        let x = post_messages(&a, &format!("instant{i}-"), 1).await[0];

        // Act: resume on B from it at once, then one more write.
        let mut on_b = b.sse_from("/eventstream", Some(&x.to_string())).await;
        let next = post_messages(&a, &format!("next{i}-"), 1).await[0];

        // Assert: exactly the next one, no reset.
        assert_eq!(messages(&mut on_b, 1).await, vec![next], "round {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_older_than_the_ring_is_read_from_the_log_and_stitched_to_the_ring() {
    // Arrange: B keeps only 10 events in its ring; 60 messages go through A.
    let redis = Redis::start().await;
    let a = plain(&redis).await;
    let b = instance(&redis, |f| {
        f.set("--replay-size", 10);
    })
    .await;
    let ids = post_messages(&a, "old", 60).await;
    crate::harness::eventually("B has tailed the 60", || async {
        b.state.hub.snapshot().seq >= ids[59]
    })
    .await;

    // Act: resume on B from the 5th, 50 events behind its ring.
    let mut on_b = b.sse_from("/eventstream", Some(&ids[4].to_string())).await;
    let later = post_messages(&a, "live", 3).await;

    // Assert: the 55 from the log and the ring, then the live ones, each once.
    let expected: Vec<u64> = ids[5..].iter().chain(&later).copied().collect();
    assert_eq!(messages(&mut on_b, expected.len()).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_no_instance_can_honour_get_a_reset_on_every_instance() {
    // Arrange: a short retention (10 events) so the first ids are trimmed, on both instances.
    let redis = Redis::start().await;
    let short = |f: &mut crate::harness::Flags| {
        f.set("--replay-size", 10).set("--retain-events", 10);
    };
    let a = instance(&redis, short).await;
    let b = instance(&redis, short).await;
    let first = post_messages(&a, "early", 1).await[0];
    tokio::time::sleep(Duration::from_millis(5)).await;
    let ids = post_messages(&a, "late", 40).await;
    let newest = *ids.last().unwrap();
    crate::harness::eventually("the first id is trimmed from the log", || async {
        redis.log().iter().all(|(id, _)| *id != first)
    })
    .await;
    let missing = first + 1;
    assert!(
        missing < ids[0],
        "the clock made the ids jump, so {missing} was never an id"
    );

    for instance in [&a, &b] {
        crate::harness::eventually("the instance has tailed everything", || async {
            instance.state.hub.snapshot().seq >= newest
        })
        .await;
        for (case, id) in [
            ("trimmed", first.to_string()),
            ("garbage", "not-an-id".to_owned()),
            ("from the future", (newest + 1_000_000).to_string()),
            ("never in the log", missing.to_string()),
        ] {
            // Act + Assert
            starts_over(instance, "/events?topics=message", &id, case).await;
        }
    }
}

/// How many `XRANGE` commands the broker has run (scripts' included).
fn xrange_calls(redis: &Redis) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis.conn())
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_xrange:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_further_back_than_a_replay_reaches_is_a_reset_without_reading_the_log() {
    // Arrange: a message, then 1,200 events of another topic; a ring of 10, so the resume would read the log.
    let redis = Redis::start().await;
    let a = instance(&redis, |f| {
        f.set("--replay-size", 10);
    })
    .await;
    let old = post_messages(&a, "old", 1).await[0];
    let mut newest = 0;
    for burst in 0..12 {
        let publishes: Vec<_> = (0..100)
            .map(|i| {
                let state = if (burst + i) % 2 == 0 {
                    DeviceState::On
                } else {
                    DeviceState::Off
                };
                let entity = Room::Kitchen.entity(Device::Lights, state, format!("t{burst}-{i}"));
                a.state.hub.publish(Payload::Entity(entity))
            })
            .collect();
        for publish in publishes {
            newest = newest.max(publish.await.expect("published").id.unwrap());
        }
    }
    crate::harness::eventually("A has tailed them", || async {
        a.state.hub.snapshot().seq >= newest
    })
    .await;
    let reads_before = xrange_calls(&redis);

    // Act: resume the message stream from before them all.
    let mut stream = a.sse_from("/eventstream", Some(&old.to_string())).await;
    post_messages(&a, "new", 1).await;
    let first = stream.next_event().await;

    // Assert: a reset, after a read or two, not a scan of everything in between.
    assert_eq!(first.event, "reset", "{first:?}");
    let reads = xrange_calls(&redis) - reads_before;
    assert!(reads <= 5, "{reads} XRANGE calls for one resume");
}
