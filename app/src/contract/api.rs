//! The HTTP API's paths and the bodies of its writes and their answers, defined once for the router that serves
//! them and the components that call them: a renamed field or path is a compile error on both sides.
//!
//! Every write answer carries `seq`, the event id the write was committed as, so a publisher knows which event
//! its write became and can resume a stream from exactly there.

use super::{DeviceState, JobId, Message, Room, RoomState};
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
    pub seq: u64,
    pub room: Room,
    pub state: RoomState,
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
    pub seq: u64,
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
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Device;

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
    fn write_bodies_refuse_unknown_fields() {
        assert!(serde_json::from_str::<SetDevice>(r#"{"state":"on","x":1}"#).is_err());
        assert!(serde_json::from_str::<NewMessage>(r#"{"message":"m","x":1}"#).is_err());
        assert!(serde_json::from_str::<Login>(r#"{"token":"t","x":1}"#).is_err());
    }
}
