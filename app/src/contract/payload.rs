//! One payload type per topic, and [`Payload`], the sum of them that the hub carries.

use super::{
    BridgeState, CameraShot, CommandOutcome, Entity, EntityKind, EntityRemoved, MercureUpdate, Seq,
    Topic,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A living-room reading, exactly the tutorial's shape: `{"temperature": 21.4, "updatedAt": "<RFC 3339>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    pub temperature: f64,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

/// The tutorial's random number: `{"value": <0..1>}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomNumber {
    pub value: f64,
}

/// A posted message as broadcast on `/eventstream`: the tutorial's `{"title", "message", "timestamp"}` plus its
/// `id`, which is the id of the event that carried it (one id per event: a client that resumes from a message's
/// id resumes right after it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub title: String,
    pub message: String,
    pub timestamp: String,
}

/// A job's id: a short opaque string the server chose.
pub type JobId = String;

/// One step of a long-running job. On `/api/jobs/{id}/events` it is named `progress`, or `done` once finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobUpdate {
    pub id: JobId,
    pub progress: u8,
    pub done: bool,
}

/// Everything the hub carries: one variant per event name, each with its payload type. Most topics have one
/// event of the topic's own name; `entities` has three.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `entity`: one entity, whole, as it is now.
    Entity(Entity),
    /// `entity-removed`.
    EntityRemoved(EntityRemoved),
    /// `command`: a command's step.
    Command(CommandOutcome),
    /// `bridge`: whether the MQTT broker can be reached.
    Bridge(BridgeState),
    Viewers(u64),
    Temperature(Temperature),
    Random(RandomNumber),
    Message(Message),
    Job(JobUpdate),
    Camera(CameraShot),
    /// `mercure`: an update published at `/.well-known/mercure` (never sent on the dashboard's streams).
    Mercure(MercureUpdate),
}

/// A payload type that a write publishes and answers with, typed end to end: the route hands the hub a value
/// of this type and gets the same type back, stamped with its event id, instead of matching a [`Payload`] back
/// out.
pub trait Published: Clone + Into<Payload> + Send + 'static {
    /// This value as published under event id `seq`. Most values do not name their own event, and stay as
    /// they are.
    fn with_event_id(self, _seq: Seq) -> Self {
        self
    }
}

impl Published for Message {
    fn with_event_id(mut self, seq: Seq) -> Self {
        self.id = seq;
        self
    }
}

impl Published for CameraShot {
    /// The image's URL names the shot's event, so it names one image forever.
    fn with_event_id(self, seq: Seq) -> Self {
        CameraShot::new(seq, self.taken_at)
    }
}

impl Published for JobUpdate {}
impl Published for MercureUpdate {}

impl From<MercureUpdate> for Payload {
    fn from(update: MercureUpdate) -> Self {
        Payload::Mercure(update)
    }
}

impl From<Message> for Payload {
    fn from(message: Message) -> Self {
        Payload::Message(message)
    }
}

impl From<CameraShot> for Payload {
    fn from(shot: CameraShot) -> Self {
        Payload::Camera(shot)
    }
}

impl From<JobUpdate> for Payload {
    fn from(update: JobUpdate) -> Self {
        Payload::Job(update)
    }
}

/// How many readings of one sensor the log keeps: as many as the living-room chart shows.
pub const SENSOR_WINDOW: usize = super::MAX_TEMPERATURES;

/// A run of events of which the log keeps only the newest `keep` (one sensor's readings): however chatty a
/// sensor is, it never pushes messages and device changes out of replay and retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Names the run in the journal (`temperature`, `entity/<id>`).
    pub key: String,
    pub keep: usize,
}

impl From<Entity> for Payload {
    fn from(entity: Entity) -> Self {
        Payload::Entity(entity)
    }
}

impl From<CommandOutcome> for Payload {
    fn from(outcome: CommandOutcome) -> Self {
        Payload::Command(outcome)
    }
}

impl From<EntityRemoved> for Payload {
    fn from(removed: EntityRemoved) -> Self {
        Payload::EntityRemoved(removed)
    }
}

impl Published for Entity {}
impl Published for CommandOutcome {}
impl Published for EntityRemoved {}

/// The name a Mercure update is journaled under (it is never an SSE `event:` name: on the Mercure stream an
/// update's event name is its own `type`).
pub const MERCURE_EVENT: &str = "mercure";

/// Why an event's data could not be turned into its topic's payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event name {0:?}")]
    UnknownEvent(String),
    #[error("bad {event} payload: {reason}")]
    BadJson { event: &'static str, reason: String },
    /// A `snapshot` or `reset` event whose state could not be read.
    #[error("bad {event} state: {reason}")]
    BadSnapshot { event: String, reason: String },
}

impl Payload {
    /// Every event name the hub sends on the dashboard's streams, in the order of [`Topic::ALL`] (Mercure
    /// updates, journaled as [`MERCURE_EVENT`], are not among them).
    pub const EVENT_NAMES: [&'static str; 10] = [
        "entity",
        "entity-removed",
        "command",
        "bridge",
        "viewers",
        "temperature",
        "random",
        "message",
        "job",
        "camera",
    ];

    pub fn topic(&self) -> Topic {
        match self {
            Payload::Entity(_)
            | Payload::EntityRemoved(_)
            | Payload::Command(_)
            | Payload::Bridge(_) => Topic::Entities,
            Payload::Viewers(_) => Topic::Viewers,
            Payload::Temperature(_) => Topic::Temperature,
            Payload::Random(_) => Topic::Random,
            Payload::Message(_) => Topic::Message,
            Payload::Job(_) => Topic::Job,
            Payload::Camera(_) => Topic::Camera,
            Payload::Mercure(_) => Topic::Mercure,
        }
    }

    /// The payload as published under event id `seq`: a payload that names its own event (a message's `id`)
    /// gets it here, once, where the id is assigned (each type says how, in its [`Published`] impl).
    pub fn with_event_id(self, seq: Seq) -> Payload {
        match self {
            Payload::Message(message) => Payload::Message(message.with_event_id(seq)),
            Payload::Camera(shot) => Payload::Camera(shot.with_event_id(seq)),
            other => other,
        }
    }

    /// The topic an event of this name belongs to, without decoding its data (so a reader can skip the events
    /// of topics it does not want for the price of a string comparison).
    pub fn topic_of(event: &str) -> Option<Topic> {
        match event {
            "entity" | "entity-removed" | "command" | "bridge" => Some(Topic::Entities),
            MERCURE_EVENT => Some(Topic::Mercure),
            other => Topic::parse(other).ok(),
        }
    }

    /// The SSE `event:` name (and the name the journal keeps it under).
    pub fn event_name(&self) -> &'static str {
        match self {
            Payload::Entity(_) => "entity",
            Payload::EntityRemoved(_) => "entity-removed",
            Payload::Command(_) => "command",
            Payload::Bridge(_) => "bridge",
            other => other.topic().name(),
        }
    }

    /// The run of events this one belongs to in the log, when only a window of it is kept: the living room's
    /// temperature, and each numeric sensor's readings.
    pub fn window(&self) -> Option<Window> {
        match self {
            Payload::Temperature(_) => Some(Window {
                key: Topic::Temperature.name().to_owned(),
                keep: super::MAX_TEMPERATURES,
            }),
            Payload::Entity(entity) if entity.kind == EntityKind::Sensor => Some(Window {
                key: format!("entity/{}", entity.id),
                keep: SENSOR_WINDOW,
            }),
            _ => None,
        }
    }

    /// What a compare-and-set change is checked against: a change derived from one entity's state conflicts
    /// only with another change of that entity, a change of anything else with its topic's.
    pub fn conflict_key(&self) -> Cow<'static, str> {
        match self {
            Payload::Entity(Entity { id, .. })
            | Payload::EntityRemoved(EntityRemoved { id })
            | Payload::Command(CommandOutcome { id, .. }) => Cow::Owned(format!("entity/{id}")),
            other => Cow::Borrowed(other.topic().name()),
        }
    }

    /// The JSON text that goes in the event's `data:` field(s).
    pub fn to_json(&self) -> String {
        let json = match self {
            Payload::Entity(entity) => serde_json::to_string(entity),
            Payload::EntityRemoved(removed) => serde_json::to_string(removed),
            Payload::Command(outcome) => serde_json::to_string(outcome),
            Payload::Bridge(bridge) => serde_json::to_string(bridge),
            Payload::Viewers(count) => serde_json::to_string(count),
            Payload::Temperature(t) => serde_json::to_string(t),
            Payload::Random(r) => serde_json::to_string(r),
            Payload::Message(m) => serde_json::to_string(m),
            Payload::Job(j) => serde_json::to_string(j),
            Payload::Camera(c) => serde_json::to_string(c),
            Payload::Mercure(m) => serde_json::to_string(m),
        };
        // Serialising these plain structs cannot fail: no maps with non-string keys, no custom Serialize.
        json.unwrap_or_else(|_| String::from("null"))
    }

    /// Decodes an event received as `event: <name>` with `data: <json>` (as a browser hands it over, and as
    /// the journal keeps it).
    pub fn decode_named(event: &str, data: &str) -> Result<Payload, DecodeError> {
        fn parse<T: serde::de::DeserializeOwned>(
            event: &'static str,
            data: &str,
        ) -> Result<T, DecodeError> {
            serde_json::from_str(data).map_err(|e| DecodeError::BadJson {
                event,
                reason: e.to_string(),
            })
        }
        if event == MERCURE_EVENT {
            return Ok(Payload::Mercure(parse(MERCURE_EVENT, data)?));
        }
        let Some(name) = Payload::EVENT_NAMES.into_iter().find(|n| *n == event) else {
            return Err(DecodeError::UnknownEvent(event.to_owned()));
        };
        Ok(match name {
            "entity" => Payload::Entity(parse(name, data)?),
            "entity-removed" => Payload::EntityRemoved(parse(name, data)?),
            "command" => Payload::Command(parse(name, data)?),
            "bridge" => Payload::Bridge(parse(name, data)?),
            "viewers" => Payload::Viewers(parse(name, data)?),
            "temperature" => Payload::Temperature(parse(name, data)?),
            "random" => Payload::Random(parse(name, data)?),
            "message" => Payload::Message(parse(name, data)?),
            "job" => Payload::Job(parse(name, data)?),
            _ => Payload::Camera(parse(name, data)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState, EntityId, Outcome, Requested, Room};

    fn lights() -> Entity {
        Room::Bedroom.entity(
            Device::Lights,
            DeviceState::On,
            "2026-11-21T10:00:00Z".into(),
        )
    }

    fn samples() -> Vec<Payload> {
        let id = EntityId::parse("bedroom-lights").unwrap();
        vec![
            Payload::Entity(lights()),
            Payload::EntityRemoved(EntityRemoved { id: id.clone() }),
            Payload::Command(CommandOutcome {
                id,
                requested: Requested::On,
                outcome: Outcome::Sent,
            }),
            Payload::Bridge(BridgeState {
                connected: false,
                changed_at: "2026-11-21T10:00:00Z".into(),
                problem: Some("connection refused".into()),
            }),
            Payload::Viewers(3),
            Payload::Temperature(Temperature {
                temperature: 21.4,
                updated_at: "2026-11-21T10:00:00Z".into(),
            }),
            Payload::Random(RandomNumber { value: 0.25 }),
            Payload::Message(Message {
                id: 7,
                title: "New message!".into(),
                message: "hi\nthere".into(),
                timestamp: "2026-11-21T10:00:00Z".into(),
            }),
            Payload::Job(JobUpdate {
                id: "j1".into(),
                progress: 40,
                done: false,
            }),
            Payload::Camera(CameraShot::new(9, "2026-11-21T10:00:00Z".into())),
        ]
    }

    #[test]
    fn every_payload_round_trips_through_its_event_name() {
        for payload in samples() {
            let decoded = Payload::decode_named(payload.event_name(), &payload.to_json());
            assert_eq!(decoded, Ok(payload));
        }
        for payload in samples() {
            assert_eq!(
                Payload::topic_of(payload.event_name()),
                Some(payload.topic())
            );
        }
        assert_eq!(Payload::topic_of("kitchen"), None);
        let names: Vec<&str> = samples().iter().map(Payload::event_name).collect();
        let mut expected = Payload::EVENT_NAMES.to_vec();
        expected.retain(|n| *n != "random");
        let mut got = names.clone();
        got.retain(|n| *n != "random");
        assert_eq!(got, expected, "one sample per event name, in order");
    }

    #[test]
    fn a_mercure_update_round_trips_and_stays_out_of_the_dashboards_names() {
        let update = Payload::Mercure(MercureUpdate {
            topics: vec!["https://example.com/books/1".into(), "alt".into()],
            data: "line one\nline two".into(),
            private: true,
            id: Some("urn:uuid:1".into()),
            event_type: Some("book".into()),
            retry: Some(5),
        });
        assert_eq!(update.event_name(), MERCURE_EVENT);
        assert_eq!(
            Payload::decode_named(MERCURE_EVENT, &update.to_json()),
            Ok(update.clone())
        );
        assert_eq!(Payload::topic_of(MERCURE_EVENT), Some(Topic::Mercure));
        assert!(!Payload::EVENT_NAMES.contains(&MERCURE_EVENT));
        assert_eq!(update.window(), None);
        assert_eq!(update.conflict_key(), "mercure");
        let mut state = crate::contract::Snapshot::default();
        assert!(state.apply(Some(9), &update));
        assert_eq!(state.seq, 9, "the state stands at its id");
        assert_eq!(
            state,
            crate::contract::Snapshot {
                seq: 9,
                ..Default::default()
            }
        );
    }

    #[test]
    fn only_sensor_readings_and_temperatures_keep_a_window() {
        let mut sensor = lights();
        sensor.kind = EntityKind::Sensor;
        assert_eq!(
            Payload::Entity(sensor).window().map(|w| w.key),
            Some("entity/bedroom-lights".to_owned())
        );
        assert_eq!(Payload::Entity(lights()).window(), None);
        assert!(samples()[5].window().is_some(), "the temperature");
        assert_eq!(
            Payload::Entity(lights()).conflict_key(),
            "entity/bedroom-lights"
        );
        assert_eq!(Payload::Viewers(1).conflict_key(), "viewers");
    }

    #[test]
    fn tutorial_shapes_are_kept() {
        let t = Payload::Temperature(Temperature {
            temperature: 21.5,
            updated_at: "x".into(),
        });
        assert_eq!(t.to_json(), r#"{"temperature":21.5,"updatedAt":"x"}"#);
        assert_eq!(Payload::Viewers(12).to_json(), "12");
        assert_eq!(
            Payload::Random(RandomNumber { value: 0.5 }).to_json(),
            r#"{"value":0.5}"#
        );
    }

    #[test]
    fn a_message_takes_its_event_id_and_nothing_else_changes() {
        for payload in samples() {
            let stamped = payload.clone().with_event_id(99);
            match (&payload, &stamped) {
                (Payload::Message(before), Payload::Message(after)) => {
                    assert_eq!(after.id, 99);
                    assert_eq!(
                        (&after.title, &after.message),
                        (&before.title, &before.message)
                    );
                }
                (Payload::Camera(before), Payload::Camera(after)) => {
                    assert_eq!(after.id(), Some(99));
                    assert_eq!(after.taken_at, before.taken_at);
                }
                _ => assert_eq!(stamped, payload),
            }
        }
    }

    #[test]
    fn bad_data_is_an_error_value_not_a_panic() {
        let err = Payload::decode_named("temperature", r#"{"temp": 1}"#).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::BadJson {
                event: "temperature",
                ..
            }
        ));
        assert!(matches!(
            Payload::decode_named("kitchen", "{}"),
            Err(DecodeError::UnknownEvent(_))
        ));
        assert!(matches!(
            Payload::decode_named("garage", "{}"),
            Err(DecodeError::UnknownEvent(_))
        ));
    }
}
