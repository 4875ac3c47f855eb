//! The HTTP API's paths and the bodies of its writes and their answers, defined once for the router that serves
//! them and the components that call them: a renamed field or path is a compile error on both sides.
//!
//! Every write answer carries `seq`, the event id the write was committed as, so a publisher knows which event
//! its write became and can resume a stream from exactly there.

use super::{DeviceState, Entity, EntityId, JobId, Message, Requested, Room, RoomState, Seq};
use serde::{Deserialize, Serialize};

/// Route paths, in the syntax axum registers (`{name}` segments); helpers fill them in for callers.
pub mod paths {
    use crate::contract::{Device, Room};

    /// The dashboard's multiplexed stream.
    pub const EVENTS: &str = "/events";
    /// The tutorial streams, at their original paths.
    pub const LIVE_USERS: &str = "/live-users";
    pub const SMART_HOME: &str = "/smart-home";
    pub const TEMPERATURES: &str = "/temperatures";
    pub const EVENTSTREAM: &str = "/eventstream";
    pub const RANDOM_NUMBERS: &str = "/stream-random-numbers";

    /// `POST` a message (the tutorial's broadcast).
    pub const MESSAGE: &str = "/message";
    /// `POST` to log in, `DELETE` to log out, `GET` to ask whether this browser may write.
    pub const SESSION: &str = "/api/session";
    /// `POST` starts a job.
    pub const JOBS: &str = "/api/jobs";
    /// A job's own event stream.
    pub const JOB_EVENTS: &str = "/api/jobs/{id}/events";
    /// `POST` changes one device.
    pub const DEVICE: &str = "/api/rooms/{room}/{device}";
    /// The dashboard's state as JSON.
    pub const SNAPSHOT: &str = "/api/snapshot";
    /// `GET`: every entity of the home.
    pub const ENTITIES: &str = "/api/entities";
    /// `POST` a command to one entity, `PATCH` to rename or move it.
    pub const ENTITY: &str = "/api/entities/{id}";

    /// [`ENTITY`] for one entity.
    pub fn entity(id: &crate::contract::EntityId) -> String {
        format!("/api/entities/{id}")
    }

    /// [`DEVICE`] for one device.
    pub fn device(room: Room, device: Device) -> String {
        format!("/api/rooms/{}/{}", room.name(), device.name())
    }

    /// [`JOB_EVENTS`] for one job.
    pub fn job_events(id: &str) -> String {
        format!("/api/jobs/{id}/events")
    }

    /// Whether `path` is [`JOB_EVENTS`] for some id.
    pub fn is_job_events(path: &str) -> bool {
        path.strip_prefix("/api/jobs/")
            .and_then(|rest| rest.strip_suffix("/events"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    }
}

/// `POST /api/rooms/{room}/{device}`: the state to set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDevice {
    pub state: DeviceState,
}

/// The answer to [`SetDevice`]: the room as committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceChanged {
    pub seq: Seq,
    pub room: Room,
    pub state: RoomState,
}

/// `GET /api/entities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityList {
    pub entities: Vec<Entity>,
}

/// `POST /api/entities/{id}`: the state to ask for (`on`/`off`, or `open`/`closed`/`stop` for a cover). A text,
/// not an enum, so that a state the entity's kind does not take is answered 422 naming what it does take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetEntity {
    pub state: String,
}

/// The answer to [`SetEntity`]: 200 with the state when it was applied at once (an entity that reports no
/// state of its own), 202 with what was requested when it was sent to a device that will confirm it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandAnswer {
    Applied {
        seq: Seq,
        id: EntityId,
        state: String,
    },
    Sent {
        seq: Seq,
        id: EntityId,
        requested: Requested,
    },
}

/// The longest name a person may give an entity or an area (trimmed, in characters): the server refuses longer
/// ones, and the dashboard's fields stop there.
pub const MAX_NAME_CHARS: usize = 100;

/// `PATCH /api/entities/{id}`: a new name, a new area (an existing area's id or name, or the name of a new
/// one), or both; answered with the entity as it now is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditEntity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
}

/// The answer to [`EditEntity`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityEdited {
    pub seq: Seq,
    #[serde(flatten)]
    pub entity: Entity,
}

/// The part every write answer shares: the event id the write was committed as. A client that follows the
/// stream for the rest (the dashboard) reads only this, and so carries no decoder for the whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenAs {
    pub seq: Seq,
}

/// `POST /message`: the tutorial's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub message: String,
}

/// The answer to [`NewMessage`]: the message as broadcast (its `id` is its event id) and that event id again as
/// `seq`, like every write answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePosted {
    #[serde(flatten)]
    pub message: Message,
    pub seq: Seq,
}

/// `POST /api/session`: the write token, in exchange for a session cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub token: String,
}

/// Whether this browser may write: the answer of `GET` and `POST /api/session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub writer: bool,
}

/// The answer to `POST /api/jobs`: the job, where to follow it, and the event id of its first step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStarted {
    pub id: JobId,
    pub events: String,
    pub seq: Seq,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState};

    #[test]
    fn path_helpers_fill_the_registered_patterns() {
        assert_eq!(
            paths::device(Room::Kitchen, Device::Lights),
            "/api/rooms/kitchen/lights"
        );
        assert_eq!(paths::job_events("ab12"), "/api/jobs/ab12/events");
        assert!(paths::is_job_events(&paths::job_events("ab12")));
        for not_a_job in ["/api/jobs//events", "/api/jobs/a/b/events", "/api/jobs"] {
            assert!(!paths::is_job_events(not_a_job), "{not_a_job}");
        }
    }

    #[test]
    fn command_answers_say_applied_or_requested() {
        let id = EntityId::parse("lamp").unwrap();
        let applied = CommandAnswer::Applied {
            seq: 3,
            id: id.clone(),
            state: "on".into(),
        };
        assert_eq!(
            serde_json::to_value(&applied).unwrap(),
            serde_json::json!({"seq": 3, "id": "lamp", "state": "on"})
        );
        let sent = CommandAnswer::Sent {
            seq: 4,
            id,
            requested: Requested::Off,
        };
        assert_eq!(
            serde_json::to_value(&sent).unwrap(),
            serde_json::json!({"seq": 4, "id": "lamp", "requested": "off"})
        );
        assert_eq!(
            paths::entity(&EntityId::parse("lamp").unwrap()),
            "/api/entities/lamp"
        );
    }

    #[test]
    fn a_posted_message_answers_the_tutorial_shape_plus_seq() {
        let posted = MessagePosted {
            message: Message {
                id: 42,
                title: "New message!".into(),
                message: "hi".into(),
                timestamp: "t".into(),
            },
            seq: 42,
        };
        let json = serde_json::to_value(&posted).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 42, "title": "New message!", "message": "hi", "timestamp": "t", "seq": 42})
        );
        assert_eq!(
            serde_json::from_value::<MessagePosted>(json).unwrap(),
            posted
        );
    }

    #[test]
    fn every_entity_write_answer_reads_as_its_event_id() {
        let sent = CommandAnswer::Sent {
            seq: 4,
            id: EntityId::parse("lamp").unwrap(),
            requested: Requested::On,
        };
        let edited = EntityEdited {
            seq: 5,
            entity: Room::Kitchen.entity(Device::Lights, DeviceState::On, "t".into()),
        };
        let read = |json: String| serde_json::from_str::<WrittenAs>(&json).unwrap().seq;
        assert_eq!(read(serde_json::to_string(&sent).unwrap()), 4);
        assert_eq!(read(serde_json::to_string(&edited).unwrap()), 5);
    }

    #[test]
    fn write_bodies_refuse_unknown_fields() {
        assert!(serde_json::from_str::<SetDevice>(r#"{"state":"on","x":1}"#).is_err());
        assert!(serde_json::from_str::<NewMessage>(r#"{"message":"m","x":1}"#).is_err());
        assert!(serde_json::from_str::<Login>(r#"{"token":"t","x":1}"#).is_err());
        assert!(serde_json::from_str::<SetEntity>(r#"{"state":"on","x":1}"#).is_err());
        assert!(serde_json::from_str::<EditEntity>(r#"{"name":"n","x":1}"#).is_err());
    }
}
