//! What a device announced about one entity, whichever way it announced it (a Home Assistant discovery config,
//! or Zigbee2MQTT's device list): its kind and name, where its state comes from and how to read it, where
//! commands go and what they say, and how it tells whether it is online. [`discovery`](super::discovery) and
//! [`zigbee2mqtt`](super::zigbee2mqtt) make specs; the [`registry`](super::registry) keeps them and reads state
//! messages through them.

use super::template::{RenderError, Template};
use app::contract::{EntityId, EntityKind, Requested, Source};

/// The longest state text kept (Home Assistant's limit too): a sensor sending a page of text is not a reading.
pub const MAX_STATE_CHARS: usize = 255;

/// What makes two announcements the same entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// A discovery config's `unique_id`.
    Unique(String),
    /// A discovery config without one: `<component>/<node_id>/<object_id>` of its topic.
    Topic(String),
    /// A Zigbee device's property, by IEEE address: the same whether Zigbee2MQTT's own device list or its
    /// discovery configs announced it.
    Zigbee { ieee: String, key: String },
}

/// Which announcement a spec came from; an entity announced both ways has two.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A discovery config, by its topic. Ordered first: a discovery config says more (area, names) than the
    /// device list, so it wins when both announce an entity.
    Discovery(String),
    /// Zigbee2MQTT's `bridge/devices`.
    Zigbee2mqtt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub identity: Identity,
    /// The id it gets unless another entity already has it.
    pub preferred_id: EntityId,
    pub kind: EntityKind,
    /// As Home Assistant shows it: the device's name, then the entity's.
    pub name: String,
    /// The device's suggested area, by name.
    pub area: Option<String>,
    pub unit: Option<String>,
    pub device_class: Option<String>,
    pub source: Source,
    pub state: Option<StateSource>,
    /// A cover that reports where it is instead of (or besides) its state.
    pub position: Option<PositionSource>,
    pub command: Option<CommandSink>,
    pub availability: Availability,
}

impl Spec {
    /// Every topic the entity's state and availability come from.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.state
            .iter()
            .map(|s| s.topic.as_str())
            .chain(self.position.iter().map(|p| p.topic.as_str()))
            .chain(self.availability.topics.iter().map(|a| a.topic.as_str()))
    }

    /// Whether the device reports its state, so a command waits for it to confirm.
    pub fn confirms(&self) -> bool {
        self.state.is_some() || self.position.is_some()
    }
}

/// Where an entity's state comes from and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSource {
    pub topic: String,
    pub template: Template,
    pub reading: Reading,
}

/// How a rendered state payload becomes the entity's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// `on`/`off`: switches, lights, binary sensors.
    OnOff {
        on: String,
        off: String,
    },
    Cover(CoverStates),
    /// A reading with a unit: must be a number.
    Number,
    /// Any short text.
    Text,
}

/// The payloads a cover reports for each of its states.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverStates {
    pub open: String,
    pub opening: String,
    pub closed: String,
    pub closing: String,
    pub stopped: String,
}

/// A cover's position topic: `closed` (a number) means closed, anything else open.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionSource {
    pub topic: String,
    pub template: Template,
    pub closed: f64,
}

/// Where commands go and the payload for each request the entity takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSink {
    pub topic: String,
    pub payloads: Vec<(Requested, String)>,
}

impl CommandSink {
    pub fn payload(&self, requested: Requested) -> Option<&str> {
        self.payloads
            .iter()
            .find(|(r, _)| *r == requested)
            .map(|(_, p)| p.as_str())
    }
}

/// How an entity says whether it is online.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    pub topics: Vec<AvailabilityTopic>,
    pub mode: AvailabilityMode,
    /// Whether it counts as online before any of its topics said: no for a discovery config (as in Home
    /// Assistant), yes for Zigbee2MQTT's own topics (its availability feature may be off).
    pub assumed: bool,
}

impl Availability {
    /// Always online: nothing to follow.
    pub fn none() -> Availability {
        Availability {
            topics: Vec::new(),
            mode: AvailabilityMode::Latest,
            assumed: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityTopic {
    pub topic: String,
    pub template: Template,
    pub online: String,
    pub offline: String,
}

impl AvailabilityTopic {
    /// Whether `payload` says online (`Some(true)`), offline, or neither. A payload the template cannot read
    /// is compared as it is, so a JSON template also reads the plain `online` that older firmware sends.
    pub fn read(&self, payload: &str) -> Option<bool> {
        let rendered = self.template.render(payload).ok();
        let said = [rendered.as_deref(), Some(payload)]
            .into_iter()
            .flatten()
            .find_map(|text| {
                let text = text.trim();
                if text == self.online {
                    Some(true)
                } else if text == self.offline {
                    Some(false)
                } else {
                    None
                }
            });
        said
    }
}

/// How several availability topics combine (Home Assistant's `availability_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityMode {
    /// Online only while every topic says so.
    All,
    /// Online while any topic says so.
    Any,
    /// What the topic heard from last says.
    Latest,
}

/// Why a state message was not taken: counted in `/metrics` by [`Ignored::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("larger than --mqtt-max-payload ({0} bytes)")]
    TooLarge(usize),
    #[error("not UTF-8 text")]
    NotText,
    #[error("{0}")]
    Template(RenderError),
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0:?} is none of the states this entity reports")]
    Unexpected(String),
    #[error("longer than {MAX_STATE_CHARS} characters")]
    TooLong,
}

impl Ignored {
    /// The `reason` label of `hearth_mqtt_states_ignored_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Ignored::TooLarge(_) => "too_large",
            Ignored::NotText => "not_text",
            Ignored::Template(_) => "template",
            Ignored::NotANumber(_) => "not_a_number",
            Ignored::Unexpected(_) => "unexpected",
            Ignored::TooLong => "too_long",
        }
    }

    /// Every reason, for the metric's rows.
    pub const REASONS: [&'static str; 6] = [
        "too_large",
        "not_text",
        "template",
        "not_a_number",
        "unexpected",
        "too_long",
    ];
}

/// `text` if it is `wanted`, exactly or but for case (a device sending `on` where `ON` was announced means it).
fn matches(text: &str, wanted: &str) -> bool {
    text == wanted || text.eq_ignore_ascii_case(wanted)
}

impl Reading {
    /// The entity state a rendered payload means.
    pub fn read(&self, text: &str) -> Result<String, Ignored> {
        let trimmed = text.trim();
        match self {
            Reading::OnOff { on, off } => {
                if trimmed == on {
                    Ok("on".into())
                } else if trimmed == off {
                    Ok("off".into())
                } else if matches(trimmed, on) {
                    Ok("on".into())
                } else if matches(trimmed, off) {
                    Ok("off".into())
                } else {
                    Err(Ignored::Unexpected(short(trimmed)))
                }
            }
            Reading::Cover(states) => {
                let states = [
                    (&states.open, "open"),
                    (&states.opening, "opening"),
                    (&states.closed, "closed"),
                    (&states.closing, "closing"),
                    (&states.stopped, "stopped"),
                ];
                // An exact match first: two payloads may differ only in case.
                states
                    .iter()
                    .find(|(payload, _)| trimmed == payload.as_str())
                    .or_else(|| states.iter().find(|(payload, _)| matches(trimmed, payload)))
                    .map(|(_, state)| (*state).to_owned())
                    .ok_or_else(|| Ignored::Unexpected(short(trimmed)))
            }
            Reading::Number => trimmed
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|_| trimmed.to_owned())
                .ok_or_else(|| Ignored::NotANumber(short(trimmed))),
            Reading::Text => {
                if trimmed.chars().count() > MAX_STATE_CHARS {
                    Err(Ignored::TooLong)
                } else if trimmed.is_empty() {
                    Err(Ignored::Unexpected(String::new()))
                } else {
                    Ok(trimmed.to_owned())
                }
            }
        }
    }
}

impl StateSource {
    pub fn read(&self, payload: &str) -> Result<String, Ignored> {
        let text = self.template.render(payload).map_err(Ignored::Template)?;
        self.reading.read(&text)
    }
}

impl PositionSource {
    pub fn read(&self, payload: &str) -> Result<String, Ignored> {
        let text = self.template.render(payload).map_err(Ignored::Template)?;
        let position = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Ignored::NotANumber(short(&text)))?;
        Ok(if position == self.closed {
            "closed"
        } else {
            "open"
        }
        .to_owned())
    }
}

/// A bounded copy of a bad value, for a log line.
fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Whether the state `state` is what a command that left the entity pending on `pending` asked for: the same
/// state, or for a stop any state a cover rests in.
pub fn satisfies(pending: &str, state: &str) -> bool {
    pending == state
        || (pending == Requested::Stop.settled_state() && matches!(state, "open" | "closed"))
}

/// The request an entity's `pending` text stands for.
pub fn requested_of(pending: &str) -> Option<Requested> {
    [
        Requested::On,
        Requested::Off,
        Requested::Open,
        Requested::Closed,
        Requested::Stop,
    ]
    .into_iter()
    .find(|r| r.settled_state() == pending)
}

/// "local_temperature" → "Local temperature": how a property or device class reads in a name.
pub fn humanize(key: &str) -> String {
    let words = key.replace(['_', '-'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_off(on: &str, off: &str) -> Reading {
        Reading::OnOff {
            on: on.into(),
            off: off.into(),
        }
    }

    #[test]
    fn on_off_payloads_are_honoured_in_any_case() {
        let reading = on_off("ON", "OFF");
        assert_eq!(reading.read("ON"), Ok("on".into()));
        assert_eq!(reading.read("off"), Ok("off".into()));
        assert_eq!(on_off("on", "off").read("ON"), Ok("on".into()));
        assert_eq!(on_off("True", "False").read("False"), Ok("off".into()));
        assert!(matches!(
            reading.read("toggle"),
            Err(Ignored::Unexpected(_))
        ));
    }

    #[test]
    fn covers_numbers_and_text() {
        let cover = Reading::Cover(CoverStates {
            open: "OPEN".into(),
            opening: "opening".into(),
            closed: "CLOSE".into(),
            closing: "closing".into(),
            stopped: "STOP".into(),
        });
        assert_eq!(cover.read("CLOSE"), Ok("closed".into()));
        assert_eq!(cover.read("Opening"), Ok("opening".into()));
        assert_eq!(cover.read("stop"), Ok("stopped".into()));
        assert!(cover.read("ajar").is_err());
        assert_eq!(Reading::Number.read(" 21.5\n"), Ok("21.5".into()));
        assert!(matches!(
            Reading::Number.read("warm"),
            Err(Ignored::NotANumber(_))
        ));
        assert!(matches!(
            Reading::Number.read("NaN"),
            Err(Ignored::NotANumber(_))
        ));
        assert_eq!(Reading::Text.read("dry"), Ok("dry".into()));
        assert_eq!(Reading::Text.read(&"x".repeat(300)), Err(Ignored::TooLong));
    }

    #[test]
    fn positions_read_as_open_or_closed() {
        let position = PositionSource {
            topic: "t".into(),
            template: Template::value(),
            closed: 0.0,
        };
        assert_eq!(position.read("0"), Ok("closed".into()));
        assert_eq!(position.read("40"), Ok("open".into()));
        assert!(position.read("half").is_err());
    }

    #[test]
    fn availability_reads_json_and_plain_payloads() {
        let topic = AvailabilityTopic {
            topic: "z/bridge/state".into(),
            template: Template::json_key("state"),
            online: "online".into(),
            offline: "offline".into(),
        };
        assert_eq!(topic.read(r#"{"state":"online"}"#), Some(true));
        assert_eq!(topic.read("offline"), Some(false));
        assert_eq!(topic.read("maybe"), None);
    }

    #[test]
    fn confirmations_and_names() {
        assert!(satisfies("on", "on"));
        assert!(!satisfies("open", "opening"));
        assert!(satisfies("stopped", "closed"));
        assert_eq!(requested_of("stopped"), Some(Requested::Stop));
        assert_eq!(requested_of("opening"), None);
        assert_eq!(humanize("local_temperature"), "Local temperature");
        assert_eq!(humanize("atmospheric_pressure"), "Atmospheric pressure");
    }
}
