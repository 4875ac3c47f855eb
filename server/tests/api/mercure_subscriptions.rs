//! The protocol's active subscriptions: "the hub MUST publish an update every time a subscription is created or
//! terminated" on `/.well-known/mercure/subscriptions/{topic}/{subscriber}`, "marked as private", and the web
//! API listing them as JSON-LD.

use crate::helpers::*;
use serde_json::{json, Value};

const EVENTS: &str = "/.well-known/mercure/subscriptions/{topic}/{subscriber}";
const API: &str = "/.well-known/mercure/subscriptions{/topic}{/subscriber}";

async fn hub() -> TestApp {
    spawn_app(|f| {
        mercure_flags(f).set("--mercure-subscriptions", "true");
    })
    .await
}

async fn api(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

#[tokio::test]
async fn a_subscription_is_announced_privately_listed_and_announced_again_when_it_ends() {
    let app = hub().await;
    // Before the watcher: its own arrival is announced before the watcher is there to see it.
    let mut anonymous = app
        .mercure_subscribe(&query(&[EVENTS, "fence"], &[]), &[])
        .await;
    let watcher_token = subscriber(&[EVENTS]);
    let mut watcher = app
        .mercure_subscribe(&query(&[EVENTS], &[("authorization", &watcher_token)]), &[])
        .await;
    let book = "https://example.com/books/{id}";
    let subscriber_token = token(json!({"mercure": {"subscribe": [], "payload": {"user": "ann"}}}));
    let ann = app
        .mercure_subscribe(
            &query(&[book], &[("authorization", &subscriber_token)]),
            &[],
        )
        .await;

    let arrived = watcher.next_event().await;
    let doc = json(&arrived);
    assert_eq!(doc["@context"], "https://mercure.rocks/");
    assert_eq!(doc["type"], "Subscription");
    assert_eq!(doc["topic"], book);
    assert_eq!(doc["active"], true);
    assert_eq!(doc["payload"]["user"], "ann");
    let id = doc["id"].as_str().unwrap().to_owned();
    assert!(
        id.starts_with("/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F%7Bid%7D/urn%3Auuid%3A"),
        "{id}"
    );
    let subscriber_id = doc["subscriber"].as_str().unwrap().to_owned();

    // The web API: "MUST set the Content-Type HTTP header to application/ld+json".
    let reader = subscriber(&[API]);
    let (status, content_type, list) =
        api(&app, "/.well-known/mercure/subscriptions", Some(&reader)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/ld+json")
    );
    assert_eq!(list["type"], "Subscriptions");
    assert_eq!(list["id"], "/.well-known/mercure/subscriptions");
    assert!(list["lastEventID"]
        .as_str()
        .unwrap()
        .starts_with("urn:hearth:"));
    let listed: Vec<&Value> = list["subscriptions"].as_array().unwrap().iter().collect();
    assert!(listed.iter().any(|s| s["id"] == id.as_str()), "{list}");
    let (status, _, one) = api(&app, &id, Some(&reader)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (one["subscriber"].as_str(), one["active"].as_bool()),
        (Some(subscriber_id.as_str()), Some(true))
    );
    assert!(one["lastEventID"].is_string());
    let topic_path = id.rsplit_once('/').unwrap().0.to_owned();
    let (_, _, for_topic) = api(&app, &topic_path, Some(&reader)).await;
    assert_eq!(for_topic["subscriptions"].as_array().unwrap().len(), 1);

    // Who may read it: "clients MUST be authorized"; "The requested URL MUST match at least one of the topic
    // selectors provided in the mercure.subscribe key".
    assert_eq!(
        api(&app, "/.well-known/mercure/subscriptions", None)
            .await
            .0,
        401
    );
    let narrow = subscriber(&["https://example.com/{x}"]);
    assert_eq!(
        api(&app, "/.well-known/mercure/subscriptions", Some(&narrow))
            .await
            .0,
        403
    );
    assert_eq!(
        api(
            &app,
            "/.well-known/mercure/subscriptions/nope/urn%3Auuid%3Ax",
            Some(&reader)
        )
        .await
        .0,
        404,
        "\"If the requested subscription does not exist, a 404 status code MUST be returned\""
    );

    drop(ann);
    let left = json(&watcher.next_event().await);
    assert_eq!(
        (left["id"].as_str(), left["active"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    eventually("the list forgets the subscription", || async {
        let (_, _, list) = api(&app, "/.well-known/mercure/subscriptions", Some(&reader)).await;
        !list["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == id.as_str())
    })
    .await;

    // The announcements are private: a subscriber without the claim never sees them.
    let publisher = publisher(&["*"]);
    app.mercure_publish_ok(&publisher, &[("topic", "fence"), ("data", "fence")])
        .await;
    assert_eq!(anonymous.next_event().await.data, "fence");
}

#[tokio::test]
async fn the_subscriptions_api_is_off_unless_asked_for() {
    let app = spawn_app(|f| {
        mercure_flags(f);
    })
    .await;
    let (status, _, body) = api(&app, "/.well-known/mercure/subscriptions", Some(&app.token)).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("--mercure-subscriptions"),
        "{body}"
    );
}
