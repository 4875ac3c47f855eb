//! The typed event contract, defined once and shared by the server and the browser. Every topic has a name and
//! one serde payload type, so a renamed field is a compile error on both sides rather than a silent blank on the
//! page.
//!
//! Wire format of one event: `id: <seq>`, `event: <name>`, `data: <json>` (ephemeral topics carry no id: see
//! [`Persistence`]). Most topics have one event of their own name; the home's `entities` topic has `entity`,
//! `entity-removed` and `command`; Mercure updates travel on the `mercure` topic ([`MercureUpdate`]). [`api`]
//! holds the HTTP API's paths and write bodies.

pub mod api;
mod camera;
mod entity;
mod home;
mod input;
mod mercure;
mod payload;
mod snapshot;
mod time;
mod topic;

pub use camera::{parse_image_file, CameraShot, CAMERA_PATH};
pub use entity::{
    slugify, AreaId, BadCommand, BridgeState, CommandOutcome, Customized, Entity, EntityId,
    EntityKind, EntityRemoved, Outcome, Requested, Source, MAX_SLUG_CHARS, UNASSIGNED,
    UNASSIGNED_NAME, UNKNOWN,
};
pub use home::{Device, DeviceState, Room, RoomState};
pub use input::{InputError, MessageBody};
pub use mercure::{generated_id, parse_generated_id, MercureUpdate, EARLIEST, GENERATED_ID_PREFIX};
pub use payload::{
    DecodeError, JobId, JobUpdate, Message, Payload, Published, RandomNumber, Temperature, Window,
    MERCURE_EVENT, SENSOR_WINDOW,
};
pub use snapshot::{
    Area, Snapshot, TrendPoint, MAX_CAMERA_SHOTS, MAX_MESSAGES, MAX_TEMPERATURES, TREND_STEP_MS,
    TREND_WINDOW_MS,
};
pub use time::{civil_from_days, parse_rfc3339_ms};
pub use topic::{Persistence, Topic, TopicSet, UnknownTopic};

/// A hub-wide event id: strictly increasing, never reused, sent as the SSE `id:` field. An event that is not
/// retained (a live-only value) has none: code that may hold either takes an `Option<Seq>`, never a sentinel.
pub type Seq = u64;

/// The name of the event that carries a full [`Snapshot`] at the start of a fresh `/events` stream.
pub const SNAPSHOT_EVENT: &str = "snapshot";
/// The name of the event that replaces the client's state when its `Last-Event-ID` could not be honoured.
pub const RESET_EVENT: &str = "reset";
