//! Resuming by `Last-Event-ID` (header or `?lastEventId=`): exactly the missed events, in order, no duplicate,
//! then live ones — and an explicit `reset` whenever the id cannot be honoured, never a silent skip.

use crate::helpers::{
    counted, json, message, publish, seq, spawn_app, spawn_default, SseStream, TestApp, WAIT,
};
use app::contract::{Payload, Room, Snapshot};
use server::event::Event;
use std::sync::Arc;

/// Reads `n` events and returns their `message` texts.
async fn read_messages(stream: &mut SseStream, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..n {
        let event = stream.next_event().await;
        assert_eq!(event.event, "message", "{event:?}");
        texts.push(json(&event)["message"].as_str().unwrap().to_owned());
    }
    texts
}

async fn missed_events_are_replayed_then_live_ones_follow(resume_by_query: bool) {
    // Arrange: a client reads two messages, then goes away.
    let app = spawn_default().await;
    let mut before = app.sse("/eventstream").await;
    app.post_message("one").await;
    app.post_message("two").await;
    assert_eq!(read_messages(&mut before, 2).await, ["one", "two"]);
    let last_id = before.parser().last_event_id().to_owned();
    drop(before);

    // Act: three messages while it is away; it comes back with its last id.
    for text in ["three", "four", "five"] {
        app.post_message(text).await;
    }
    let mut after = if resume_by_query {
        app.sse(&format!("/eventstream?lastEventId={last_id}"))
            .await
    } else {
        app.sse_from("/eventstream", Some(&last_id)).await
    };
    let replayed = read_messages(&mut after, 3).await;
    app.post_message("six").await;
    let live = read_messages(&mut after, 1).await;

    // Assert
    assert_eq!(
        replayed,
        ["three", "four", "five"],
        "exactly the missed events, in order"
    );
    assert_eq!(live, ["six"], "then live ones, with nothing replayed twice");
    assert_eq!(app.metric("hearth_replay_hits_total").await, 1);
    assert_eq!(app.metric("hearth_replay_resets_total").await, 0);
}

#[tokio::test]
async fn resuming_with_the_last_event_id_header_replays_exactly_what_was_missed() {
    missed_events_are_replayed_then_live_ones_follow(false).await;
}

#[tokio::test]
async fn resuming_with_the_last_event_id_query_parameter_replays_exactly_what_was_missed() {
    missed_events_are_replayed_then_live_ones_follow(true).await;
}

#[tokio::test]
async fn the_header_wins_over_the_query_parameter() {
    // Arrange: two resume points; the header (what a browser sends on its own reconnect) is the newer one.
    let app = spawn_default().await;
    let old = app.publish_message("old").await;
    let newer = app.publish_message("newer").await;
    app.publish_message("newest").await;

    // Act
    let path = format!("/eventstream?lastEventId={}", old.id.unwrap());
    let mut stream = app
        .sse_from(&path, Some(&newer.id.unwrap().to_string()))
        .await;

    // Assert
    assert_eq!(read_messages(&mut stream, 1).await, ["newest"]);
}

#[tokio::test]
async fn resuming_the_dashboard_stream_replays_instead_of_sending_a_snapshot() {
    // Arrange
    let app = spawn_default().await;
    let mut before = app.sse("/events?topics=entities,message").await;
    let snapshot = before.next_event().await;
    assert_eq!(snapshot.event, "snapshot");
    drop(before);

    // Act
    let message = app.publish_message("while away").await;
    let blinds = Room::Kitchen.entity(
        app::contract::Device::Blinds,
        app::contract::DeviceState::Open,
        "2026-01-01T00:00:00Z".into(),
    );
    let room = app.publish(Payload::Entity(blinds)).await;
    let mut after = app
        .sse_from("/events?topics=entities,message", Some(&snapshot.id))
        .await;

    // Assert
    let first = after.next_event().await;
    let second = after.next_event().await;
    assert_eq!(
        (first.event.as_str(), seq(&first)),
        ("message", message.id.unwrap()),
        "no snapshot on resume"
    );
    assert_eq!(
        (second.event.as_str(), seq(&second)),
        ("entity", room.id.unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_joining_during_a_publish_burst_see_no_gap_and_no_duplicate() {
    // Arrange: a publisher that keeps going while clients join; message ids count 0, 1, 2, ...
    const TOTAL: u64 = 1500;
    const JOIN_EVERY: u64 = 100;
    let app = spawn_default().await;
    let mut observer = app.sse("/eventstream").await;
    let state = app.state.clone();
    let publisher = tokio::spawn(async move {
        for k in 0..TOTAL {
            publish(&state, message(&format!("message {k}"))).await;
            if k % 5 == 4 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    });

    // Act: each time the observer sees message j·100, a new client joins from that message's id, by header
    // or by query parameter in turn, while publishing goes on.
    let mut joiners = Vec::new();
    let mut observed = Vec::new();
    while observed.last() != Some(&(TOTAL - 1)) {
        let event = observer.next_event().await;
        let k = counted(&event, "message ");
        observed.push(k);
        if k.is_multiple_of(JOIN_EVERY) && k + JOIN_EVERY < TOTAL {
            let sse = app.sse_client();
            let by_query = (k / JOIN_EVERY) % 2 == 1;
            let joined_at = seq(&event);
            joiners.push(tokio::spawn(async move {
                let mut stream = if by_query {
                    sse.open(&format!("/eventstream?lastEventId={}", event.id), None)
                        .await
                } else {
                    sse.open("/eventstream", Some(&event.id)).await
                };
                let mut seen = Vec::new();
                let mut ids = Vec::new();
                while seen.last() != Some(&(TOTAL - 1)) {
                    let got = stream.next_event().await;
                    seen.push(counted(&got, "message "));
                    ids.push(seq(&got));
                }
                (k, joined_at, seen, ids)
            }));
        }
    }
    tokio::time::timeout(WAIT, publisher)
        .await
        .unwrap()
        .unwrap();

    // Assert
    assert_eq!(
        observed,
        (0..TOTAL).collect::<Vec<_>>(),
        "the first client saw every message once"
    );
    assert!(joiners.len() >= 10, "enough clients joined mid-burst");
    for joiner in joiners {
        let (k, joined_at, seen, ids) = tokio::time::timeout(WAIT, joiner).await.unwrap().unwrap();
        assert_eq!(
            seen,
            (k + 1..TOTAL).collect::<Vec<_>>(),
            "a client joining after message {k} sees every later message once, in order"
        );
        assert!(ids.first().is_some_and(|first| *first > joined_at));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids strictly increase");
    }
}

/// Publishes messages m1..m6 (message ids 1..=6), returning their events.
async fn publish_six(app: &TestApp) -> Vec<Arc<Event>> {
    let mut published = Vec::new();
    for k in 1..=6 {
        published.push(app.publish_message(&format!("m{k}")).await);
    }
    published
}

/// Checks `event` is an explicit reset carrying a snapshot at least as new as `newest_seq`.
fn assert_reset(event: &sse::SseEvent, newest_seq: u64, why: &str) -> Snapshot {
    assert_eq!(
        event.event, "reset",
        "{why}: the first event must be an explicit reset, got {event:?}"
    );
    let snapshot: Snapshot = serde_json::from_str(&event.data).expect("reset data is a snapshot");
    assert!(
        snapshot.seq >= newest_seq,
        "{why}: the reset's snapshot is current"
    );
    assert_eq!(
        seq(event),
        snapshot.seq,
        "{why}: the reset's id is its snapshot's seq"
    );
    snapshot
}

#[tokio::test]
async fn unusable_ids_get_an_explicit_reset_never_a_silent_skip() {
    // Arrange: a replay buffer of 3, and six messages, so the first ones are no longer retained.
    let app = spawn_app(|f| {
        f.set("--replay-size", 3);
    })
    .await;
    let published = publish_six(&app).await;
    let newest = published.last().unwrap().id.unwrap();
    let cases = [
        (
            "an id older than the buffer",
            published[0].id.unwrap().to_string(),
        ),
        ("an id from the future", (newest + 1000).to_string()),
        ("a non-numeric id", "not-a-number".to_owned()),
    ];

    // Act + Assert: on the dashboard stream, each is answered with a reset holding the current state.
    // A message's id is its event's: the newest message is the newest event.
    let mut newest = newest;
    for (why, id) in &cases {
        let mut stream = app.sse_from("/events?topics=message", Some(id)).await;
        let snapshot = assert_reset(&stream.next_event().await, newest, why);
        assert_eq!(
            snapshot.messages.first().map(|m| m.id),
            Some(newest),
            "{why}: the snapshot has the newest message"
        );
        // The stream goes on live after the reset.
        let next = app.publish_message("after reset").await;
        newest = next.id.unwrap();
        let live = stream
            .wait_for("the live message after the reset", |e| e.event == "message")
            .await;
        assert_eq!(seq(&live), next.id.unwrap(), "{why}");
    }
    // A tutorial route says so too, rather than silently starting from now.
    let mut tutorial = app
        .sse_from("/eventstream", Some(&published[0].id.unwrap().to_string()))
        .await;
    assert_reset(&tutorial.next_event().await, newest, "on /eventstream");

    assert_eq!(
        app.metric("hearth_replay_resets_total").await,
        4,
        "/metrics counts every reset"
    );
}

#[tokio::test]
async fn the_oldest_retained_id_still_replays() {
    // Arrange: replay buffer of 3 holding m4, m5, m6.
    let app = spawn_app(|f| {
        f.set("--replay-size", 3);
    })
    .await;
    let published = publish_six(&app).await;

    // Act
    let mut just_in_time = app
        .sse_from("/eventstream", Some(&published[2].id.unwrap().to_string()))
        .await;
    let mut one_too_old = app
        .sse_from("/eventstream", Some(&published[1].id.unwrap().to_string()))
        .await;

    // Assert: after m3 everything is still retained; after m2, m3 is gone, so that one resets.
    assert_eq!(
        read_messages(&mut just_in_time, 3).await,
        ["m4", "m5", "m6"]
    );
    assert_eq!(one_too_old.next_event().await.event, "reset");
}

#[tokio::test]
async fn a_stream_of_live_only_topics_never_asks_the_hub_for_history() {
    // Arrange: history behind an old id (an id anyone can learn: every message carries one).
    let app = spawn_default().await;
    let first = app.post_message("history 0").await;
    for i in 1..5 {
        app.post_message(&format!("history {i}")).await;
    }
    let old_id = first["id"].as_u64().unwrap().to_string();
    let metrics = &app.state.metrics;
    let asked_before = metrics.replay_hits.get() + metrics.replay_resets.get();

    // Act: resume from it on every stream whose topics are all live-only.
    let mut viewers = app.sse_from("/live-users", Some(&old_id)).await;
    for path in ["/stream-random-numbers", "/events?topics=viewers,random"] {
        drop(app.sse_from(path, Some(&old_id)).await);
    }

    // Assert: neither a replay nor a reset; the viewer count is still sent first.
    let count = viewers.next_event().await;
    assert!(count.data.parse::<u64>().is_ok(), "{count:?}");
    let asked = metrics.replay_hits.get() + metrics.replay_resets.get() - asked_before;
    assert_eq!(asked, 0, "the hub was asked to resume a live-only stream");
}
