//! Crash test: publish continuously, SIGKILL the real server binary mid-stream, restart it on the same data
//! directory. Every write that was answered 2xx must be there, ids must continue, and a client resuming with its
//! last id must see no gap and no duplicate.

// Test code: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ServerProcess, SseStream, TOKEN, WAIT};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reads `/eventstream` (resuming from `last_id` if given) into `seen` as (event id, message id) until the
/// connection dies or `until` passes.
async fn follow(
    url: String,
    last_id: Option<String>,
    seen: Arc<Mutex<Vec<(u64, u64)>>>,
    until: Instant,
) {
    let client = reqwest::Client::new();
    let mut stream =
        SseStream::open(&client, &format!("{url}/eventstream"), last_id.as_deref()).await;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(Some(event)) = tokio::time::timeout(left, stream.next_event_or_end(WAIT)).await
        else {
            return;
        };
        if event.event != "message" {
            continue;
        }
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        let id = event.id.parse().unwrap();
        seen.lock()
            .unwrap()
            .push((id, data["id"].as_u64().unwrap()));
    }
}

/// Posts messages as fast as it can until told to stop; records the ids of those answered 201.
async fn publish(
    url: String,
    acked: Arc<Mutex<Vec<u64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = reqwest::Client::new();
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let res = client
            .post(format!("{url}/message"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "message": format!("crash test {n}") }))
            .send()
            .await;
        match res {
            Ok(res) if res.status() == 201 => {
                let body: serde_json::Value = res.json().await.unwrap();
                acked.lock().unwrap().push(body["id"].as_u64().unwrap());
            }
            // The server died under us: whatever was not answered 2xx promised nothing.
            _ => return,
        }
    }
}

fn stored_message_ids(dir: &Path) -> Vec<u64> {
    let store = server::store::Store::open(dir).unwrap();
    store
        .messages()
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_across_sigkill_and_resume_has_no_gap() {
    // Arrange: a server, a follower, and four publishers hammering it.
    let mut server = ServerProcess::start(&[]).await;
    let url = server.url("");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let follower = tokio::spawn(follow(
        url.clone(),
        None,
        seen.clone(),
        Instant::now() + Duration::from_secs(30),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(publish(url.clone(), acked.clone(), stop.clone())))
        .collect();

    // Act: kill -9 mid-stream, then restart on the same data directory and port.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for p in publishers {
        p.await.unwrap();
    }
    follower.await.unwrap();
    let before: Vec<(u64, u64)> = seen.lock().unwrap().clone();
    let acked: Vec<u64> = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the publishers got going ({} acked)",
        acked.len()
    );
    let last_seen = before.last().map(|(id, _)| id.to_string());

    server.restart().await;
    let after = Arc::new(Mutex::new(Vec::new()));
    let resumed = tokio::spawn(follow(
        url.clone(),
        last_seen,
        after.clone(),
        Instant::now() + Duration::from_secs(3),
    ));
    // A write after the restart: its id must come after everything before the crash.
    let res = reqwest::Client::new()
        .post(format!("{url}/message"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "message": "after the crash" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let new_id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    resumed.await.unwrap();
    server.kill();

    // Assert: every acknowledged write is stored.
    let stored = stored_message_ids(&server.data_dir());
    let stored_set: HashSet<u64> = stored.iter().copied().collect();
    let missing: Vec<u64> = acked
        .iter()
        .filter(|id| !stored_set.contains(id))
        .copied()
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // The follower's view across the crash: strictly increasing event ids, each stored message exactly once.
    let after: Vec<(u64, u64)> = after.lock().unwrap().clone();
    let all: Vec<(u64, u64)> = before.iter().chain(after.iter()).copied().collect();
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "event ids strictly increase, no duplicate"
    );
    let received: Vec<u64> = all.iter().map(|(_, m)| *m).collect();
    assert_eq!(
        received, stored,
        "the resumed client saw every stored message once, in order, no gap"
    );
    assert_eq!(
        received.last(),
        Some(&new_id),
        "the write after the restart arrives live"
    );
}
