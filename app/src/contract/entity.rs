//! The home as data: entities (a lamp, a door sensor, a blind) grouped in areas (the room cards), whatever
//! source announced them — the demo home, a device speaking Home Assistant's MQTT discovery, Zigbee2MQTT.
//!
//! What stays a closed set is what the dashboard must know to draw and command a device: the five kinds and
//! the states a command may ask for. Ids, names, areas, units and device classes are open: they come from the
//! home. On the `entities` topic an [`Entity`] travels whole on every change (`event: entity`), a removal as
//! [`EntityRemoved`] and each command's fate as [`CommandOutcome`].

use super::InputError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Lowercases `text` and turns every run of other characters than `a-z0-9` into one `-`, trimmed at both ends
/// ("Living Room" → `living-room`, "0x00158d0001a2b3c4" → `0x00158d0001a2b3c4`). Empty when nothing is left.
/// ASCII lowercasing is enough (a non-ASCII letter is never `a-z` either way, so "Küche" → `k-che` as with full
/// Unicode lowercasing) and keeps Unicode's case tables out of the browser's bundle.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// Whether `text` is already a slug as [`slugify`] makes them.
fn is_slug(text: &str) -> bool {
    !text.is_empty() && slugify(text) == text
}

/// The longest id or area slug accepted: ids appear in URLs, test ids and log keys.
pub const MAX_SLUG_CHARS: usize = 120;

macro_rules! slug_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts `text` only when it is already a slug (lowercase `a-z0-9` runs joined by single `-`).
            pub fn parse(text: &str) -> Result<Self, InputError> {
                let got = text.chars().count();
                if got > MAX_SLUG_CHARS {
                    return Err(InputError::TooLong { max: MAX_SLUG_CHARS, got });
                }
                if text.is_empty() {
                    return Err(InputError::Empty);
                }
                if !is_slug(text) {
                    return Err(InputError::NotASlug);
                }
                Ok($name(text.to_owned()))
            }

            /// The slug of a free-form text ("Living Room" → `living-room`), cut to [`MAX_SLUG_CHARS`]; `None`
            /// when nothing of it is left.
            pub fn from_text(text: &str) -> Option<Self> {
                let mut slug = slugify(text);
                if slug.len() > MAX_SLUG_CHARS {
                    slug.truncate(MAX_SLUG_CHARS);
                    slug.truncate(slug.trim_end_matches('-').len());
                }
                (!slug.is_empty()).then_some($name(slug))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A slug the contract itself spells (the demo home's ids): checked in its tests, not at run time.
            pub(super) fn known(slug: String) -> Self {
                debug_assert!(is_slug(&slug), "{slug:?} is not a slug");
                $name(slug)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InputError;
            fn try_from(text: String) -> Result<Self, InputError> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_newtype!(
    /// An entity's id: its `unique_id` (or `<component>-<node_id>-<object_id>`) as a slug. It names the
    /// entity in URLs (`/api/entities/{id}`) and in the page's test ids (`device-{id}`, `toggle-{id}`).
    EntityId
);

slug_newtype!(
    /// An area's id: the slug of its name ("Living Room" → `living-room`); the demo home's are `kitchen`,
    /// `livingroom` and `bedroom`.
    AreaId
);

impl EntityId {
    /// This id, or the first of `id-2`, `id-3`, … that `taken` says is free: two devices whose ids slug alike
    /// are two entities.
    pub fn unique(self, taken: impl Fn(&EntityId) -> bool) -> EntityId {
        if !taken(&self) {
            return self;
        }
        (2..)
            .map(|n| EntityId(format!("{}-{n}", self.0)))
            .find(|candidate| !taken(candidate))
            .unwrap_or(self)
    }
}

impl AreaId {
    /// Where entities go whose device suggests no area.
    pub fn unassigned() -> AreaId {
        AreaId(UNASSIGNED.to_owned())
    }
}

/// The area of an entity whose device names none.
pub const UNASSIGNED: &str = "unassigned";
/// How that area reads.
pub const UNASSIGNED_NAME: &str = "Unassigned";

/// What an entity is, which decides how it is drawn and what it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Switch,
    Light,
    Sensor,
    BinarySensor,
    Cover,
}

impl EntityKind {
    pub const ALL: [EntityKind; 5] = [
        EntityKind::Switch,
        EntityKind::Light,
        EntityKind::Sensor,
        EntityKind::BinarySensor,
        EntityKind::Cover,
    ];

    /// The name on the wire, and the Home Assistant component it comes from.
    pub const fn name(self) -> &'static str {
        match self {
            EntityKind::Switch => "switch",
            EntityKind::Light => "light",
            EntityKind::Sensor => "sensor",
            EntityKind::BinarySensor => "binary_sensor",
            EntityKind::Cover => "cover",
        }
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The states a command may ask of this kind (none for sensors).
    pub const fn commands(self) -> &'static [Requested] {
        match self {
            EntityKind::Switch | EntityKind::Light => &[Requested::On, Requested::Off],
            EntityKind::Cover => &[Requested::Open, Requested::Closed, Requested::Stop],
            EntityKind::Sensor | EntityKind::BinarySensor => &[],
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who announced an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The demo home (the embedded default).
    Demo,
    /// A device speaking Home Assistant's MQTT discovery.
    Mqtt,
    /// A Zigbee device, through Zigbee2MQTT's own topics (or its discovery: one entity either way).
    Zigbee2mqtt,
}

/// The state text an entity shows before its device has said anything.
pub const UNKNOWN: &str = "unknown";

/// States a command may ask for: `on`/`off` for switches and lights, `open`/`closed`/`stop` for covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requested {
    On,
    Off,
    Open,
    Closed,
    Stop,
}

impl Requested {
    pub const fn name(self) -> &'static str {
        match self {
            Requested::On => "on",
            Requested::Off => "off",
            Requested::Open => "open",
            Requested::Closed => "closed",
            Requested::Stop => "stop",
        }
    }

    /// The request `text` names for an entity of `kind`, or why there is none.
    pub fn for_kind(kind: EntityKind, text: &str) -> Result<Requested, BadCommand> {
        kind.commands()
            .iter()
            .copied()
            .find(|r| r.name() == text)
            .ok_or_else(|| BadCommand {
                kind,
                got: text.to_owned(),
            })
    }

    /// The state an entity shows once the device did what was asked (`stop` leaves a cover `stopped`).
    pub const fn settled_state(self) -> &'static str {
        match self {
            Requested::Stop => "stopped",
            other => other.name(),
        }
    }
}

impl fmt::Display for Requested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A command that names a state the entity's kind does not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_bad_command(*.kind, .got))]
pub struct BadCommand {
    pub kind: EntityKind,
    pub got: String,
}

fn describe_bad_command(kind: EntityKind, got: &str) -> String {
    let allowed: Vec<&str> = kind.commands().iter().map(|r| r.name()).collect();
    if allowed.is_empty() {
        format!("a {kind} takes no commands (asked for {got:?})")
    } else {
        format!(
            "a {kind} can be set to {} (asked for {got:?})",
            allowed.join(", ")
        )
    }
}

/// What a person changed on the dashboard: kept over what the device announces, so a device announcing itself
/// again does not undo a rename or a move.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customized {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The area's name as the person gave it (its id is its slug, or an existing area of that name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
}

impl Customized {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.area.is_none()
    }
}

/// One device of the home, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: EntityId,
    pub name: String,
    pub area: AreaId,
    #[serde(rename = "areaName")]
    pub area_name: String,
    pub kind: EntityKind,
    /// `on`/`off` (switch, light, binary sensor), `open`/`closed`/`opening`/`closing`/`stopped` (cover), the
    /// reading as text (sensor), or `unknown` until the device has said.
    pub state: String,
    /// False while the device says it is offline: it is shown, greyed, and takes no commands.
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(
        rename = "deviceClass",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_class: Option<String>,
    pub source: Source,
    /// When its state or availability last changed (RFC 3339).
    #[serde(rename = "changedAt")]
    pub changed_at: String,
    /// The state a command asked for, while the device has not confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// What a person changed on the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized: Option<Customized>,
}

impl Entity {
    /// The reading as a number, for a sensor whose state is one.
    pub fn reading(&self) -> Option<f64> {
        if self.kind != EntityKind::Sensor {
            return None;
        }
        // JSON's number grammar ("21.5", "-3", "1e3"), read by the JSON parser the bundle has anyway rather
        // than a second float parser.
        serde_json::from_str::<f64>(self.state.trim())
            .ok()
            .filter(|v| v.is_finite())
    }

    /// Whether the switch of this entity shows "on" (a light or switch on, a cover open or opening).
    pub fn is_on(&self) -> bool {
        matches!(self.state.as_str(), "on" | "open" | "opening")
    }

    /// What a toggle asks for from the current state.
    pub fn toggled(&self) -> Option<Requested> {
        match self.kind {
            EntityKind::Switch | EntityKind::Light => Some(if self.is_on() {
                Requested::Off
            } else {
                Requested::On
            }),
            EntityKind::Cover => Some(if self.is_on() {
                Requested::Closed
            } else {
                Requested::Open
            }),
            EntityKind::Sensor | EntityKind::BinarySensor => None,
        }
    }

    /// How a binary sensor's state reads for its device class ("open" for a door that is on, "motion" /
    /// "clear"); any other entity's state as it is.
    pub fn state_text(&self) -> &str {
        if self.kind != EntityKind::BinarySensor {
            return &self.state;
        }
        let on = match self.state.as_str() {
            "on" => true,
            "off" => false,
            other => return other,
        };
        let (yes, no) = match self.device_class.as_deref() {
            Some("door" | "window" | "garage_door" | "opening") => ("open", "closed"),
            Some("motion" | "occupancy" | "presence") => ("motion", "clear"),
            Some("moisture") => ("wet", "dry"),
            Some("smoke" | "gas" | "carbon_monoxide" | "safety" | "problem" | "tamper") => {
                ("detected", "clear")
            }
            Some("lock") => ("unlocked", "locked"),
            Some("connectivity") => ("connected", "disconnected"),
            Some("battery") => ("low", "normal"),
            Some("plug" | "power" | "running") => ("on", "off"),
            _ => ("on", "off"),
        };
        if on {
            yes
        } else {
            no
        }
    }
}

/// `entity-removed`: the entity is gone (its device withdrew its config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRemoved {
    pub id: EntityId,
}

/// What became of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Handed to the broker for the device (or applied at once, for an entity that reports no state).
    Sent,
    /// The device reported the state that was asked for.
    Confirmed,
    /// The device did not report it in time; the entity shows what the device last said.
    Timeout,
}

/// `command`: one step of a command's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    pub id: EntityId,
    pub requested: Requested,
    pub outcome: Outcome,
}

/// `bridge`: whether Hearth can reach the MQTT broker its devices talk through. While it cannot, every entity
/// from the broker is shown as possibly out of date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeState {
    pub connected: bool,
    /// Since when (RFC 3339).
    #[serde(rename = "changedAt")]
    pub changed_at: String,
    /// What is wrong, while it is not connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_runs_joined_by_single_dashes() {
        assert_eq!(slugify("Living Room"), "living-room");
        assert_eq!(slugify("  --Hall__Light #2--"), "hall-light-2");
        assert_eq!(slugify("0x00158D0001A2B3C4"), "0x00158d0001a2b3c4");
        assert_eq!(slugify("Küche"), "k-che");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(
            AreaId::from_text("Living Room").map(String::from),
            Some("living-room".into())
        );
        assert_eq!(AreaId::from_text("%%"), None);
    }

    #[test]
    fn ids_parse_only_when_already_slugs() {
        assert!(EntityId::parse("kitchen-lights").is_ok());
        for bad in ["Kitchen", "a--b", "-a", "a-", "a b", ""] {
            assert!(EntityId::parse(bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(MAX_SLUG_CHARS + 1);
        assert!(matches!(
            EntityId::parse(&long),
            Err(InputError::TooLong { .. })
        ));
        assert!(serde_json::from_str::<EntityId>(r#""Not A Slug""#).is_err());
        let cut = EntityId::from_text(&format!("{}-b", "a".repeat(MAX_SLUG_CHARS))).unwrap();
        assert!(cut.as_str().len() <= MAX_SLUG_CHARS && !cut.as_str().ends_with('-'));
    }

    #[test]
    fn colliding_ids_get_numbered() {
        let taken = ["lamp", "lamp-2"];
        let id = EntityId::parse("lamp")
            .unwrap()
            .unique(|c| taken.contains(&c.as_str()));
        assert_eq!(id.as_str(), "lamp-3");
        let free = EntityId::parse("desk").unwrap().unique(|_| false);
        assert_eq!(free.as_str(), "desk");
    }

    #[test]
    fn commands_are_checked_against_the_kind() {
        assert_eq!(
            Requested::for_kind(EntityKind::Light, "on"),
            Ok(Requested::On)
        );
        assert_eq!(
            Requested::for_kind(EntityKind::Cover, "stop"),
            Ok(Requested::Stop)
        );
        let err = Requested::for_kind(EntityKind::Switch, "open").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"a switch can be set to on, off (asked for "open")"#
        );
        assert!(Requested::for_kind(EntityKind::Sensor, "on")
            .unwrap_err()
            .to_string()
            .contains("takes no commands"));
    }

    fn entity(kind: EntityKind, state: &str, class: Option<&str>) -> Entity {
        Entity {
            id: EntityId::parse("e").unwrap(),
            name: "E".into(),
            area: AreaId::unassigned(),
            area_name: UNASSIGNED_NAME.into(),
            kind,
            state: state.into(),
            available: true,
            unit: None,
            device_class: class.map(str::to_owned),
            source: Source::Mqtt,
            changed_at: "2026-12-04T10:00:00.000Z".into(),
            pending: None,
            customized: None,
        }
    }

    #[test]
    fn an_entity_serialises_with_the_contract_names_and_without_empty_options() {
        let e = entity(EntityKind::BinarySensor, "on", Some("door"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "e", "name": "E", "area": "unassigned", "areaName": "Unassigned",
                "kind": "binary_sensor", "state": "on", "available": true, "deviceClass": "door",
                "source": "mqtt", "changedAt": "2026-12-04T10:00:00.000Z"})
        );
        assert_eq!(serde_json::from_value::<Entity>(json).unwrap(), e);
    }

    #[test]
    fn binary_sensors_read_as_what_they_are() {
        assert_eq!(
            entity(EntityKind::BinarySensor, "on", Some("door")).state_text(),
            "open"
        );
        assert_eq!(
            entity(EntityKind::BinarySensor, "off", Some("motion")).state_text(),
            "clear"
        );
        assert_eq!(
            entity(EntityKind::BinarySensor, "unknown", Some("door")).state_text(),
            "unknown"
        );
        assert_eq!(entity(EntityKind::Light, "on", None).state_text(), "on");
    }

    #[test]
    fn readings_and_toggles() {
        assert_eq!(
            entity(EntityKind::Sensor, " 21.5 ", None).reading(),
            Some(21.5)
        );
        assert_eq!(entity(EntityKind::Sensor, "NaN", None).reading(), None);
        assert_eq!(entity(EntityKind::Light, "1", None).reading(), None);
        assert_eq!(
            entity(EntityKind::Cover, "opening", None).toggled(),
            Some(Requested::Closed)
        );
        assert_eq!(
            entity(EntityKind::Light, "unknown", None).toggled(),
            Some(Requested::On)
        );
        assert_eq!(entity(EntityKind::Sensor, "1", None).toggled(), None);
    }
}
