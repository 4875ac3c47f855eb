//! The dashboard's whole state at one sequence number, and the one reducer that moves it forward.
//!
//! The server keeps a `Snapshot` current as it publishes; the browser receives one first and then applies each
//! event with the same [`Snapshot::apply`], so both sides agree on what an event means.

use super::{CameraShot, JobUpdate, Message, Payload, Room, RoomState, Temperature};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many recent temperature readings the snapshot keeps: 30 minutes at the sensor's default one reading per
/// 5 s, so the chart has its whole window from the first paint. The chart places readings by their time, so a
/// faster sensor simply fills a shorter stretch of that window.
pub const MAX_TEMPERATURES: usize = 360;
/// How many recent camera shots the snapshot keeps: the image route serves these, so a URL stays good for a while
/// after a newer shot replaced it (a client catching up on missed events can still show what they point at).
pub const MAX_CAMERA_SHOTS: usize = 10;
/// How many recent messages the feed keeps.
pub const MAX_MESSAGES: usize = 50;
/// How many recent jobs are remembered.
const MAX_JOBS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// The sequence number of the last event folded into this snapshot: resume from here.
    pub seq: u64,
    pub rooms: BTreeMap<Room, RoomState>,
    pub viewers: u64,
    /// Oldest first.
    pub temperatures: Vec<Temperature>,
    /// Newest first, as the feed shows them.
    pub messages: Vec<Message>,
    /// Newest first.
    pub jobs: Vec<JobUpdate>,
    /// The front-door camera's recent shots, oldest first. Absent from snapshots stored before the camera
    /// existed, hence the default.
    #[serde(default)]
    pub camera: Vec<CameraShot>,
}

impl Snapshot {
    /// Folds one event into the state. Events at or below `seq` were already folded in and are ignored, which
    /// makes a replay that overlaps a snapshot harmless.
    pub fn apply(&mut self, seq: u64, payload: &Payload) -> bool {
        if seq != 0 && seq <= self.seq {
            return false;
        }
        if seq != 0 {
            self.seq = seq;
        }
        match payload {
            Payload::Room(room, state) => {
                self.rooms.insert(*room, state.clone());
            }
            Payload::Viewers(count) => self.viewers = *count,
            Payload::Temperature(reading) => {
                self.temperatures.push(reading.clone());
                let excess = self.temperatures.len().saturating_sub(MAX_TEMPERATURES);
                self.temperatures.drain(..excess);
            }
            Payload::Random(_) => {}
            Payload::Message(message) => {
                if self.messages.iter().all(|m| m.id != message.id) {
                    self.messages.insert(0, message.clone());
                    self.messages.truncate(MAX_MESSAGES);
                }
            }
            Payload::Job(update) => {
                self.jobs.retain(|j| j.id != update.id);
                self.jobs.insert(0, update.clone());
                self.jobs.truncate(MAX_JOBS);
            }
            Payload::Camera(shot) => {
                self.camera.push(shot.clone());
                let excess = self.camera.len().saturating_sub(MAX_CAMERA_SHOTS);
                self.camera.drain(..excess);
            }
        }
        true
    }

    /// The latest reading, if any.
    pub fn temperature(&self) -> Option<&Temperature> {
        self.temperatures.last()
    }

    /// The camera's latest shot, if it has taken one.
    pub fn camera_shot(&self) -> Option<&CameraShot> {
        self.camera.last()
    }

    /// The kept shot whose image has this id.
    pub fn camera_shot_by_id(&self, id: u64) -> Option<&CameraShot> {
        self.camera.iter().rev().find(|shot| shot.id() == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Device, DeviceState};

    fn message(id: u64) -> Payload {
        Payload::Message(Message {
            id,
            title: "New message!".into(),
            message: format!("m{id}"),
            timestamp: "t".into(),
        })
    }

    #[test]
    fn apply_moves_seq_and_ignores_what_it_already_has() {
        let mut snap = Snapshot::default();
        assert!(snap.apply(5, &Payload::Viewers(2)));
        assert!(!snap.apply(5, &Payload::Viewers(9)));
        assert!(!snap.apply(4, &Payload::Viewers(9)));
        assert_eq!((snap.seq, snap.viewers), (5, 2));
    }

    #[test]
    fn messages_are_newest_first_deduplicated_and_bounded() {
        let mut snap = Snapshot::default();
        for id in 1..=(MAX_MESSAGES as u64 + 5) {
            snap.apply(id, &message(id));
        }
        snap.apply(1000, &message(MAX_MESSAGES as u64 + 5));
        assert_eq!(snap.messages.len(), MAX_MESSAGES);
        assert_eq!(snap.messages[0].id, MAX_MESSAGES as u64 + 5);
    }

    #[test]
    fn rooms_jobs_and_temperatures_fold_in() {
        let mut snap = Snapshot::default();
        let mut state = RoomState::initial(Room::Kitchen, "t".into());
        state.devices.insert(Device::Lights, DeviceState::On);
        snap.apply(1, &Payload::Room(Room::Kitchen, state.clone()));
        for i in 0..(MAX_TEMPERATURES + 3) {
            let reading = Temperature {
                temperature: i as f64,
                updated_at: "t".into(),
            };
            snap.apply(2 + i as u64, &Payload::Temperature(reading));
        }
        let job = |progress| JobUpdate {
            id: "a".into(),
            progress,
            done: progress == 100,
        };
        snap.apply(1000, &Payload::Job(job(10)));
        snap.apply(1001, &Payload::Job(job(100)));
        assert_eq!(snap.rooms.get(&Room::Kitchen), Some(&state));
        assert_eq!(snap.temperatures.len(), MAX_TEMPERATURES);
        assert_eq!(
            snap.temperature().map(|t| t.temperature),
            Some((MAX_TEMPERATURES + 2) as f64)
        );
        assert_eq!(snap.jobs, vec![job(100)]);
    }

    #[test]
    fn camera_shots_are_bounded_and_found_by_id() {
        let mut snap = Snapshot::default();
        for id in 1..=(MAX_CAMERA_SHOTS as u64 + 2) {
            snap.apply(id, &Payload::Camera(CameraShot::new(id, "t".into())));
        }
        assert_eq!(snap.camera.len(), MAX_CAMERA_SHOTS);
        assert_eq!(
            snap.camera_shot().and_then(CameraShot::id),
            Some(MAX_CAMERA_SHOTS as u64 + 2)
        );
        assert!(snap.camera_shot_by_id(1).is_none(), "the oldest fell out");
        assert!(snap.camera_shot_by_id(5).is_some());
    }

    #[test]
    fn a_snapshot_stored_before_the_camera_existed_still_decodes() {
        let old = r#"{"seq":3,"rooms":{},"viewers":0,"temperatures":[],"messages":[],"jobs":[]}"#;
        let snap: Snapshot = serde_json::from_str(old).unwrap();
        assert!(snap.camera.is_empty());
    }
}
