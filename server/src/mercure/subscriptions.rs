//! Active subscriptions (the protocol's optional part): which subscriber holds which selector, listed at
//! `/.well-known/mercure/subscriptions`, and announced by a private update on
//! `/.well-known/mercure/subscriptions/{topic}/{subscriber}` when one starts (`active: true`) and ends.
//!
//! Each instance keeps its own subscriptions. Alone, that is the list. With several instances on Redis each one
//! writes its list there on every change and on a heartbeat, standing for a few seconds unless written again
//! (as the viewer count is kept): the list is every live instance's, and an instance that dies drops out within
//! [`STANDS_FOR`]. The announcements are ordinary updates through the hub, so every instance's subscribers get
//! them, and a subscriber that resumes gets the ones it missed.

use crate::hub::{HubError, RedisShared};
use app::contract::MercureUpdate;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The JSON-LD context the protocol fixes.
pub const CONTEXT: &str = "https://mercure.rocks/";
/// Where subscriptions are listed, and the prefix of their topics.
pub const PATH: &str = "/.well-known/mercure/subscriptions";
/// How often an instance among several writes its list when nothing changes.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a written list stands: an instance that died drops out within this.
pub const STANDS_FOR: Duration = Duration::from_secs(3);

/// One subscription: a subscriber and one of its selectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// `/.well-known/mercure/subscriptions/{topic}/{subscriber}`, both percent-encoded.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The selector.
    pub topic: String,
    pub subscriber: String,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// Encodes a path segment as the reference hub does (a query-string escape: `+` for a space).
pub fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Decodes a path segment [`encode`] made (or any percent-encoding of it).
pub fn decode(segment: &str) -> Option<String> {
    let spaced = segment.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

impl Subscription {
    pub fn new(topic: &str, subscriber: &str, payload: Option<serde_json::Value>) -> Self {
        Subscription {
            id: format!("{PATH}/{}/{}", encode(topic), encode(subscriber)),
            kind: "Subscription".to_owned(),
            topic: topic.to_owned(),
            subscriber: subscriber.to_owned(),
            active: true,
            payload,
        }
    }

    /// The private update that announces this subscription starting (`active`) or ending.
    pub fn announcement(&self, active: bool) -> MercureUpdate {
        #[derive(Serialize)]
        struct Document<'a> {
            #[serde(rename = "@context")]
            context: &'static str,
            #[serde(flatten)]
            subscription: &'a Subscription,
        }
        let subscription = Subscription {
            active,
            ..self.clone()
        };
        let data = serde_json::to_string(&Document {
            context: CONTEXT,
            subscription: &subscription,
        })
        .unwrap_or_default();
        MercureUpdate {
            topics: vec![self.id.clone()],
            data,
            private: true,
            id: None,
            event_type: None,
            retry: None,
        }
    }
}

/// A fresh subscriber identifier: a random UUID (version 4) as a URN, an IRI as the protocol recommends.
pub fn new_subscriber_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Where the instances' lists meet when there are several.
pub trait SharedLists: Send + Sync + 'static {
    /// Writes this instance's list (JSON), standing for `ttl` unless written again.
    fn put(&self, list: String, ttl: Duration) -> BoxFuture<'static, Result<(), HubError>>;
    /// Every live instance's list.
    fn all(&self) -> BoxFuture<'static, Result<Vec<String>, HubError>>;
}

impl SharedLists for RedisShared {
    fn put(&self, list: String, ttl: Duration) -> BoxFuture<'static, Result<(), HubError>> {
        let shared = self.clone();
        Box::pin(async move { shared.put_subscriptions(&list, ttl).await })
    }

    fn all(&self) -> BoxFuture<'static, Result<Vec<String>, HubError>> {
        let shared = self.clone();
        Box::pin(async move { shared.all_subscriptions().await })
    }
}

/// The subscriptions of this instance, and (with several) the way to everyone's.
pub struct Subscriptions {
    local: Mutex<HashMap<String, Vec<Subscription>>>,
    shared: Option<Arc<dyn SharedLists>>,
    changed: Notify,
}

impl Subscriptions {
    pub fn new(shared: Option<Arc<dyn SharedLists>>) -> Self {
        Subscriptions {
            local: Mutex::default(),
            shared,
            changed: Notify::new(),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Subscription>>> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a subscriber's subscriptions.
    pub fn add(&self, subscriber: &str, subscriptions: Vec<Subscription>) {
        self.local().insert(subscriber.to_owned(), subscriptions);
        self.changed.notify_one();
    }

    /// Forgets a subscriber.
    pub fn remove(&self, subscriber: &str) {
        self.local().remove(subscriber);
        self.changed.notify_one();
    }

    fn local_list(&self) -> Vec<Subscription> {
        self.local().values().flatten().cloned().collect()
    }

    /// Every active subscription, on every instance.
    pub async fn all(&self) -> Result<Vec<Subscription>, HubError> {
        let Some(shared) = &self.shared else {
            return Ok(self.local_list());
        };
        let mut all = Vec::new();
        for list in shared.all().await? {
            match serde_json::from_str::<Vec<Subscription>>(&list) {
                Ok(list) => all.extend(list),
                Err(e) => {
                    tracing::warn!(error = %e, "an instance's subscription list is unreadable")
                }
            }
        }
        Ok(all)
    }

    /// With several instances: writes this instance's list on every change and on a heartbeat, until
    /// shutdown. Alone there is nothing to do.
    pub async fn share(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        loop {
            let list = serde_json::to_string(&self.local_list()).unwrap_or_else(|_| "[]".into());
            if let Err(e) = shared.put(list, STANDS_FOR).await {
                tracing::debug!(error = %e, "cannot share the subscription list; it stays as it was");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(HEARTBEAT) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_named_by_its_encoded_selector_and_subscriber() {
        let s = Subscription::new(
            "https://example.com/{selector}",
            "urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
            Some(serde_json::json!({"foo": "bar"})),
        );
        assert_eq!(
            s.id,
            "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bselector%7D/urn%3Auuid%3Abb3de268-05b0-4c65-b44e-8f9acefc29d6"
        );
        assert_eq!(
            decode("https%3A%2F%2Fexample.com%2F%7Bselector%7D").as_deref(),
            Some("https://example.com/{selector}")
        );
        assert_eq!(decode(&encode("a b+c")).as_deref(), Some("a b+c"));
        let update = s.announcement(false);
        assert!(update.private);
        assert_eq!(update.topics, std::slice::from_ref(&s.id));
        let doc: serde_json::Value = serde_json::from_str(&update.data).unwrap();
        assert_eq!(doc["@context"], CONTEXT);
        assert_eq!(doc["type"], "Subscription");
        assert_eq!(doc["id"], s.id);
        assert_eq!(doc["active"], false);
        assert_eq!(doc["payload"]["foo"], "bar");
    }

    #[test]
    fn subscriber_ids_are_version_4_uuid_urns() {
        let (a, b) = (new_subscriber_id(), new_subscriber_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), "urn:uuid:".len() + 36);
        assert_eq!(&a["urn:uuid:".len() + 14..][..1], "4");
    }

    #[tokio::test]
    async fn alone_the_list_is_this_instances() {
        let subs = Subscriptions::new(None);
        subs.add("s1", vec![Subscription::new("a", "s1", None)]);
        subs.add(
            "s2",
            vec![
                Subscription::new("b", "s2", None),
                Subscription::new("c", "s2", None),
            ],
        );
        assert_eq!(subs.all().await.unwrap().len(), 3);
        subs.remove("s2");
        assert_eq!(subs.all().await.unwrap().len(), 1);
    }
}
