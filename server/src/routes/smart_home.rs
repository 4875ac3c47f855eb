//! The tutorial's `/smart-home` stream, kept in its shape: one named event per demo room (`kitchen`,
//! `livingroom`, `bedroom`) whose data is the room's whole state (`{"blinds":"open","lights":"on",...}`).
//!
//! The home is entities now, and a demo device's change is its entity's event. This stream turns each such
//! event into its room's state, carrying the entity event's id, so a client resumes with `Last-Event-ID` as on
//! any stream. It keeps the rooms' states for that: from the state it started from, moved forward by each event
//! it sends. A resumed stream starts from the current state, so while it replays, a room's other devices show
//! their current states; once it is caught up every room is exact.

use crate::event::Event;
use crate::stream::Render;
use app::contract::{Payload, Room, RoomState, Snapshot};
use bytes::Bytes;
use sse::frame;
use std::collections::BTreeMap;

/// Each demo room's state as an event under the snapshot's id: how a fresh (or reset) stream begins.
pub fn rooms(snapshot: &Snapshot) -> Vec<Bytes> {
    Room::ALL
        .into_iter()
        .filter_map(|room| {
            let state = snapshot.room_state(room)?;
            Some(room_frame(Some(snapshot.seq), room, &state))
        })
        .collect()
}

fn room_frame(id: Option<u64>, room: Room, state: &RoomState) -> Bytes {
    let json = serde_json::to_string(state).unwrap_or_else(|_| "{}".to_owned());
    frame(id, Some(room.name()), &json)
}

/// Renders demo entities' events as their rooms' states, starting from `snapshot`; skips every other event.
pub fn render(snapshot: &Snapshot) -> Render {
    let mut known: BTreeMap<Room, RoomState> = Room::ALL
        .into_iter()
        .filter_map(|room| Some((room, snapshot.room_state(room)?)))
        .collect();
    Box::new(move |event: &Event| {
        let Payload::Entity(entity) = &event.payload else {
            return None;
        };
        let (room, device) = Room::of_entity(&entity.id)?;
        let state = app::contract::DeviceState::parse(&entity.state)?;
        let room_state = known.entry(room).or_insert_with(|| RoomState {
            devices: BTreeMap::new(),
            updated_at: entity.changed_at.clone(),
        });
        room_state.devices.insert(device, state);
        if entity.changed_at > room_state.updated_at {
            room_state.updated_at.clone_from(&entity.changed_at);
        }
        Some(room_frame(event.id, room, room_state))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::contract::{Device, DeviceState};

    fn demo() -> Snapshot {
        let mut snapshot = Snapshot::default();
        for entity in Room::demo_home("2026-12-04T10:00:00.000Z") {
            snapshot.apply(Some(snapshot.seq + 1), &Payload::Entity(entity));
        }
        snapshot
    }

    #[test]
    fn a_fresh_stream_begins_with_every_room_in_the_tutorial_shape() {
        let frames = rooms(&demo());
        assert_eq!(frames.len(), 3);
        assert_eq!(
            std::str::from_utf8(&frames[0]).unwrap(),
            "id: 6\nevent: kitchen\ndata: {\"lights\":\"off\",\"blinds\":\"closed\",\"updatedAt\":\"2026-12-04T10:00:00.000Z\"}\n\n"
        );
        assert!(
            rooms(&Snapshot::default()).is_empty(),
            "no demo home, no rooms"
        );
    }

    #[test]
    fn a_device_change_is_sent_as_its_whole_room_under_the_entity_events_id() {
        let snapshot = demo();
        let mut render = render(&snapshot);
        let lights = Room::Livingroom.entity(
            Device::Lights,
            DeviceState::On,
            "2026-12-04T10:00:05.000Z".into(),
        );
        let framed = render(&Event::durable(41, Payload::Entity(lights))).unwrap();
        assert_eq!(
            std::str::from_utf8(&framed).unwrap(),
            "id: 41\nevent: livingroom\ndata: {\"lights\":\"on\",\"curtains\":\"closed\",\"updatedAt\":\"2026-12-04T10:00:05.000Z\"}\n\n"
        );
        let mut stranger = Room::Kitchen.entity(Device::Lights, DeviceState::On, "t".into());
        stranger.id = app::contract::EntityId::parse("desk-lamp").unwrap();
        assert!(render(&Event::durable(42, Payload::Entity(stranger))).is_none());
        assert!(render(&Event::live(Payload::Viewers(2))).is_none());
    }
}
