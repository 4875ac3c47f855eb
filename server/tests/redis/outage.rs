//! The broker goes away: killed under load (writes refused quickly, nothing acknowledged lost, streams carry
//! on when it is back) or restarted empty (ids stay above every old one, old ids get a reset, and an instance
//! started then gets the state the others kept); or it stays but refuses writes (no reconnection storm).

use crate::harness::{eventually, message_texts, plain, seq, starts_over, Redis, TestApp, WAIT};
use crate::log::same_ids;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Posts messages until `stop`; the ids of those answered 201.
async fn keep_posting(
    instance: Arc<TestApp>,
    name: &'static str,
    stop: Arc<AtomicBool>,
) -> Vec<u64> {
    let mut acked = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (status, body) = instance.try_post_message(&format!("{name}{n}")).await;
        match status {
            201 => acked.push(body["seq"].as_u64().unwrap()),
            503 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("a write answered {other}: {body}"),
        }
    }
    acked
}

/// Follows `/eventstream` on `instance`, resuming with its last id whenever the stream ends, until `stop`.
async fn follow(instance: Arc<TestApp>, seen: Arc<Mutex<Vec<u64>>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let last = seen.lock().unwrap().last().map(u64::to_string);
        let mut stream = instance.sse_from("/eventstream", last.as_deref()).await;
        while !stop.load(Ordering::Relaxed) {
            match stream.next_event_or_end(WAIT).await {
                Some(event) if event.event == "message" => seen.lock().unwrap().push(seq(&event)),
                Some(event) => panic!("only messages on /eventstream, got {event:?}"),
                None => break,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_under_load_loses_nothing_acknowledged_and_streams_carry_on() {
    // Arrange: two instances, a follower on B, two writers on each instance.
    let mut redis = Redis::start().await;
    let a = Arc::new(plain(&redis).await);
    let b = Arc::new(plain(&redis).await);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop_following = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn(follow(
        Arc::clone(&b),
        Arc::clone(&seen),
        Arc::clone(&stop_following),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = [(&a, "a"), (&a, "a"), (&b, "b"), (&b, "b")]
        .into_iter()
        .map(|(instance, name)| {
            tokio::spawn(keep_posting(Arc::clone(instance), name, Arc::clone(&stop)))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Act: SIGKILL the broker mid-stream.
    redis.kill();
    let before_outage = redis_free_max(&seen);

    // Assert (during the outage): writes are refused quickly, health says why.
    let started = Instant::now();
    let (status, _) = a.try_post_message("during the outage").await;
    assert_eq!(status, 503, "a write while Redis is down is refused");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "and quickly: {:?}",
        started.elapsed()
    );
    eventually("/healthz reports the broker down", || async {
        let (status, body) = a.healthz().await;
        status == 503 && body["store"]["broker"]["connected"] == false
    })
    .await;

    // Act: the broker comes back on the same directory; writes are taken again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart().await;
    for instance in [&a, &b] {
        eventually("writes are accepted again", || async {
            instance.try_post_message("back").await.0 == 201
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }

    // Assert: every write answered 2xx is in the log; ids went on upward; the follower saw every message
    // from its first one on, once, in order, across the outage.
    let log: Vec<u64> = redis
        .log()
        .into_iter()
        .filter(|(_, t)| t == "message")
        .map(|(id, _)| id)
        .collect();
    let missing: Vec<&u64> = acked
        .iter()
        .filter(|id| log.binary_search(id).is_err())
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(acked.len() > 20, "the writers got going: {}", acked.len());
    assert!(
        log.windows(2).all(|w| w[0] < w[1]),
        "ids strictly increase across the outage"
    );
    assert!(*log.last().unwrap() > before_outage);
    let newest = *log.last().unwrap();
    eventually("the follower has everything", || async {
        seen.lock().unwrap().last().is_some_and(|l| *l >= newest)
    })
    .await;
    stop_following.store(true, Ordering::Relaxed);
    let seen = seen.lock().unwrap().clone();
    let from = log
        .iter()
        .position(|id| *id == seen[0])
        .expect("the follower's first id is in the log");
    same_ids("the follower", &seen, &log[from..]);
    follower.abort();
}

/// The newest id the follower has seen so far (0 for none).
fn redis_free_max(seen: &Mutex<Vec<u64>>) -> u64 {
    seen.lock().unwrap().last().copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restarted_empty_keeps_ids_above_the_old_and_resets_old_ids() {
    // Arrange: five messages, then the broker loses everything.
    let mut redis = Redis::start().await;
    let a = plain(&redis).await;
    let b = plain(&redis).await;
    let mut old = Vec::new();
    for i in 0..5 {
        let (status, body) = a.try_post_message(&format!("old{i}")).await;
        assert_eq!(status, 201);
        old.push(body["seq"].as_u64().unwrap());
    }
    eventually("B has them", || async {
        b.state.hub.snapshot().seq >= old[4]
    })
    .await;

    // Act
    redis.restart_empty().await;
    let deadline = Instant::now() + WAIT;
    let new = loop {
        let (status, body) = b.try_post_message("new").await;
        if status == 201 {
            break body["seq"].as_u64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "writes are accepted on the empty broker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Assert: the new id is above every old one; on both instances an old id gets a reset.
    assert!(new > old[4], "new id {new} is above the old {}", old[4]);
    for instance in [&a, &b] {
        eventually("the instance has the new event", || async {
            instance.state.hub.snapshot().seq >= new
        })
        .await;
        starts_over(
            instance,
            "/eventstream",
            &old[2].to_string(),
            "an id the broker lost",
        )
        .await;
        let mut fresh = instance.sse("/events?topics=message").await;
        let snapshot = fresh.next_event().await;
        assert_eq!(snapshot.event, "snapshot");
        assert!(
            seq(&snapshot) >= new,
            "a new client starts at or after the new id"
        );
    }
}

/// How many connections the broker has accepted since it started.
fn connections_received(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(conn).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total_connections_received in {info}"))
}

/// The connections the broker accepted during `window`, read on `conn` (one connection of the test's own).
async fn connections_during(conn: &mut redis::Connection, window: Duration) -> u64 {
    let before = connections_received(conn);
    tokio::time::sleep(window).await;
    connections_received(conn) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_refuses_writes_is_not_flooded_with_reconnections() {
    // Arrange: an instance following the broker, and a connection of the test's own to watch it with.
    let redis = Redis::start().await;
    let a = plain(&redis).await;
    let mut watch = redis.conn();
    let quiet = connections_during(&mut watch, Duration::from_secs(3)).await;

    // Act: the broker refuses writes for want of replicas (NOREPLICAS).
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(1)
        .query::<()>(&mut watch)
        .unwrap();
    let (status, _) = a.try_post_message("no replicas").await;
    let no_replicas = connections_during(&mut watch, Duration::from_secs(3)).await;

    // Act: the broker becomes a read-only replica of an empty one (READONLY, as after a failover).
    let empty = Redis::start().await;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(0)
        .query::<()>(&mut watch)
        .unwrap();
    redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(empty.port)
        .query::<()>(&mut watch)
        .unwrap();
    let read_only = connections_during(&mut watch, Duration::from_secs(3)).await;

    // Assert: writes were refused, and the instance reconnected at most a few times a second, as its backoff
    // allows, where a tight loop makes thousands of connections.
    assert_eq!(status, 503, "a write the broker refuses is refused");
    for (case, n) in [("refusing writes", no_replicas), ("read-only", read_only)] {
        assert!(
            n <= quiet + 15,
            "{case}: {n} connections in 3 s (quiet: {quiet})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_after_the_broker_lost_its_data_starts_from_the_state_not_an_empty_one()
{
    // Arrange: five messages on A; then the broker loses everything, and nothing changes afterwards.
    let mut redis = Redis::start().await;
    let a = plain(&redis).await;
    for i in 0..5 {
        a.post_message(&format!("kept{i}")).await;
    }
    let seq_on_a = a.state.hub.snapshot().seq;
    let checkpointed = |redis: &Redis| -> bool {
        let stored: Option<u64> = redis::cmd("HGET")
            .arg("{hearth}:checkpoint")
            .arg("seq")
            .query(&mut redis.conn())
            .unwrap();
        stored.is_some_and(|seq| seq >= seq_on_a)
    };
    eventually("A checkpoints its state", || async { checkpointed(&redis) }).await;
    redis.restart_empty().await;

    // Act: A puts its state back as the checkpoint; an instance starts from it.
    eventually("A writes its state to the empty broker", || async {
        checkpointed(&redis)
    })
    .await;
    let c = plain(&redis).await;

    // Assert: C has A's messages.
    assert_eq!(message_texts(&c), message_texts(&a));
    assert_eq!(message_texts(&c).len(), 5);
}
