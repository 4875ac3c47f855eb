//! One payload type per topic, and [`Payload`], the sum of them that the hub carries.

use super::{CameraShot, Room, RoomState, Topic};
use serde::{Deserialize, Serialize};

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

/// Everything the hub carries: one variant per topic, each with that topic's payload type.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Room(Room, RoomState),
    Viewers(u64),
    Temperature(Temperature),
    Random(RandomNumber),
    Message(Message),
    Job(JobUpdate),
    Camera(CameraShot),
}

/// Why an event's data could not be turned into its topic's payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event name {0:?}")]
    UnknownEvent(String),
    #[error("bad {topic} payload: {reason}")]
    BadJson { topic: Topic, reason: String },
    /// A `snapshot` or `reset` event whose state could not be read.
    #[error("bad {event} state: {reason}")]
    BadSnapshot { event: String, reason: String },
}

impl Payload {
    pub fn topic(&self) -> Topic {
        match self {
            Payload::Room(room, _) => room.topic(),
            Payload::Viewers(_) => Topic::Viewers,
            Payload::Temperature(_) => Topic::Temperature,
            Payload::Random(_) => Topic::Random,
            Payload::Message(_) => Topic::Message,
            Payload::Job(_) => Topic::Job,
            Payload::Camera(_) => Topic::Camera,
        }
    }

    /// The payload as published under event id `seq`: a payload that names its own event (a message's `id`)
    /// gets it here, once, where the id is assigned.
    pub fn with_event_id(mut self, seq: u64) -> Payload {
        match &mut self {
            Payload::Message(message) => message.id = seq,
            // The image's URL names the shot's event, so it names one image forever.
            Payload::Camera(shot) => {
                *shot = CameraShot::new(seq, std::mem::take(&mut shot.taken_at))
            }
            _ => {}
        }
        self
    }

    /// The JSON text that goes in the event's `data:` field(s).
    pub fn to_json(&self) -> String {
        let json = match self {
            Payload::Room(_, state) => serde_json::to_string(state),
            Payload::Viewers(count) => serde_json::to_string(count),
            Payload::Temperature(t) => serde_json::to_string(t),
            Payload::Random(r) => serde_json::to_string(r),
            Payload::Message(m) => serde_json::to_string(m),
            Payload::Job(j) => serde_json::to_string(j),
            Payload::Camera(c) => serde_json::to_string(c),
        };
        // Serialising these plain structs cannot fail: no maps with non-string keys, no custom Serialize.
        json.unwrap_or_else(|_| String::from("null"))
    }

    /// Decodes an event received as `event: <topic>` with `data: <json>`.
    pub fn decode(topic: Topic, data: &str) -> Result<Payload, DecodeError> {
        fn parse<T: serde::de::DeserializeOwned>(
            topic: Topic,
            data: &str,
        ) -> Result<T, DecodeError> {
            serde_json::from_str(data).map_err(|e| DecodeError::BadJson {
                topic,
                reason: e.to_string(),
            })
        }
        Ok(match topic {
            Topic::Kitchen | Topic::Livingroom | Topic::Bedroom => {
                let room =
                    Room::from_topic(topic).ok_or(DecodeError::UnknownEvent(topic.to_string()))?;
                Payload::Room(room, parse(topic, data)?)
            }
            Topic::Viewers => Payload::Viewers(parse(topic, data)?),
            Topic::Temperature => Payload::Temperature(parse(topic, data)?),
            Topic::Random => Payload::Random(parse(topic, data)?),
            Topic::Message => Payload::Message(parse(topic, data)?),
            Topic::Job => Payload::Job(parse(topic, data)?),
            Topic::Camera => Payload::Camera(parse(topic, data)?),
        })
    }

    /// Decodes by event name, as a browser hands it over.
    pub fn decode_named(event: &str, data: &str) -> Result<Payload, DecodeError> {
        let topic = Topic::parse(event).map_err(|_| DecodeError::UnknownEvent(event.to_owned()))?;
        Payload::decode(topic, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState};

    fn samples() -> Vec<Payload> {
        let mut room = RoomState::initial(Room::Bedroom, "2026-11-21T10:00:00Z".into());
        room.devices.insert(Device::Lights, DeviceState::On);
        vec![
            Payload::Room(Room::Bedroom, room),
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
    fn every_payload_round_trips_through_its_topic() {
        for payload in samples() {
            let decoded = Payload::decode_named(payload.topic().name(), &payload.to_json());
            assert_eq!(decoded, Ok(payload));
        }
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
        let err = Payload::decode(Topic::Temperature, r#"{"temp": 1}"#).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::BadJson {
                topic: Topic::Temperature,
                ..
            }
        ));
        assert!(matches!(
            Payload::decode_named("garage", "{}"),
            Err(DecodeError::UnknownEvent(_))
        ));
    }
}
