//! Where a Mercure subscriber resumes from, and what the response's `Last-Event-ID` header says.
//!
//! The client's id is the `Last-Event-ID` header when it sends one (an `EventSource` reconnecting sends the
//! newest id it saw, while its URL still carries the `lastEventID` it was opened with: the header wins), else the
//! `lastEventID` query parameter (or draft-08's `last_event_id`). It resolves to a sequence id:
//! - `earliest`: everything the hub still retains for replay;
//! - an id the hub generated (`urn:hearth:<seq>`): that sequence id, directly, however old (the hub then replays
//!   what it still has after it, from its ring or, on Redis, from the log);
//! - an id a publisher chose: the newest retained update that carried it and that this subscriber may receive
//!   (an id it may not see resolves to nothing, so asking cannot tell it that such an update exists).
//!
//! The response header is the id of the event before the first one sent: the id the client sent when the hub
//! resumes right after it, else `earliest` (asked for, or the id is unknown or no longer retained: nothing is
//! replayed and the client can tell it may have missed updates).

use super::subscriber::Access;
use crate::hub::Hub;
use app::contract::{parse_generated_id, Payload, Seq, EARLIEST};

/// Where to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// No id given: live updates only, no header.
    Live,
    /// Replay what came after this sequence id; the header is `echo` (or `earliest` if the hub cannot).
    After { seq: Seq, echo: String },
    /// The id is unknown here: live updates only; the header is `earliest`.
    Unknown,
}

/// The id the client resumes from: header first, then the query parameters.
pub fn requested<'a>(header: Option<&'a str>, query: Option<&'a str>) -> Option<&'a str> {
    header.or(query).map(str::trim).filter(|id| !id.is_empty())
}

/// Resolves the client's id for a subscriber with `access`.
pub fn resolve(hub: &Hub, requested: Option<&str>, access: &Access) -> Resume {
    let Some(raw) = requested else {
        return Resume::Live;
    };
    if raw == EARLIEST {
        let (floor, _) = hub.replayable();
        return Resume::After {
            seq: floor,
            echo: EARLIEST.to_owned(),
        };
    }
    if let Some(seq) = parse_generated_id(raw) {
        return Resume::After {
            seq,
            echo: raw.to_owned(),
        };
    }
    let found = hub.find_retained(&|event| match &event.payload {
        Payload::Mercure(update) => {
            update.id.as_deref() == Some(raw) && access.allows_update(update)
        }
        _ => false,
    });
    match found {
        Some(seq) => Resume::After {
            seq,
            echo: raw.to_owned(),
        },
        None => Resume::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_over_the_query_and_blanks_are_no_id() {
        assert_eq!(
            requested(Some("urn:hearth:9"), Some("urn:hearth:3")),
            Some("urn:hearth:9")
        );
        assert_eq!(requested(None, Some("urn:hearth:3")), Some("urn:hearth:3"));
        assert_eq!(requested(Some("  "), None), None);
        assert_eq!(requested(None, None), None);
    }
}
