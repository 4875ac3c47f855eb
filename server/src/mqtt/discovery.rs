//! Home Assistant's MQTT discovery: a retained config at `<prefix>/<component>/[<node_id>/]<object_id>/config`
//! announces one entity, an empty one withdraws it. This reads a config the way Home Assistant does, because
//! that is what firmware is written against: abbreviations and the `~` base expanded first, unknown keys ignored,
//! the documented defaults (`ON`/`OFF`, `state_on` = `payload_on`, `online`/`offline`, …) filled in, and the
//! entity named as Home Assistant names it. What cannot be read (not JSON, a component or template Hearth does
//! not know, a missing topic its kind needs) is a [`Skip`] with the reason, never a guess.

use super::abbreviations;
use super::spec::{
    humanize, Availability, AvailabilityMode, AvailabilityTopic, CommandSink, CoverStates,
    Identity, PositionSource, Reading, Spec, StateSource,
};
use super::template::{Template, TemplateError};
use app::contract::{EntityId, EntityKind, Requested, Source};
use serde_json::{Map, Value};

/// The longest topic accepted in a config (MQTT allows 65,535 bytes; real ones are short).
pub const MAX_TOPIC_BYTES: usize = 1024;
/// The longest entity name kept.
const MAX_NAME_CHARS: usize = 200;
/// The prefix Zigbee2MQTT gives its devices' identifiers, followed by the IEEE address.
const ZIGBEE2MQTT_IDENTIFIER: &str = "zigbee2mqtt_";

/// Where a config came from, from its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigTopic {
    pub component: String,
    pub node_id: Option<String>,
    pub object_id: String,
}

/// Why a config (or the device list) was not taken: counted in `/metrics` by [`Skip::reason`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Skip {
    #[error("larger than --mqtt-max-payload ({0} bytes)")]
    TooLarge(usize),
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error(
        "unknown component {0:?}: Hearth shows switch, light, sensor, binary_sensor and cover"
    )]
    UnknownComponent(String),
    #[error("{0}")]
    Incomplete(String),
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("{0}")]
    BadTopic(String),
    #[error("more than --max-entities ({0}) entities")]
    TooMany(usize),
    #[error("disabled by default (enabled_by_default: false)")]
    Disabled,
}

impl Skip {
    /// The `reason` label of `hearth_mqtt_configs_skipped_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Skip::TooLarge(_) => "too_large",
            Skip::NotJson(_) => "not_json",
            Skip::UnknownComponent(_) => "unknown_component",
            Skip::Incomplete(_) => "incomplete",
            Skip::Template(_) => "template",
            Skip::BadTopic(_) => "bad_topic",
            Skip::TooMany(_) => "too_many_entities",
            Skip::Disabled => "disabled",
        }
    }

    /// Every reason, for the metric's rows.
    pub const REASONS: [&'static str; 8] = [
        "too_large",
        "not_json",
        "unknown_component",
        "incomplete",
        "template",
        "bad_topic",
        "too_many_entities",
        "disabled",
    ];
}

/// The topic filters that receive every config under `prefix` (with and without a node id), as Home Assistant
/// subscribes.
pub fn subscriptions(prefix: &str) -> [String; 2] {
    [
        format!("{prefix}/+/+/config"),
        format!("{prefix}/+/+/+/config"),
    ]
}

/// The topic Hearth announces itself on when it connects, so devices announce again.
pub fn status_topic(prefix: &str) -> String {
    format!("{prefix}/status")
}

fn is_id_part(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The parts of a config topic under `prefix`, if it is one.
pub fn config_topic(prefix: &str, topic: &str) -> Option<ConfigTopic> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let rest = rest.strip_suffix("/config")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let (component, node_id, object_id) = match parts.as_slice() {
        [component, object_id] => (*component, None, *object_id),
        [component, node_id, object_id] => (*component, Some(*node_id), *object_id),
        _ => return None,
    };
    let component_ok = !component.is_empty()
        && component
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    (component_ok && node_id.is_none_or(is_id_part) && is_id_part(object_id)).then(|| ConfigTopic {
        component: component.to_owned(),
        node_id: node_id.map(str::to_owned),
        object_id: object_id.to_owned(),
    })
}

/// Reads the config `payload` published on `topic`: `Ok(None)` withdraws the entity (an empty payload).
pub fn read_config(topic: &ConfigTopic, payload: &[u8]) -> Result<Option<Spec>, Skip> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(payload).map_err(|e| Skip::NotJson(e.to_string()))?;
    let Value::Object(mut config) = value else {
        return Err(Skip::NotJson("a JSON value that is not an object".into()));
    };
    let kind = EntityKind::parse(&topic.component)
        .ok_or_else(|| Skip::UnknownComponent(topic.component.clone()))?;
    abbreviations::expand(&mut config);
    let config = Config(config);
    if config.get("enabled_by_default") == Some(&Value::Bool(false)) {
        return Err(Skip::Disabled);
    }
    let device = config.device();
    let zigbee = device.as_ref().and_then(Device::zigbee_ieee);
    let identity = match (&zigbee, config.text("unique_id")) {
        (Some(ieee), _) => Identity::Zigbee {
            ieee: ieee.clone(),
            key: topic.object_id.clone(),
        },
        (None, Some(unique_id)) => Identity::Unique(unique_id),
        (None, None) => Identity::Topic(match &topic.node_id {
            Some(node) => format!("{}/{node}/{}", topic.component, topic.object_id),
            None => format!("{}/{}", topic.component, topic.object_id),
        }),
    };
    let preferred_id = preferred_id(topic, config.text("unique_id").as_deref())?;
    let device_class = config.text("device_class").filter(|c| !c.is_empty());
    let name = entity_name(
        &config,
        device.as_ref(),
        kind,
        device_class.as_deref(),
        topic,
    );
    let mut spec = Spec {
        identity,
        preferred_id,
        kind,
        name,
        area: device.as_ref().and_then(|d| d.suggested_area.clone()),
        unit: config.text("unit_of_measurement").filter(|u| !u.is_empty()),
        device_class,
        source: if zigbee.is_some() {
            Source::Zigbee2mqtt
        } else {
            Source::Mqtt
        },
        state: None,
        position: None,
        command: None,
        availability: config.availability()?,
    };
    match kind {
        EntityKind::Switch => on_off_device(&config, &mut spec, "value_template")?,
        EntityKind::Light => light(&config, &mut spec)?,
        EntityKind::Sensor => {
            let reading = if spec.unit.is_some() {
                Reading::Number
            } else {
                Reading::Text
            };
            spec.state = Some(config.required_state(kind, "value_template", reading)?);
        }
        EntityKind::BinarySensor => {
            let reading = Reading::OnOff {
                on: config.text_or("payload_on", "ON"),
                off: config.text_or("payload_off", "OFF"),
            };
            spec.state = Some(config.required_state(kind, "value_template", reading)?);
        }
        EntityKind::Cover => cover(&config, &mut spec)?,
    }
    Ok(Some(spec))
}

/// The id an entity asks for: its `unique_id` as a slug, else `<component>-<node_id>-<object_id>`.
fn preferred_id(topic: &ConfigTopic, unique_id: Option<&str>) -> Result<EntityId, Skip> {
    let from_topic = || {
        let text = match &topic.node_id {
            Some(node) => format!("{}-{node}-{}", topic.component, topic.object_id),
            None => format!("{}-{}", topic.component, topic.object_id),
        };
        EntityId::from_text(&text)
    };
    unique_id
        .and_then(EntityId::from_text)
        .or_else(from_topic)
        .ok_or_else(|| Skip::BadTopic("neither its unique_id nor its topic makes an id".into()))
}

/// The name Home Assistant shows: the device's name, then the entity's; no entity name (or `null`, or the
/// device's own) → the device's; a sensor with no `name` key is named by its device class.
fn entity_name(
    config: &Config,
    device: Option<&Device>,
    kind: EntityKind,
    device_class: Option<&str>,
    topic: &ConfigTopic,
) -> String {
    let device_name = device.and_then(|d| d.name.as_deref());
    let own: Option<String> = match config.get("name") {
        Some(Value::Null) => None,
        Some(_) => config.text("name").filter(|n| !n.trim().is_empty()),
        None => match (kind, device_class) {
            (EntityKind::Sensor | EntityKind::BinarySensor, Some(class)) => Some(humanize(class)),
            _ => None,
        },
    };
    let name = match (device_name, own) {
        (Some(device), Some(own)) if own != device => format!("{device} {own}"),
        (Some(device), _) => device.to_owned(),
        (None, Some(own)) => own,
        (None, None) => humanize(&topic.object_id),
    };
    name.trim().chars().take(MAX_NAME_CHARS).collect()
}

/// A switch, or a light of the default schema: on/off by payloads, commands to `command_topic`.
fn on_off_device(config: &Config, spec: &mut Spec, state_template_key: &str) -> Result<(), Skip> {
    let command_topic = config.required_topic("command_topic", spec.kind)?;
    let payload_on = config.text_or("payload_on", "ON");
    let payload_off = config.text_or("payload_off", "OFF");
    let reading = Reading::OnOff {
        on: config
            .text("state_on")
            .unwrap_or_else(|| payload_on.clone()),
        off: config
            .text("state_off")
            .unwrap_or_else(|| payload_off.clone()),
    };
    spec.state = config.state(state_template_key, reading)?;
    let render = config.command_template()?;
    spec.command = Some(CommandSink {
        topic: command_topic,
        payloads: vec![
            (Requested::On, render(&payload_on)),
            (Requested::Off, render(&payload_off)),
        ],
    });
    Ok(())
}

fn light(config: &Config, spec: &mut Spec) -> Result<(), Skip> {
    match config.text("schema").as_deref() {
        None | Some("default" | "basic") => on_off_device(config, spec, "state_value_template"),
        // What Zigbee2MQTT's discovery and many libraries announce: state and commands are JSON objects.
        Some("json") => {
            let command_topic = config.required_topic("command_topic", spec.kind)?;
            spec.state = config.topic("state_topic")?.map(|topic| StateSource {
                topic,
                template: Template::json_key("state"),
                reading: Reading::OnOff {
                    on: "ON".into(),
                    off: "OFF".into(),
                },
            });
            spec.command = Some(CommandSink {
                topic: command_topic,
                payloads: vec![
                    (Requested::On, r#"{"state":"ON"}"#.into()),
                    (Requested::Off, r#"{"state":"OFF"}"#.into()),
                ],
            });
            Ok(())
        }
        Some(other) => Err(Skip::Template(TemplateError::new(format!(
            "the {other:?} light schema"
        )))),
    }
}

fn cover(config: &Config, spec: &mut Spec) -> Result<(), Skip> {
    let states = CoverStates {
        open: config.text_or("state_open", "open"),
        opening: config.text_or("state_opening", "opening"),
        closed: config.text_or("state_closed", "closed"),
        closing: config.text_or("state_closing", "closing"),
        stopped: config.text_or("state_stopped", "stopped"),
    };
    spec.state = config.state("value_template", Reading::Cover(states))?;
    if let Some(topic) = config.topic("position_topic")? {
        spec.position = Some(PositionSource {
            topic,
            template: config.template("position_template")?,
            closed: config.number("position_closed").unwrap_or(0.0),
        });
    }
    if let Some(topic) = config.topic("command_topic")? {
        let render = config.command_template()?;
        // `payload_stop: null` says the cover cannot stop; the other two are always there.
        let payloads = [
            (Requested::Open, "payload_open", Some("OPEN")),
            (Requested::Closed, "payload_close", Some("CLOSE")),
            (Requested::Stop, "payload_stop", Some("STOP")),
        ]
        .into_iter()
        .filter_map(|(requested, key, default)| {
            let payload = match config.get(key) {
                Some(Value::Null) => None,
                Some(_) => config.text(key),
                None => default.map(str::to_owned),
            };
            payload.map(|p| (requested, render(&p)))
        })
        .collect();
        spec.command = Some(CommandSink { topic, payloads });
    }
    if spec.state.is_none() && spec.position.is_none() && spec.command.is_none() {
        return Err(Skip::Incomplete(
            "a cover needs a state_topic, a position_topic or a command_topic".into(),
        ));
    }
    Ok(())
}

/// A config with its abbreviations expanded.
struct Config(Map<String, Value>);

/// The parts of `device` that Hearth uses.
struct Device {
    name: Option<String>,
    suggested_area: Option<String>,
    identifiers: Vec<String>,
}

impl Device {
    /// The IEEE address of a Zigbee2MQTT device (`identifiers: ["zigbee2mqtt_0x00158d…"]`).
    fn zigbee_ieee(&self) -> Option<String> {
        self.identifiers.iter().find_map(|id| {
            let ieee = id.strip_prefix(ZIGBEE2MQTT_IDENTIFIER)?;
            let hex = ieee.strip_prefix("0x")?;
            (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| ieee.to_ascii_lowercase())
        })
    }
}

/// A JSON scalar as Home Assistant's `cv.string` makes it text: `true` → `True`, `1` → `1`.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Config {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(scalar_text)
    }

    fn text_or(&self, key: &str, default: &str) -> String {
        self.text(key).unwrap_or_else(|| default.to_owned())
    }

    fn number(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn device(&self) -> Option<Device> {
        let Value::Object(device) = self.get("device")? else {
            return None;
        };
        let text = |key: &str| {
            device
                .get(key)
                .and_then(scalar_text)
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        let identifiers = match device.get("identifiers") {
            Some(Value::Array(ids)) => ids.iter().filter_map(scalar_text).collect(),
            Some(one) => scalar_text(one).into_iter().collect(),
            None => Vec::new(),
        };
        Some(Device {
            name: text("name"),
            suggested_area: text("suggested_area"),
            identifiers,
        })
    }

    /// A topic Hearth subscribes to or publishes on: text, no wildcards, not too long.
    fn topic(&self, key: &str) -> Result<Option<String>, Skip> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Value::String(topic) = value else {
            return Err(Skip::BadTopic(format!("{key} is not text")));
        };
        if topic.is_empty() {
            return Ok(None);
        }
        check_topic(key, topic)?;
        Ok(Some(topic.clone()))
    }

    fn required_topic(&self, key: &str, kind: EntityKind) -> Result<String, Skip> {
        self.topic(key)?
            .ok_or_else(|| Skip::Incomplete(format!("a {kind} needs a {key}")))
    }

    fn template(&self, key: &str) -> Result<Template, Skip> {
        match self.text(key) {
            Some(text) if !text.trim().is_empty() => Ok(Template::parse(&text)?),
            _ => Ok(Template::value()),
        }
    }

    /// The state source from `state_topic` read through the template at `template_key`, if there is one.
    fn state(&self, template_key: &str, reading: Reading) -> Result<Option<StateSource>, Skip> {
        let Some(topic) = self.topic("state_topic")? else {
            return Ok(None);
        };
        Ok(Some(StateSource {
            topic,
            template: self.template(template_key)?,
            reading,
        }))
    }

    fn required_state(
        &self,
        kind: EntityKind,
        template_key: &str,
        reading: Reading,
    ) -> Result<StateSource, Skip> {
        self.state(template_key, reading)?
            .ok_or_else(|| Skip::Incomplete(format!("a {kind} needs a state_topic")))
    }

    /// How a command payload is rendered: as it is, or through a `command_template` that only passes it on.
    fn command_template(&self) -> Result<fn(&str) -> String, Skip> {
        match self.text("command_template") {
            None => Ok(str::to_owned),
            Some(text) if Template::parse(&text).is_ok_and(|t| t == Template::value()) => {
                Ok(str::to_owned)
            }
            Some(_) => Err(Skip::Template(TemplateError::new(
                "a command_template other than {{ value }}".into(),
            ))),
        }
    }

    /// `availability` (a list, or one object), or `availability_topic` with the top-level payloads.
    fn availability(&self) -> Result<Availability, Skip> {
        let online = self.text_or("payload_available", "online");
        let offline = self.text_or("payload_not_available", "offline");
        let mut topics = Vec::new();
        if let Some(topic) = self.topic("availability_topic")? {
            topics.push(AvailabilityTopic {
                topic,
                template: self.template("availability_template")?,
                online: online.clone(),
                offline: offline.clone(),
            });
        }
        let entries: Vec<&Value> = match self.get("availability") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        for entry in entries {
            let Value::Object(entry) = entry else {
                return Err(Skip::BadTopic(
                    "an availability entry is not an object".into(),
                ));
            };
            let entry = Config(entry.clone());
            let topic = entry
                .topic("topic")?
                .ok_or_else(|| Skip::Incomplete("an availability entry needs a topic".into()))?;
            topics.push(AvailabilityTopic {
                topic,
                template: entry.template("value_template")?,
                online: entry.text_or("payload_available", "online"),
                offline: entry.text_or("payload_not_available", "offline"),
            });
        }
        let mode = match self.text("availability_mode").as_deref() {
            Some("all") => AvailabilityMode::All,
            Some("any") => AvailabilityMode::Any,
            _ => AvailabilityMode::Latest,
        };
        Ok(Availability {
            assumed: topics.is_empty(),
            topics,
            mode,
        })
    }
}

/// A topic Hearth may subscribe to or publish on: no wildcards, no NUL, not too long.
pub fn check_topic(key: &str, topic: &str) -> Result<(), Skip> {
    if topic.contains(['+', '#', '\0']) {
        return Err(Skip::BadTopic(format!(
            "{key} {:?} holds a wildcard",
            topic.chars().take(80).collect::<String>()
        )));
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(Skip::BadTopic(format!(
            "{key} is longer than {MAX_TOPIC_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn topic(text: &str) -> ConfigTopic {
        config_topic("homeassistant", text).unwrap_or_else(|| panic!("{text} is a config topic"))
    }

    fn read(topic_text: &str, config: Value) -> Result<Spec, Skip> {
        read_config(&topic(topic_text), config.to_string().as_bytes()).map(|s| s.expect("a spec"))
    }

    #[test]
    fn config_topics_with_and_without_a_node_id() {
        assert_eq!(
            config_topic("homeassistant", "homeassistant/switch/kitchen/lamp/config"),
            Some(ConfigTopic {
                component: "switch".into(),
                node_id: Some("kitchen".into()),
                object_id: "lamp".into()
            })
        );
        assert_eq!(topic("homeassistant/sensor/t1/config").node_id, None);
        for not_one in [
            "homeassistant/switch/config",
            "homeassistant/switch/a/b/c/config",
            "homeassistant/switch/a b/config",
            "homeassistant/status",
            "other/switch/a/config",
        ] {
            assert_eq!(config_topic("homeassistant", not_one), None, "{not_one}");
        }
    }

    #[test]
    fn a_full_form_switch() {
        let spec = read(
            "homeassistant/switch/garden/pump/config",
            json!({
                "name": "Pump", "unique_id": "Garden Pump #1",
                "state_topic": "garden/pump/state", "command_topic": "garden/pump/set",
                "payload_on": "1", "payload_off": "0",
                "availability_topic": "garden/status",
                "device": {"name": "Garden", "suggested_area": "Back Yard", "identifiers": ["g1"]},
                "json_attributes_topic": "garden/pump/attrs", "icon": "mdi:pump", "retain": false,
                "component": "switch", "some_future_key": {"x": 1}
            }),
        )
        .unwrap();
        assert_eq!(spec.preferred_id.as_str(), "garden-pump-1");
        assert_eq!(spec.identity, Identity::Unique("Garden Pump #1".into()));
        assert_eq!(spec.name, "Garden Pump");
        assert_eq!(spec.area.as_deref(), Some("Back Yard"));
        let state = spec.state.clone().unwrap();
        assert_eq!(state.topic, "garden/pump/state");
        assert_eq!(
            state.read("1"),
            Ok("on".into()),
            "state_on defaults to payload_on"
        );
        let command = spec.command.clone().unwrap();
        assert_eq!(
            (command.topic.as_str(), command.payload(Requested::Off)),
            ("garden/pump/set", Some("0"))
        );
        assert_eq!(spec.availability.topics[0].online, "online");
        assert!(!spec.availability.assumed);
        assert_eq!(spec.source, Source::Mqtt);
        assert!(spec.confirms());
    }

    #[test]
    fn a_tasmota_relay_in_abbreviated_form() {
        let spec = read(
            "homeassistant/switch/A1B2C3_RL_1/config",
            json!({
                "name": null, "~": "tasmota_A1B2C3/",
                "cmd_t": "~cmnd/POWER", "stat_t": "~stat/RESULT", "val_tpl": "{{value_json.POWER}}",
                "pl_off": "OFF", "pl_on": "ON",
                "avty_t": "~tele/LWT", "pl_avail": "Online", "pl_not_avail": "Offline",
                "uniq_id": "A1B2C3_RL_1",
                "dev": {"ids": ["A1B2C3"], "name": "Hall Light", "mdl": "Sonoff Basic", "sw": "14.1.0", "mf": "Tasmota"}
            }),
        )
        .unwrap();
        assert_eq!(spec.preferred_id.as_str(), "a1b2c3-rl-1");
        assert_eq!(spec.name, "Hall Light", "name: null is the device's");
        assert_eq!(
            spec.state.as_ref().unwrap().topic,
            "tasmota_A1B2C3/stat/RESULT"
        );
        assert_eq!(
            spec.state.as_ref().unwrap().read(r#"{"POWER":"ON"}"#),
            Ok("on".into())
        );
        assert_eq!(
            spec.command.as_ref().unwrap().topic,
            "tasmota_A1B2C3/cmnd/POWER"
        );
        let availability = &spec.availability.topics[0];
        assert_eq!(
            (availability.topic.as_str(), availability.read("Offline")),
            ("tasmota_A1B2C3/tele/LWT", Some(false))
        );
    }

    #[test]
    fn an_esphome_sensor_and_binary_sensor() {
        let sensor = read(
            "homeassistant/sensor/utility/utility_temperature/config",
            json!({
                "dev_cla": "temperature", "unit_of_meas": "°C", "stat_cla": "measurement",
                "name": "Temperature", "stat_t": "utility/sensor/utility_temperature/state",
                "avty_t": "utility/status", "uniq_id": "esp-utility-temp", "exp_aft": 300,
                "dev": {"ids": "a4cf12345678", "name": "Utility sensor", "sw": "esphome v2024.6", "mdl": "esp32dev", "mf": "espressif"}
            }),
        )
        .unwrap();
        assert_eq!(sensor.name, "Utility sensor Temperature");
        assert_eq!(sensor.unit.as_deref(), Some("°C"));
        assert_eq!(sensor.device_class.as_deref(), Some("temperature"));
        assert_eq!(
            sensor.state.as_ref().unwrap().read("21.43"),
            Ok("21.43".into())
        );
        assert!(!sensor.confirms() || sensor.command.is_none());
        let motion = read(
            "homeassistant/binary_sensor/utility/motion/config",
            json!({"name": "Motion", "stat_t": "utility/motion", "dev_cla": "motion",
                   "pl_on": "on", "pl_off": "off", "dev": {"name": "Utility sensor", "ids": ["x"]}}),
        )
        .unwrap();
        assert_eq!(motion.state.as_ref().unwrap().read("ON"), Ok("on".into()));
        assert_eq!(motion.preferred_id.as_str(), "binary-sensor-utility-motion");
        assert_eq!(
            motion.identity,
            Identity::Topic("binary_sensor/utility/motion".into())
        );
    }

    #[test]
    fn a_sensor_without_a_name_is_named_by_its_device_class() {
        let spec = read(
            "homeassistant/sensor/0x0017880104e45522/temperature/config",
            json!({
                "unit_of_measurement": "°C", "device_class": "temperature",
                "value_template": "{{ value_json.temperature }}", "state_topic": "zigbee2mqtt/weather_sensor",
                "unique_id": "0x0017880104e45522_temperature_zigbee2mqtt",
                "device": {"identifiers": ["zigbee2mqtt_0x0017880104e45522"], "name": "weather_sensor"},
                "availability": [{"topic": "zigbee2mqtt/bridge/state", "value_template": "{{ value_json.state }}"}],
                "origin": {"name": "Zigbee2MQTT", "sw": "1.40.0"}
            }),
        )
        .unwrap();
        assert_eq!(spec.name, "weather_sensor Temperature");
        assert_eq!(
            spec.identity,
            Identity::Zigbee {
                ieee: "0x0017880104e45522".into(),
                key: "temperature".into()
            }
        );
        assert_eq!(
            spec.preferred_id.as_str(),
            "0x0017880104e45522-temperature-zigbee2mqtt"
        );
        assert_eq!(spec.source, Source::Zigbee2mqtt);
        assert_eq!(
            spec.availability.topics[0].read(r#"{"state":"online"}"#),
            Some(true)
        );
    }

    #[test]
    fn a_json_schema_light_reads_and_sends_json() {
        let spec = read(
            "homeassistant/light/0x000b57fffec6a5b2/light/config",
            json!({"schema": "json", "brightness": true, "name": null,
                   "command_topic": "zigbee2mqtt/bulb/set", "state_topic": "zigbee2mqtt/bulb",
                   "device": {"identifiers": ["zigbee2mqtt_0x000b57fffec6a5b2"], "name": "bulb"}}),
        )
        .unwrap();
        let state = spec.state.as_ref().unwrap();
        assert_eq!(
            state.read(r#"{"state":"ON","brightness":120}"#),
            Ok("on".into())
        );
        assert_eq!(
            spec.command.as_ref().unwrap().payload(Requested::On),
            Some(r#"{"state":"ON"}"#)
        );
        assert_eq!(spec.name, "bulb");
    }

    #[test]
    fn covers_take_their_states_and_payloads() {
        let spec = read(
            "homeassistant/cover/garage/door/config",
            json!({"name": "Garage door", "command_topic": "garage/set", "state_topic": "garage/state",
                   "state_open": "OPEN", "state_closed": "CLOSE", "payload_stop": null,
                   "position_topic": "garage/pos", "position_closed": 0}),
        )
        .unwrap();
        assert_eq!(
            spec.state.as_ref().unwrap().read("CLOSE"),
            Ok("closed".into())
        );
        assert_eq!(
            spec.state.as_ref().unwrap().read("opening"),
            Ok("opening".into())
        );
        let command = spec.command.as_ref().unwrap();
        assert_eq!(command.payload(Requested::Open), Some("OPEN"));
        assert_eq!(command.payload(Requested::Stop), None, "payload_stop: null");
        assert_eq!(
            spec.position.as_ref().unwrap().read("0"),
            Ok("closed".into())
        );
    }

    #[test]
    fn an_empty_config_withdraws() {
        let t = topic("homeassistant/switch/a/config");
        assert_eq!(read_config(&t, b""), Ok(None));
        assert_eq!(read_config(&t, b" \n"), Ok(None));
    }

    #[test]
    fn bad_configs_are_skipped_with_their_reason() {
        let t = |s: &str| topic(s);
        let cases: Vec<(ConfigTopic, Vec<u8>, &str)> = vec![
            (
                t("homeassistant/switch/a/config"),
                b"{not json".to_vec(),
                "not_json",
            ),
            (
                t("homeassistant/switch/a/config"),
                b"[1,2]".to_vec(),
                "not_json",
            ),
            (
                t("homeassistant/vacuum/a/config"),
                br#"{"name":"v"}"#.to_vec(),
                "unknown_component",
            ),
            (
                t("homeassistant/switch/a/config"),
                br#"{"state_topic":"s"}"#.to_vec(),
                "incomplete",
            ),
            (
                t("homeassistant/sensor/a/config"),
                br#"{"name":"n"}"#.to_vec(),
                "incomplete",
            ),
            (
                t("homeassistant/cover/a/config"),
                br#"{"name":"n"}"#.to_vec(),
                "incomplete",
            ),
            (
                t("homeassistant/sensor/a/config"),
                br#"{"state_topic":"s","value_template":"{{ states('x') }}"}"#.to_vec(),
                "template",
            ),
            (
                t("homeassistant/switch/a/config"),
                br#"{"command_topic":"c","command_template":"{{ value | tojson }}"}"#.to_vec(),
                "template",
            ),
            (
                t("homeassistant/light/a/config"),
                br#"{"schema":"template","command_topic":"c"}"#.to_vec(),
                "template",
            ),
            (
                t("homeassistant/sensor/a/config"),
                br#"{"state_topic":"s/#"}"#.to_vec(),
                "bad_topic",
            ),
            (
                t("homeassistant/sensor/a/config"),
                br#"{"state_topic":7}"#.to_vec(),
                "bad_topic",
            ),
            (
                t("homeassistant/sensor/a/config"),
                br#"{"state_topic":"s","enabled_by_default":false}"#.to_vec(),
                "disabled",
            ),
        ];
        for (topic, payload, reason) in cases {
            let got = read_config(&topic, &payload).map(|_| ()).unwrap_err();
            assert_eq!(
                got.reason(),
                reason,
                "{}: {got}",
                String::from_utf8_lossy(&payload)
            );
        }
    }
}
