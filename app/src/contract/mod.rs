//! The typed event contract, defined once and shared by the server and the browser. Every topic has a name and
//! one serde payload type, so a renamed field is a compile error on both sides rather than a silent blank on the
//! page.
//!
//! Wire format of one event: `id: <seq>`, `event: <topic>`, `data: <json>` (ephemeral topics carry no id: see
//! [`Persistence`]). [`api`] holds the HTTP API's paths and write bodies.

pub mod api;
mod camera;
mod home;
mod input;
mod payload;
mod snapshot;
mod topic;

pub use camera::{parse_image_file, CameraShot, CAMERA_PATH};
pub use home::{Device, DeviceState, Room, RoomState};
pub use input::{InputError, MessageBody};
pub use payload::{DecodeError, JobId, JobUpdate, Message, Payload, RandomNumber, Temperature};
pub use snapshot::{Snapshot, MAX_CAMERA_SHOTS, MAX_MESSAGES, MAX_TEMPERATURES};
pub use topic::{Persistence, Topic, TopicSet, UnknownTopic};

/// The name of the event that carries a full [`Snapshot`] at the start of a fresh `/events` stream.
pub const SNAPSHOT_EVENT: &str = "snapshot";
/// The name of the event that replaces the client's state when its `Last-Event-ID` could not be honoured.
pub const RESET_EVENT: &str = "reset";
