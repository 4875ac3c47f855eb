//! The smart home: rooms, their devices and the states a device can be in.

use super::Topic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A room of the demo home. Its name is both the URL segment and the SSE event name on `/smart-home`.
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

    pub const fn topic(self) -> Topic {
        match self {
            Room::Kitchen => Topic::Kitchen,
            Room::Livingroom => Topic::Livingroom,
            Room::Bedroom => Topic::Bedroom,
        }
    }

    pub fn from_topic(topic: Topic) -> Option<Room> {
        Room::ALL.into_iter().find(|r| r.topic() == topic)
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
        for room in Room::ALL {
            assert_eq!(Room::from_topic(room.topic()), Some(room));
        }
    }
}
