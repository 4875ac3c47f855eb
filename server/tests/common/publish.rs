//! Publishing straight into a test app's hub, as the server's own producers do: no HTTP, no validation.

use super::launch::TestApp;
use app::contract::{Message, Payload};
use server::event::Event;
use server::state::AppState;
use std::sync::Arc;

/// Publishes into `state`'s hub and waits until the event is committed.
pub async fn publish(state: &AppState, payload: Payload) -> Arc<Event> {
    state
        .hub
        .publish(payload)
        .await
        .expect("the hub commits the event")
}

/// A message payload with this text (the hub gives it its event's id).
pub fn message(text: &str) -> Payload {
    Payload::Message(Message {
        id: 0,
        title: "test".to_owned(),
        message: text.to_owned(),
        timestamp: "2026-01-01T00:00:00.000Z".to_owned(),
    })
}

impl TestApp {
    pub async fn publish(&self, payload: Payload) -> Arc<Event> {
        publish(&self.state, payload).await
    }

    /// Publishes a message (no length limit); its id will be its event's.
    pub async fn publish_message(&self, text: &str) -> Arc<Event> {
        self.publish(message(text)).await
    }

    /// Publishes a message without waiting for it to be committed (its id is assigned at once): a burst of
    /// these is queued before any subscriber can run, so it reaches them as fast as the hub can deliver.
    pub fn publish_message_now(&self, text: &str) -> server::hub::Publish {
        self.state.hub.publish(message(text))
    }
}
