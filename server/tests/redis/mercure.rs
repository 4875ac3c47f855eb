//! The Mercure hub on several instances: an update published on one is delivered on the others, resumes there
//! by its generated id (from the log, however old) or its publisher's id (from the ring), survives every
//! instance going away, and subscriptions are listed and announced across instances.

use crate::harness::{
    eventually, instance, mercure_flags, publisher, query, subscriber, Redis, TestApp,
};
use serde_json::Value;

const BOOK: &str = "https://example.com/books/1";

async fn hub(redis: &Redis) -> TestApp {
    instance(redis, |f| {
        mercure_flags(f).set("--mercure-subscriptions", "true");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_published_on_a_is_delivered_on_b_and_resumes_there_by_either_id() {
    let redis = Redis::start().await;
    let a = hub(&redis).await;
    let b = hub(&redis).await;
    let mut live_on_b = b.mercure_subscribe(&query(&[BOOK], &[]), &[]).await;
    let token = publisher(&["*"]);
    let mut ids = Vec::new();
    for i in 0..6 {
        let data = format!("v{i}");
        let own = format!("urn:uuid:redis-{i}");
        let mut fields = vec![("topic", BOOK), ("data", data.as_str())];
        if i == 2 {
            fields.push(("id", own.as_str()));
        }
        ids.push(a.mercure_publish_ok(&token, &fields).await);
    }
    for id in &ids {
        assert_eq!(
            &live_on_b.next_event().await.id,
            id,
            "delivered on B, in order"
        );
    }
    for from in [ids[1].as_str(), ids[2].as_str()] {
        let mut resumed = b
            .mercure_subscribe(&query(&[BOOK], &[("lastEventID", from)]), &[])
            .await;
        let skip = ids.iter().position(|id| id == from).unwrap() + 1;
        for id in &ids[skip..] {
            assert_eq!(
                &resumed.next_event().await.id,
                id,
                "resuming on B from {from}"
            );
        }
    }
    // Every instance gone; a new one replays from the log.
    drop((a, b, live_on_b));
    let c = hub(&redis).await;
    let mut resumed = c
        .mercure_subscribe(&query(&[BOOK], &[("lastEventID", &ids[3])]), &[])
        .await;
    assert_eq!(resumed.next_event().await.id, ids[4]);
    assert_eq!(resumed.next_event().await.id, ids[5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_on_one_instance_are_announced_and_listed_on_the_other() {
    let redis = Redis::start().await;
    let a = hub(&redis).await;
    let b = hub(&redis).await;
    let events = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
    let watcher_token = subscriber(&[events]);
    let mut watcher = b
        .mercure_subscribe(&query(&[events], &[("authorization", &watcher_token)]), &[])
        .await;
    let on_a = a.mercure_subscribe(&query(&[BOOK], &[]), &[]).await;
    let arrived: Value = serde_json::from_str(&watcher.next_event().await.data).unwrap();
    assert_eq!(
        (arrived["topic"].as_str(), arrived["active"].as_bool()),
        (Some(BOOK), Some(true))
    );
    let id = arrived["id"].as_str().unwrap().to_owned();
    let listed_on_b = |present: bool| {
        let (b, id) = (&b, id.clone());
        async move {
            let list: Value = b
                .client
                .get(b.url("/.well-known/mercure/subscriptions"))
                .bearer_auth(&b.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list["subscriptions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == id.as_str())
                == present
        }
    };
    eventually("A's subscription is listed on B", || listed_on_b(true)).await;
    drop(on_a);
    let left: Value = serde_json::from_str(&watcher.next_event().await.data).unwrap();
    assert_eq!(
        (left["id"].as_str(), left["active"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    eventually("B's list forgets it", || listed_on_b(false)).await;
}
