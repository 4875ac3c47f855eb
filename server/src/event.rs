//! One event as the hub carries it: its sequence id, topic and payload, framed once for every way a route
//! presents it. A leaf that the hub (which assigns ids and fans out) and the store (which journals) both use.
//!
//! Framing happens once, when the id is known; every delivery after that is a reference-count bump. The Mercure
//! form of an event (its id an IRI, see [`Event::mercure`]) is framed at most once too: eagerly for a Mercure
//! update, which is only ever sent in that form, and on first use for the dashboard's events, which only some
//! Mercure subscribers read.

use app::contract::{generated_id, Payload, Seq, Topic};
use bytes::Bytes;
use sse::{frame, frame_text};
use std::sync::OnceLock;

/// One published event.
#[derive(Debug)]
pub struct Event {
    /// The hub-wide sequence id, sent as `id:`; none for an ephemeral topic's event: it is not retained, so it
    /// must not move a client's resume point.
    pub id: Option<Seq>,
    pub topic: Topic,
    pub payload: Payload,
    /// `id`, `event: <name>`, `data`: the multiplexed stream's form.
    pub named: Bytes,
    /// `id`, `data` only: for the tutorial routes whose clients listen to `onmessage`.
    pub unnamed: Bytes,
    /// A route-specific name (jobs: `progress` / `done`), when the topic has one.
    pub alt: Option<Bytes>,
    /// The form `/.well-known/mercure` sends; see [`Event::mercure`].
    mercure: OnceLock<Bytes>,
}

impl Event {
    /// The event `payload` becomes under `id` (none: a live-only value). A payload that names its own event (a
    /// message's `id`) is given its id here.
    pub fn new(id: Option<Seq>, payload: Payload) -> Event {
        let payload = match id {
            Some(seq) => payload.with_event_id(seq),
            None => payload,
        };
        let data = payload.to_json();
        let topic = payload.topic();
        let alt = match &payload {
            Payload::Job(job) => Some(frame(
                id,
                Some(if job.done { "done" } else { "progress" }),
                &data,
            )),
            _ => None,
        };
        let mercure = OnceLock::new();
        if let (Payload::Mercure(update), Some(seq)) = (&payload, id) {
            let _ = mercure.set(frame_text(
                Some(&update.sse_id(seq)),
                update.event_type.as_deref(),
                update.retry,
                &update.data,
            ));
        }
        Event {
            id,
            topic,
            named: frame(id, Some(payload.event_name()), &data),
            unnamed: frame(id, None, &data),
            alt,
            mercure,
            payload,
        }
    }

    /// The event as `/.well-known/mercure` sends it: a Mercure update with its own id (the publisher's, or
    /// `urn:hearth:<seq>`), type and retry and its data as published; any other retained event under
    /// `urn:hearth:<seq>`, named and with its JSON as on `/events`. Live-only events have no Mercure form (the
    /// protocol wants an id on every event).
    pub fn mercure(&self) -> Option<Bytes> {
        let seq = self.id?;
        Some(
            self.mercure
                .get_or_init(|| {
                    frame_text(
                        Some(&generated_id(seq)),
                        Some(self.payload.event_name()),
                        None,
                        &self.payload.to_json(),
                    )
                })
                .clone(),
        )
    }

    /// A retained event: committed under `seq`.
    pub fn durable(seq: Seq, payload: Payload) -> Event {
        Event::new(Some(seq), payload)
    }

    /// A live-only event: no id.
    pub fn live(payload: Payload) -> Event {
        Event::new(None, payload)
    }

    /// Whether this event has an id above `seq` (live-only events have none, so never).
    pub fn is_after(&self, seq: Seq) -> bool {
        self.id.is_some_and(|id| id > seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::contract::{JobUpdate, Message};

    #[test]
    fn events_are_framed_once_in_each_form() {
        let e = Event::durable(7, Payload::Viewers(3));
        assert_eq!(&e.named[..], b"id: 7\nevent: viewers\ndata: 3\n\n");
        assert_eq!(&e.unnamed[..], b"id: 7\ndata: 3\n\n");
        assert!(e.alt.is_none());
        let job = Event::durable(
            8,
            Payload::Job(JobUpdate {
                id: "j".into(),
                progress: 100,
                done: true,
            }),
        );
        assert!(job.alt.unwrap().starts_with(b"id: 8\nevent: done\n"));
    }

    #[test]
    fn an_event_without_an_id_is_framed_without_one() {
        let e = Event::live(Payload::Viewers(3));
        assert_eq!(&e.named[..], b"event: viewers\ndata: 3\n\n");
        assert_eq!(&e.unnamed[..], b"data: 3\n\n");
    }

    #[test]
    fn a_mercure_update_is_framed_with_its_own_id_type_and_data_and_others_under_a_generated_id() {
        use app::contract::MercureUpdate;
        let update = MercureUpdate {
            topics: vec!["t".into()],
            data: "a\nb".into(),
            private: false,
            id: None,
            event_type: Some("book".into()),
            retry: Some(10),
        };
        let e = Event::durable(5, Payload::Mercure(update.clone()));
        assert_eq!(
            &e.mercure().unwrap()[..],
            b"id: urn:hearth:5\nevent: book\nretry: 10\ndata: a\ndata: b\n\n"
        );
        let own = Event::durable(
            6,
            Payload::Mercure(MercureUpdate {
                id: Some("urn:uuid:x".into()),
                event_type: None,
                retry: None,
                ..update
            }),
        );
        assert_eq!(
            &own.mercure().unwrap()[..],
            b"id: urn:uuid:x\ndata: a\ndata: b\n\n"
        );
        let viewers = Event::durable(7, Payload::Viewers(3));
        assert_eq!(
            &viewers.mercure().unwrap()[..],
            b"id: urn:hearth:7\nevent: viewers\ndata: 3\n\n"
        );
        assert_eq!(Event::live(Payload::Viewers(3)).mercure(), None);
    }

    #[test]
    fn a_message_carries_its_event_id() {
        let message = Message {
            id: 0,
            title: "t".into(),
            message: "m".into(),
            timestamp: "x".into(),
        };
        let e = Event::durable(41, Payload::Message(message));
        assert!(matches!(&e.payload, Payload::Message(m) if m.id == 41));
        assert!(std::str::from_utf8(&e.named)
            .unwrap()
            .contains(r#""id":41"#));
    }
}
