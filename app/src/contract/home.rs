//! The demo home: the tutorial's three rooms and their devices. It is one source of entities among others (its
//! rooms are areas `kitchen`, `livingroom`, `bedroom`; its devices entities `kitchen-lights`, …); what stays a
//! closed set here is the tutorial's own vocabulary, because the seed routes (`/smart-home` with an event per
//! room, `POST /api/rooms/{room}/{device}`) promise its clients exactly these names and payload shapes.

use super::{AreaId, Entity, EntityId, EntityKind, Source};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A room of the demo home. Its name is the URL segment, the SSE event name on `/smart-home` and its area's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Room {
    Kitchen,
    Livingroom,
    Bedroom,
}

/// A device kind. Lights switch on/off; blinds and curtains open/close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Lights,
    Blinds,
    Curtains,
}

/// The state of one device, as the tutorials spell it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    On,
    Off,
    Open,
    Closed,
}

/// The state of a room: `{"blinds":"open","lights":"on","updatedAt":"<RFC 3339>"}`. The device keys are exactly
/// the tutorial's payload; `updatedAt` is extra, which its clients ignore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    #[serde(flatten)]
    pub devices: BTreeMap<Device, DeviceState>,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

impl Room {
    pub const ALL: [Room; 3] = [Room::Kitchen, Room::Livingroom, Room::Bedroom];

    pub const fn name(self) -> &'static str {
        match self {
            Room::Kitchen => "kitchen",
            Room::Livingroom => "livingroom",
            Room::Bedroom => "bedroom",
        }
    }

    /// How a person reads the room's name.
    pub const fn label(self) -> &'static str {
        match self {
            Room::Kitchen => "Kitchen",
            Room::Livingroom => "Living room",
            Room::Bedroom => "Bedroom",
        }
    }

    pub fn parse(name: &str) -> Option<Room> {
        Room::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The devices this room has, in display order.
    pub const fn devices(self) -> &'static [Device] {
        match self {
            Room::Kitchen => &[Device::Lights, Device::Blinds],
            Room::Livingroom | Room::Bedroom => &[Device::Lights, Device::Curtains],
        }
    }

    pub fn has(self, device: Device) -> bool {
        self.devices().contains(&device)
    }

    /// The room's area on the dashboard.
    pub fn area(self) -> AreaId {
        AreaId::known(self.name().to_owned())
    }

    /// The id of the entity that is `device` of this room: `kitchen-lights`.
    pub fn entity_id(self, device: Device) -> EntityId {
        // Both names are fixed lowercase words: their join is a slug as it is.
        EntityId::known(format!("{}-{}", self.name(), device.name()))
    }

    /// The demo entity that is `device` of this room, in `state` since `at`.
    pub fn entity(self, device: Device, state: DeviceState, at: String) -> Entity {
        Entity {
            id: self.entity_id(device),
            name: device.label().to_owned(),
            area: self.area(),
            area_name: self.label().to_owned(),
            kind: device.kind(),
            state: state.name().to_owned(),
            available: true,
            unit: None,
            device_class: device.device_class().map(str::to_owned),
            source: Source::Demo,
            changed_at: at,
            pending: None,
            customized: None,
        }
    }

    /// Every entity of the demo home, each in its "off" state since `at`.
    pub fn demo_home(at: &str) -> Vec<Entity> {
        Room::ALL
            .into_iter()
            .flat_map(|room| {
                room.devices()
                    .iter()
                    .map(move |d| room.entity(*d, d.states()[0], at.to_owned()))
            })
            .collect()
    }

    /// The room and device a demo entity's id names, if it names one.
    pub fn of_entity(id: &EntityId) -> Option<(Room, Device)> {
        Room::ALL.into_iter().find_map(|room| {
            room.devices()
                .iter()
                .find(|d| &room.entity_id(**d) == id)
                .map(|d| (room, *d))
        })
    }
}

impl Device {
    pub const ALL: [Device; 3] = [Device::Lights, Device::Blinds, Device::Curtains];

    pub const fn name(self) -> &'static str {
        match self {
            Device::Lights => "lights",
            Device::Blinds => "blinds",
            Device::Curtains => "curtains",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Device::Lights => "Lights",
            Device::Blinds => "Blinds",
            Device::Curtains => "Curtains",
        }
    }

    pub fn parse(name: &str) -> Option<Device> {
        Device::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The device class of its entity: what kind of cover it is.
    pub const fn device_class(self) -> Option<&'static str> {
        match self {
            Device::Lights => None,
            Device::Blinds => Some("blind"),
            Device::Curtains => Some("curtain"),
        }
    }

    /// What kind of entity this device is.
    pub const fn kind(self) -> EntityKind {
        match self {
            Device::Lights => EntityKind::Light,
            Device::Blinds | Device::Curtains => EntityKind::Cover,
        }
    }

    /// The two states this device moves between, "off" first.
    pub const fn states(self) -> [DeviceState; 2] {
        match self {
            Device::Lights => [DeviceState::Off, DeviceState::On],
            Device::Blinds | Device::Curtains => [DeviceState::Closed, DeviceState::Open],
        }
    }

    pub fn accepts(self, state: DeviceState) -> bool {
        self.states().contains(&state)
    }

    /// The state a toggle moves to from `current`.
    pub fn toggled(self, current: DeviceState) -> DeviceState {
        let [off, on] = self.states();
        if current == on {
            off
        } else {
            on
        }
    }
}

impl DeviceState {
    pub const fn name(self) -> &'static str {
        match self {
            DeviceState::On => "on",
            DeviceState::Off => "off",
            DeviceState::Open => "open",
            DeviceState::Closed => "closed",
        }
    }

    pub fn parse(name: &str) -> Option<DeviceState> {
        [
            DeviceState::On,
            DeviceState::Off,
            DeviceState::Open,
            DeviceState::Closed,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl RoomState {
    /// A room with every device in its "off" state.
    pub fn initial(room: Room, updated_at: String) -> Self {
        let devices = room.devices().iter().map(|d| (*d, d.states()[0])).collect();
        RoomState {
            devices,
            updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_state_serialises_as_the_tutorial_payload_plus_updated_at() {
        let mut state = RoomState::initial(Room::Kitchen, "2026-11-21T00:00:00Z".into());
        state.devices.insert(Device::Blinds, DeviceState::Open);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"lights":"off","blinds":"open","updatedAt":"2026-11-21T00:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<RoomState>(&json).unwrap(), state);
    }

    #[test]
    fn devices_accept_only_their_own_states() {
        assert!(Device::Lights.accepts(DeviceState::On));
        assert!(!Device::Lights.accepts(DeviceState::Open));
        assert!(Device::Curtains.accepts(DeviceState::Closed));
        assert_eq!(
            Device::Blinds.toggled(DeviceState::Closed),
            DeviceState::Open
        );
        assert_eq!(Device::Lights.toggled(DeviceState::On), DeviceState::Off);
    }

    #[test]
    fn rooms_have_the_tutorial_devices() {
        assert!(Room::Kitchen.has(Device::Blinds));
        assert!(!Room::Kitchen.has(Device::Curtains));
        assert!(Room::Bedroom.has(Device::Curtains));
        assert_eq!(Room::parse("livingroom"), Some(Room::Livingroom));
        assert_eq!(Room::parse("garage"), None);
    }

    #[test]
    fn the_demo_home_is_six_entities_with_the_tutorial_ids() {
        let home = Room::demo_home("t");
        let ids: Vec<&str> = home.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "kitchen-lights",
                "kitchen-blinds",
                "livingroom-lights",
                "livingroom-curtains",
                "bedroom-lights",
                "bedroom-curtains"
            ]
        );
        assert_eq!(home[1].kind, EntityKind::Cover);
        assert_eq!(home[1].state, "closed");
        assert_eq!(home[2].area.as_str(), "livingroom");
        assert_eq!(home[2].area_name, "Living room");
        for entity in &home {
            let (room, device) = Room::of_entity(&entity.id).unwrap();
            assert_eq!(room.entity_id(device), entity.id);
        }
        assert_eq!(
            Room::of_entity(&EntityId::parse("kitchen-curtains").unwrap()),
            None
        );
    }
}
