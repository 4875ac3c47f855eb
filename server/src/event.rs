//! One event as the hub carries it: its sequence id, topic and payload, framed once for every way a route
//! presents it. A leaf that the hub (which assigns ids and fans out) and the store (which journals) both use.
//!
//! Framing happens once, when the id is known; every delivery after that is a reference-count bump.

use app::contract::{Payload, Seq, Topic};
use bytes::Bytes;
use sse::frame;

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
        Event {
            id,
            topic,
            named: frame(id, Some(payload.event_name()), &data),
            unnamed: frame(id, None, &data),
            alt,
            payload,
        }
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
