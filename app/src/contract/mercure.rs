//! A Mercure update as the hub carries it: one hub event on the `mercure` topic, journaled, replayed and fanned
//! out like every other, never folded into the dashboard's state (it is not the home's).
//!
//! Its SSE `id` is the publisher's own id when it gave one, else one the hub generates from the event's
//! sequence id (`urn:hearth:<seq>`): an IRI, as the protocol asks, that maps straight back to the sequence id,
//! so a subscriber resuming from a generated id resumes exactly, on any instance, however old the id is.

use super::Seq;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The prefix of the ids the hub generates: `urn:hearth:<seq>`.
pub const GENERATED_ID_PREFIX: &str = "urn:hearth:";

/// The reserved `Last-Event-ID` value that asks for every update the hub still has.
pub const EARLIEST: &str = "earliest";

/// One published update: the form fields of the publish request, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MercureUpdate {
    /// The canonical topic first, then its alternates; never empty.
    pub topics: Vec<String>,
    /// The new version of the topic (any text).
    #[serde(default)]
    pub data: String,
    /// Only subscribers whose claims match one of `topics` may receive it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub private: bool,
    /// The publisher's own id for it, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The SSE `event` field.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The SSE `retry` field, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl MercureUpdate {
    /// The id subscribers see for this update when it was committed under `seq`.
    pub fn sse_id(&self, seq: Seq) -> Cow<'_, str> {
        match &self.id {
            Some(id) => Cow::Borrowed(id),
            None => Cow::Owned(generated_id(seq)),
        }
    }
}

/// The id the hub generates for the event committed under `seq`.
pub fn generated_id(seq: Seq) -> String {
    format!("{GENERATED_ID_PREFIX}{seq}")
}

/// The sequence id in an id the hub generated (`urn:hearth:<seq>`), if `id` is one.
pub fn parse_generated_id(id: &str) -> Option<Seq> {
    let digits = id.strip_prefix(GENERATED_ID_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_iris_that_map_back_to_their_sequence_id() {
        assert_eq!(generated_id(42), "urn:hearth:42");
        assert_eq!(parse_generated_id("urn:hearth:42"), Some(42));
        for not_ours in [
            "urn:hearth:",
            "urn:hearth:4x",
            "urn:hearth:+4",
            "urn:uuid:1",
            "42",
        ] {
            assert_eq!(parse_generated_id(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn an_update_keeps_its_publishers_id_or_takes_a_generated_one() {
        let mut update = MercureUpdate {
            topics: vec!["https://example.com/books/1".into()],
            data: "x".into(),
            private: false,
            id: None,
            event_type: None,
            retry: None,
        };
        assert_eq!(update.sse_id(7), "urn:hearth:7");
        update.id = Some("urn:uuid:a".into());
        assert_eq!(update.sse_id(7), "urn:uuid:a");
        let json = serde_json::to_string(&update).unwrap();
        assert_eq!(
            json,
            r#"{"topics":["https://example.com/books/1"],"data":"x","id":"urn:uuid:a"}"#
        );
        assert_eq!(
            serde_json::from_str::<MercureUpdate>(&json).unwrap(),
            update
        );
    }
}
