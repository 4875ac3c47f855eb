//! The dashboard's whole state at one sequence number, and the one reducer that moves it forward.
//!
//! The server keeps a `Snapshot` current as it publishes; the browser receives one first and then applies each
//! event with the same [`Snapshot::apply`], so both sides agree on what an event means.

use super::{
    parse_rfc3339_ms, AreaId, BridgeState, CameraShot, DeviceState, Entity, EntityId, JobUpdate,
    Message, Payload, Room, RoomState, Seq, Temperature,
};
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
/// How far back a sensor's trend reaches.
pub const TREND_WINDOW_MS: f64 = 30.0 * 60_000.0;
/// The trend keeps one point per this much time (the newest point moves until the next step is due), so a
/// sensor reporting every second costs the state no more than one reporting every 20 s.
pub const TREND_STEP_MS: f64 = 20_000.0;

/// One point of a sensor's trend: when (ms since the epoch) and the reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub t: f64,
    pub v: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    /// The sequence number of the last event folded into this snapshot: resume from here.
    pub seq: Seq,
    /// The home's entities by id; a list on the wire.
    #[serde(with = "entity_list", default)]
    pub entities: BTreeMap<EntityId, Entity>,
    /// Each numeric sensor's last half hour, oldest first (see [`TREND_STEP_MS`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trends: BTreeMap<EntityId, Vec<TrendPoint>>,
    /// Whether the MQTT broker can be reached, once a bridge to one has said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeState>,
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
    /// The demo rooms as stored before the home was made of entities: read once, turned into entities by
    /// [`Snapshot::upgrade`], never written.
    #[serde(default, rename = "rooms", skip_serializing)]
    pub legacy_rooms: BTreeMap<Room, RoomState>,
}

/// The entity map as a list of entities (the wire's `entities: [...]`), ordered by id.
mod entity_list {
    use super::{Entity, EntityId};
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<EntityId, Entity>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<EntityId, Entity>, D::Error> {
        let list = Vec::<Entity>::deserialize(deserializer)?;
        Ok(list.into_iter().map(|e| (e.id.clone(), e)).collect())
    }
}

/// One area of the home as the dashboard groups it: its id, its name and its entities (ordered by name).
#[derive(Debug, Clone, PartialEq)]
pub struct Area<'a> {
    pub id: &'a AreaId,
    pub name: &'a str,
    pub entities: Vec<&'a Entity>,
}

impl Snapshot {
    /// Folds one event into the state. An event with an id at or below `seq` was already folded in and is
    /// ignored, which makes a replay that overlaps a snapshot harmless; a live-only event (no id) is always
    /// folded in and leaves `seq` where it was.
    pub fn apply(&mut self, id: Option<Seq>, payload: &Payload) -> bool {
        if let Some(id) = id {
            if id <= self.seq {
                return false;
            }
            self.seq = id;
        }
        match payload {
            Payload::Entity(entity) => {
                if let Some(value) = entity.reading() {
                    if let Some(at) = parse_rfc3339_ms(&entity.changed_at) {
                        let points = self.trends.entry(entity.id.clone()).or_default();
                        add_trend_point(points, TrendPoint { t: at, v: value });
                    }
                } else if self.trends.contains_key(&entity.id)
                    && entity.kind != super::EntityKind::Sensor
                {
                    self.trends.remove(&entity.id);
                }
                self.entities.insert(entity.id.clone(), entity.clone());
            }
            Payload::EntityRemoved(removed) => {
                self.entities.remove(&removed.id);
                self.trends.remove(&removed.id);
            }
            Payload::Command(_) => {}
            Payload::Bridge(bridge) => self.bridge = Some(bridge.clone()),
            Payload::Viewers(count) => self.viewers = *count,
            Payload::Temperature(reading) => {
                self.temperatures.push(reading.clone());
                let excess = self.temperatures.len().saturating_sub(MAX_TEMPERATURES);
                self.temperatures.drain(..excess);
            }
            // Neither is the home's state; a Mercure update only moves the id the state stands at.
            Payload::Random(_) | Payload::Mercure(_) => {}
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

    /// Whether what `entity` shows may be out of date: it comes through the MQTT broker, which cannot be
    /// reached.
    pub fn is_stale(&self, entity: &Entity) -> bool {
        entity.source != super::Source::Demo && self.bridge.as_ref().is_some_and(|b| !b.connected)
    }

    /// The entity with this id.
    pub fn entity(&self, id: &EntityId) -> Option<&Entity> {
        self.entities.get(id)
    }

    /// The areas that have entities, by name with the unassigned area last; each with its entities by name.
    pub fn areas(&self) -> Vec<Area<'_>> {
        let mut areas: BTreeMap<&AreaId, Area<'_>> = BTreeMap::new();
        for entity in self.entities.values() {
            areas
                .entry(&entity.area)
                .or_insert_with(|| Area {
                    id: &entity.area,
                    name: &entity.area_name,
                    entities: Vec::new(),
                })
                .entities
                .push(entity);
        }
        let mut areas: Vec<Area<'_>> = areas.into_values().collect();
        for area in &mut areas {
            area.entities.sort_by(|a, b| {
                (a.name.to_ascii_lowercase(), &a.id).cmp(&(b.name.to_ascii_lowercase(), &b.id))
            });
        }
        areas.sort_by_key(|a| (*a.id == AreaId::unassigned(), a.name.to_ascii_lowercase()));
        areas
    }

    /// The area a person means by `name`: an existing area whose id or name it is (names compared without
    /// regard to ASCII case: Unicode's case tables would cost the browser's bundle more than they give), else a new one named so, whose id is the name's slug. `None` when the name has nothing
    /// a slug can be made of.
    pub fn resolve_area(&self, name: &str) -> Option<(AreaId, String)> {
        let name = name.trim();
        let existing = self
            .entities
            .values()
            .find(|e| e.area.as_str() == name || e.area_name.eq_ignore_ascii_case(name));
        if let Some(entity) = existing {
            return Some((entity.area.clone(), entity.area_name.clone()));
        }
        let id = AreaId::from_text(name)?;
        Some((id, name.to_owned()))
    }

    /// `entity` with what a person changed on the dashboard applied over what its device announced: its
    /// own `customized` record, or the one the state holds for its id.
    pub fn customize(&self, mut entity: Entity) -> Entity {
        let Some(custom) = entity
            .customized
            .clone()
            .or_else(|| self.entity(&entity.id).and_then(|e| e.customized.clone()))
        else {
            return entity;
        };
        if let Some(name) = &custom.name {
            entity.name = name.clone();
        }
        if let Some((area, area_name)) = custom.area.as_deref().and_then(|a| self.resolve_area(a)) {
            entity.area = area;
            entity.area_name = area_name;
        }
        entity.customized = Some(custom);
        entity
    }

    /// A demo room as the tutorial's `/smart-home` sends it: its devices' states, and when the latest of them
    /// changed. `None` when none of its entities exists (the demo home is off).
    pub fn room_state(&self, room: Room) -> Option<RoomState> {
        let mut devices = BTreeMap::new();
        let mut updated_at: Option<&str> = None;
        for device in room.devices() {
            let Some(entity) = self.entities.get(&room.entity_id(*device)) else {
                continue;
            };
            if let Some(state) = DeviceState::parse(&entity.state) {
                devices.insert(*device, state);
            }
            if updated_at.is_none_or(|at| entity.changed_at.as_str() > at) {
                updated_at = Some(&entity.changed_at);
            }
        }
        let updated_at = updated_at?.to_owned();
        Some(RoomState {
            devices,
            updated_at,
        })
    }

    /// Turns what an older Hearth stored into today's state: its demo rooms become the demo entities.
    pub fn upgrade(&mut self) {
        for (room, state) in std::mem::take(&mut self.legacy_rooms) {
            for (device, device_state) in &state.devices {
                let entity = room.entity(*device, *device_state, state.updated_at.clone());
                self.entities.entry(entity.id.clone()).or_insert(entity);
            }
        }
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

/// Adds a reading to a trend: a new point once [`TREND_STEP_MS`] has passed since the one before the newest,
/// else the newest point moves; points older than [`TREND_WINDOW_MS`] before the newest go. A reading older than
/// the newest point (a replay) changes nothing.
fn add_trend_point(points: &mut Vec<TrendPoint>, point: TrendPoint) {
    if points.last().is_some_and(|last| point.t < last.t) {
        return;
    }
    let n = points.len();
    if n >= 2 && point.t - points[n - 2].t < TREND_STEP_MS {
        points[n - 1] = point;
    } else {
        points.push(point);
    }
    let oldest = point.t - TREND_WINDOW_MS;
    let stale = points.iter().take_while(|p| p.t < oldest).count();
    points.drain(..stale);
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
        assert!(snap.apply(Some(5), &Payload::Viewers(2)));
        assert!(!snap.apply(Some(5), &Payload::Viewers(9)));
        assert!(!snap.apply(Some(4), &Payload::Viewers(9)));
        assert_eq!((snap.seq, snap.viewers), (5, 2));
    }

    #[test]
    fn messages_are_newest_first_deduplicated_and_bounded() {
        let mut snap = Snapshot::default();
        for id in 1..=(MAX_MESSAGES as u64 + 5) {
            snap.apply(Some(id), &message(id));
        }
        snap.apply(Some(1000), &message(MAX_MESSAGES as u64 + 5));
        assert_eq!(snap.messages.len(), MAX_MESSAGES);
        assert_eq!(snap.messages[0].id, MAX_MESSAGES as u64 + 5);
    }

    #[test]
    fn entities_jobs_and_temperatures_fold_in() {
        let mut snap = Snapshot::default();
        let lights = Room::Kitchen.entity(Device::Lights, DeviceState::On, "t".into());
        snap.apply(Some(1), &Payload::Entity(lights.clone()));
        for i in 0..(MAX_TEMPERATURES + 3) {
            let reading = Temperature {
                temperature: i as f64,
                updated_at: "t".into(),
            };
            snap.apply(Some(2 + i as u64), &Payload::Temperature(reading));
        }
        let job = |progress| JobUpdate {
            id: "a".into(),
            progress,
            done: progress == 100,
        };
        snap.apply(Some(1000), &Payload::Job(job(10)));
        snap.apply(Some(1001), &Payload::Job(job(100)));
        assert_eq!(snap.entity(&lights.id), Some(&lights));
        let room = snap.room_state(Room::Kitchen).unwrap();
        assert_eq!(room.devices.get(&Device::Lights), Some(&DeviceState::On));
        assert_eq!(room.devices.get(&Device::Blinds), None, "not announced");
        assert_eq!(snap.room_state(Room::Bedroom), None);
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
            snap.apply(Some(id), &Payload::Camera(CameraShot::new(id, "t".into())));
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

    #[test]
    fn a_snapshot_stored_with_rooms_upgrades_to_the_demo_entities() {
        let old = r#"{"seq":3,"rooms":{"kitchen":{"lights":"on","blinds":"open","updatedAt":"t0"}},
            "viewers":0,"temperatures":[],"messages":[],"jobs":[]}"#;
        let mut snap: Snapshot = serde_json::from_str(old).unwrap();
        snap.upgrade();
        let room = snap.room_state(Room::Kitchen).unwrap();
        assert_eq!(
            serde_json::to_string(&room).unwrap(),
            r#"{"lights":"on","blinds":"open","updatedAt":"t0"}"#
        );
        let json = serde_json::to_string(&snap).unwrap();
        assert!(!json.contains("\"rooms\""), "{json}");
        assert!(json.contains(r#""entities":[{"#), "a list: {json}");
    }

    #[test]
    fn a_customized_name_and_area_survive_the_device_announcing_itself_again() {
        let mut snap = Snapshot::default();
        for entity in Room::demo_home("t") {
            snap.apply(None, &Payload::Entity(entity));
        }
        assert_eq!(
            snap.resolve_area("LIVING ROOM")
                .map(|(id, _)| id.to_string()),
            Some("livingroom".to_owned()),
            "an existing area by its name"
        );
        assert_eq!(
            snap.resolve_area(" Garden shed ")
                .map(|(id, name)| (id.to_string(), name)),
            Some(("garden-shed".to_owned(), "Garden shed".to_owned()))
        );
        assert_eq!(snap.resolve_area("!!"), None);
        let mut edited = Room::Kitchen.entity(Device::Lights, DeviceState::On, "t".into());
        edited.customized = Some(crate::contract::Customized {
            name: Some("Ceiling".into()),
            area: Some("Living room".into()),
        });
        let edited = snap.customize(edited);
        assert_eq!(
            (edited.name.as_str(), edited.area.as_str()),
            ("Ceiling", "livingroom")
        );
        snap.apply(None, &Payload::Entity(edited));
        // The device announces itself again, as it was: the person's changes stay.
        let announced = Room::Kitchen.entity(Device::Lights, DeviceState::Off, "t2".into());
        let kept = snap.customize(announced);
        assert_eq!(
            (kept.name.as_str(), kept.area.as_str(), kept.state.as_str()),
            ("Ceiling", "livingroom", "off")
        );
    }

    #[test]
    fn areas_group_entities_by_name_with_unassigned_last() {
        let mut snap = Snapshot::default();
        for entity in Room::demo_home("t") {
            snap.apply(None, &Payload::Entity(entity));
        }
        let mut stray = Room::Kitchen.entity(Device::Lights, DeviceState::Off, "t".into());
        stray.id = EntityId::parse("stray").unwrap();
        stray.area = AreaId::unassigned();
        stray.area_name = "Unassigned".into();
        snap.apply(None, &Payload::Entity(stray));
        let areas: Vec<(&str, Vec<&str>)> = snap
            .areas()
            .iter()
            .map(|a| {
                (
                    a.id.as_str(),
                    a.entities.iter().map(|e| e.id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            areas,
            [
                ("bedroom", vec!["bedroom-curtains", "bedroom-lights"]),
                ("kitchen", vec!["kitchen-blinds", "kitchen-lights"]),
                (
                    "livingroom",
                    vec!["livingroom-curtains", "livingroom-lights"]
                ),
                ("unassigned", vec!["stray"]),
            ]
        );
    }

    fn sensor_at(ms: f64, value: f64) -> Payload {
        let mut entity = Room::Kitchen.entity(Device::Lights, DeviceState::Off, String::new());
        entity.id = EntityId::parse("power").unwrap();
        entity.kind = crate::contract::EntityKind::Sensor;
        entity.state = value.to_string();
        let secs = (ms / 1000.0) as i64;
        let (y, m, d) = crate::contract::civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        entity.changed_at = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        );
        Payload::Entity(entity)
    }

    #[test]
    fn a_sensor_trend_keeps_a_point_per_step_over_the_last_half_hour() {
        let mut snap = Snapshot::default();
        let start = 1_800_000_000_000.0;
        // One reading a second for an hour.
        for s in 0..3600 {
            snap.apply(None, &sensor_at(start + s as f64 * 1000.0, s as f64));
        }
        let id = EntityId::parse("power").unwrap();
        let points = &snap.trends[&id];
        let newest = points.last().unwrap();
        assert_eq!(newest.v, 3599.0);
        assert!(points[0].t >= newest.t - TREND_WINDOW_MS);
        // About one point per step: a step is counted from the point before the newest, so at one reading a
        // second the points land a second short of a step apart.
        let steps = (TREND_WINDOW_MS / TREND_STEP_MS) as usize;
        assert!(points.len() <= steps * 11 / 10, "{} points", points.len());
        assert!(points.len() >= 80, "{} points", points.len());
        // A replayed older reading changes nothing; a removal drops the trend.
        let before = points.clone();
        snap.apply(None, &sensor_at(start, -1.0));
        assert_eq!(snap.trends[&id], before);
        snap.apply(
            None,
            &Payload::EntityRemoved(crate::contract::EntityRemoved { id: id.clone() }),
        );
        assert!(!snap.trends.contains_key(&id) && snap.entity(&id).is_none());
    }
}
