//! SIGKILL an instance: its clients resume on another with nothing lost, the viewer count drops, and the
//! simulator and unfinished jobs move to a survivor (one temperature reading per period, not two). Fail the
//! broker over to a replica that missed its last entries: every instance comes to the replica's history, and
//! clients that saw what was lost are reset.

use crate::harness::{
    binary, eventually, instance, json, message_texts, plain, post, seq, starts_over, Redis, Relay,
    SseStream, WAIT,
};
use crate::resume::post_messages;
use crate::viewers::until_viewers;
use std::time::Duration;

const PERIOD_MS: u64 = 300;

/// Counts the temperature readings `stream` receives during `window`.
async fn readings(stream: &mut SseStream, window: Duration) -> usize {
    let end = tokio::time::Instant::now() + window;
    let mut n = 0;
    while tokio::time::Instant::now() < end {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, stream.next_event_or_end(WAIT)).await {
            Ok(Some(event)) if event.event == "temperature" => n += 1,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended"),
            Err(_) => break,
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_moves_its_clients_viewers_simulator_and_jobs_to_another() {
    // Arrange: A starts first (so it runs the sensor), then B; dashboards on both; a job running on A.
    let redis = Redis::start().await;
    let env = [
        ("HEARTH_TEMPERATURE_MS", "300"),
        ("HEARTH_MAX_CONNECTIONS_PER_CLIENT", "0"),
        ("HEARTH_MAX_STREAMS_PER_CLIENT", "0"),
    ];
    let mut a = binary(&redis, &env).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = binary(&redis, &env).await;
    let client = reqwest::Client::new();
    let mut reader_on_a = SseStream::open(&client, &a.url("/eventstream"), None).await;
    let _viewer_on_a = SseStream::open(&client, &a.url("/events"), None).await;
    let mut dashboard_on_b = SseStream::open(&client, &b.url("/events"), None).await;
    until_viewers(&mut dashboard_on_b, 2).await;
    let mut sensor = SseStream::open(&client, &b.url("/events?topics=temperature"), None).await;
    let both = readings(&mut sensor, Duration::from_millis(3000)).await;
    let (status, job) = post(&client, &a.url("/api/jobs"), &serde_json::json!({})).await;
    assert_eq!(status, 202, "{job}");
    let job = job["id"].as_str().unwrap().to_owned();
    let mut sent = Vec::new();
    for i in 0..5 {
        let (status, body) = post(
            &client,
            &a.url("/message"),
            &serde_json::json!({ "message": format!("a{i}") }),
        )
        .await;
        assert_eq!(status, 201);
        sent.push(body["seq"].as_u64().unwrap());
    }
    let mut read = Vec::new();
    while read.len() < 3 {
        read.push(seq(&reader_on_a.next_event().await));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Act: SIGKILL A; meanwhile more messages go through B.
    a.kill();
    let killed = tokio::time::Instant::now();
    for i in 0..3 {
        let (status, body) = post(
            &client,
            &b.url("/message"),
            &serde_json::json!({ "message": format!("b{i}") }),
        )
        .await;
        assert_eq!(status, 201);
        sent.push(body["seq"].as_u64().unwrap());
    }

    // Assert: the client resumes on B from its last id and gets exactly the rest.
    let mut resumed =
        SseStream::open(&client, &b.url("/eventstream"), Some(&read[2].to_string())).await;
    while read.len() < sent.len() {
        let event = resumed.next_event().await;
        assert_eq!(event.event, "message", "{event:?}");
        read.push(seq(&event));
    }
    assert_eq!(read, sent, "nothing lost, nothing twice");

    // Assert: A's viewer drops out of the total (3: one on A, the dashboard and the sensor's stream on B)
    // within the time a count stands.
    until_viewers(&mut dashboard_on_b, 2).await;
    assert!(
        killed.elapsed() < Duration::from_secs(6),
        "the count dropped after {:?}",
        killed.elapsed()
    );

    // Assert: the job finishes on B, each step once, in order.
    let mut job_stream =
        SseStream::open(&client, &b.url(&format!("/api/jobs/{job}/events")), None).await;
    let mut steps = Vec::new();
    loop {
        let event = job_stream.next_event().await;
        steps.push(json(&event)["progress"].as_u64().unwrap());
        if event.event == "done" {
            break;
        }
    }
    let progress: Vec<u64> = redis
        .entries()
        .into_iter()
        .filter(|(_, topic, data)| topic == "job" && data.contains(&job))
        .map(|(_, _, data)| {
            serde_json::from_str::<serde_json::Value>(&data).unwrap()["progress"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "each step once, in order: {progress:?}"
    );
    assert_eq!(progress.last(), Some(&100));

    // Assert: the sensor moved to B: readings continue, one per period, as they were with both alive.
    let _ = readings(&mut sensor, Duration::from_millis(300)).await;
    let alone = readings(&mut sensor, Duration::from_millis(3000)).await;
    let per_window = (3000 / PERIOD_MS) as usize;
    for (when, n) in [("with both instances", both), ("after the takeover", alone)] {
        assert!(
            n + 3 >= per_window && n <= per_window + 2,
            "{when}: {n} readings in 3 s at one per {PERIOD_MS} ms (two sensors would make ~{})",
            per_window * 2
        );
    }
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_that_lost_entries_brings_every_instance_to_the_new_history_and_resets_clients()
{
    // Arrange: a primary and its replica; A reaches the primary through a relay (the address a failover moves).
    let mut primary = Redis::start().await;
    let replica = Redis::start_with(&["--replicaof", "127.0.0.1", &primary.port.to_string()]).await;
    let relay = Relay::to(&primary, Duration::ZERO).await;
    let a = instance(&primary, |f| {
        f.set("--redis-url", relay.url());
    })
    .await;
    let shared = post_messages(&a, "shared", 3).await;
    eventually("the replica has every shared message", || async {
        replica.log().iter().any(|(id, _)| *id == shared[2])
    })
    .await;

    // Arrange: the replica stops following (what the primary takes from now on is lost when it fails over);
    // A's clock runs ten minutes ahead of B's, and A takes three writes the replica never gets.
    redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query::<()>(&mut replica.conn())
        .unwrap();
    let ahead = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
        + 600_000_000;
    redis::cmd("HSET")
        .arg("{hearth}:meta")
        .arg("last")
        .arg(ahead)
        .query::<()>(&mut primary.conn())
        .unwrap();
    let mut reader = a.sse("/events?topics=message").await;
    assert_eq!(reader.next_event().await.event, "snapshot");
    let lost = post_messages(&a, "lost", 3).await;
    for id in &lost {
        assert_eq!(seq(&reader.next_event().await), *id, "the reader saw it");
    }
    // B works on the replica, which never saw them.
    let b = plain(&replica).await;

    // Act: the primary dies and the replica takes its address; B takes writes (its ids are below A's).
    primary.kill();
    relay.switch_to(&replica);
    let after = post_messages(&b, "after", 3).await;
    assert!(after[2] < lost[0], "B's ids are below what A saw");

    // Assert: A comes to the replica's history: B's writes are there, the lost ones are not.
    eventually("A has B's writes", || async {
        let texts = message_texts(&a);
        (0..3).all(|i| texts.contains(&format!("after{i}")))
    })
    .await;
    assert_eq!(message_texts(&a), message_texts(&b), "A's state is B's");

    // Assert: A's reader, who saw the lost writes, is let go, and its id gets a reset on every instance.
    assert!(
        reader
            .next_event_or_end(WAIT)
            .await
            .is_none_or(|e| e.event == "reset"),
        "the reader's stream ends (or resets)"
    );
    for instance in [&a, &b] {
        let id = lost[2].to_string();
        starts_over(
            instance,
            "/events?topics=message",
            &id,
            "an id of the lost history",
        )
        .await;
    }
}
