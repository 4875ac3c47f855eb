//! Zigbee2MQTT's own topics, for a Zigbee2MQTT that does not announce itself by Home Assistant discovery (or
//! does, too: both name an entity by the device's IEEE address and the same key, so it is one entity).
//!
//! The retained `<prefix>/bridge/devices` lists every device with what it `exposes`: a `light`, `switch` or
//! `cover` (with a `state` feature, per endpoint), and plain `numeric` and `binary` properties. Each becomes an
//! entity keyed as Zigbee2MQTT's own discovery keys it (`light`, `switch_left`, `temperature`), whose state is
//! that property of the JSON on `<prefix>/<friendly_name>`, commands go to `<prefix>/<friendly_name>/set` as
//! `{"<property>": "ON"}`, and availability comes from `<prefix>/<friendly_name>/availability` (`online` or
//! `{"state":"online"}`; a device is taken as online until it says otherwise, since that feature may be off).

use super::discovery::{check_topic, Skip};
use super::spec::{
    humanize, Availability, AvailabilityMode, AvailabilityTopic, CommandSink, CoverStates,
    Identity, PositionSource, Reading, Spec, StateSource,
};
use super::template::Template;
use app::contract::{EntityId, EntityKind, Requested, Source};
use serde_json::Value;

/// The retained device list under `prefix`.
pub fn devices_topic(prefix: &str) -> String {
    format!("{prefix}/bridge/devices")
}

/// Properties every device reports that are not part of the home (signal strength).
const NOT_ENTITIES: [&str; 1] = ["linkquality"];

/// Bit 1 of an expose's `access`: the property is published in the device's state.
const ACCESS_STATE: u64 = 1;

/// Reads the device list: a spec per entity of every usable device.
pub fn read_devices(prefix: &str, payload: &[u8]) -> Result<Vec<Spec>, Skip> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| Skip::NotJson(e.to_string()))?;
    let Value::Array(devices) = value else {
        return Err(Skip::NotJson("bridge/devices is not a list".into()));
    };
    let mut specs = Vec::new();
    for device in &devices {
        if let Some(device) = Device::read(prefix, device) {
            device.specs(&mut specs);
        }
    }
    Ok(specs)
}

/// One device of the list, usable: interviewed, supported, enabled, not the coordinator.
struct Device<'a> {
    ieee: String,
    friendly_name: String,
    base: String,
    exposes: &'a [Value],
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// How Jinja prints a JSON scalar (`true` → `True`), so an expose's `value_on` compares as Zigbee2MQTT's own
/// discovery configs make it compare.
fn jinja(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl<'a> Device<'a> {
    fn read(prefix: &str, device: &'a Value) -> Option<Device<'a>> {
        let flag =
            |key: &str, default: bool| device.get(key).and_then(Value::as_bool).unwrap_or(default);
        if text(device, "type") == Some("Coordinator")
            || flag("disabled", false)
            || !flag("supported", true)
            || !flag("interview_completed", true)
        {
            return None;
        }
        let ieee = text(device, "ieee_address")?.to_ascii_lowercase();
        let friendly_name = text(device, "friendly_name")?.to_owned();
        let base = format!("{prefix}/{friendly_name}");
        check_topic("friendly_name", &base).ok()?;
        let exposes = device
            .get("definition")?
            .get("exposes")?
            .as_array()?
            .as_slice();
        Some(Device {
            ieee,
            friendly_name,
            base,
            exposes,
        })
    }

    fn specs(&self, out: &mut Vec<Spec>) {
        for expose in self.exposes {
            let spec = match text(expose, "type") {
                Some(kind @ ("light" | "switch" | "cover")) => self.composite(kind, expose),
                Some("numeric") => self.numeric(expose),
                Some("binary") => self.binary(expose),
                _ => None,
            };
            out.extend(spec);
        }
    }

    fn spec(&self, key: String, kind: EntityKind, name: String) -> Option<Spec> {
        let unique_id = format!("{}_{key}_zigbee2mqtt", self.ieee);
        Some(Spec {
            preferred_id: EntityId::from_text(&unique_id)?,
            identity: Identity::Zigbee {
                ieee: self.ieee.clone(),
                key,
            },
            kind,
            name,
            area: None,
            unit: None,
            device_class: None,
            source: Source::Zigbee2mqtt,
            state: None,
            position: None,
            command: None,
            availability: Availability {
                topics: vec![AvailabilityTopic {
                    topic: format!("{}/availability", self.base),
                    template: Template::json_key("state"),
                    online: "online".into(),
                    offline: "offline".into(),
                }],
                mode: AvailabilityMode::Latest,
                assumed: true,
            },
        })
    }

    fn state(&self, property: &str, reading: Reading) -> StateSource {
        StateSource {
            topic: self.base.clone(),
            template: Template::json_key(property),
            reading,
        }
    }

    /// `{"<property>": <value>}` to `<base>/set`.
    fn command(&self, property: &str, payloads: Vec<(Requested, Value)>) -> CommandSink {
        CommandSink {
            topic: format!("{}/set", self.base),
            payloads: payloads
                .into_iter()
                .map(|(r, v)| (r, serde_json::json!({ property: v }).to_string()))
                .collect(),
        }
    }

    /// A light, switch or cover: its `state` feature (and a cover's `position`).
    fn composite(&self, kind: &str, expose: &Value) -> Option<Spec> {
        let features = expose.get("features")?.as_array()?;
        let feature = |name: &str| {
            features
                .iter()
                .find(|f| text(f, "name") == Some(name) && readable(f))
        };
        let endpoint = text(expose, "endpoint");
        let key = match endpoint {
            Some(endpoint) => format!("{kind}_{endpoint}"),
            None => kind.to_owned(),
        };
        let name = match endpoint {
            Some(endpoint) => format!("{} {}", self.friendly_name, humanize(endpoint)),
            None => self.friendly_name.clone(),
        };
        let entity_kind = match kind {
            "light" => EntityKind::Light,
            "switch" => EntityKind::Switch,
            _ => EntityKind::Cover,
        };
        let mut spec = self.spec(key, entity_kind, name)?;
        if entity_kind == EntityKind::Cover {
            let state = feature("state");
            let position = feature("position");
            let property = state.and_then(|f| text(f, "property")).unwrap_or("state");
            spec.state = state.map(|f| {
                self.state(
                    text(f, "property").unwrap_or("state"),
                    Reading::Cover(CoverStates {
                        open: "OPEN".into(),
                        opening: "OPENING".into(),
                        closed: "CLOSE".into(),
                        closing: "CLOSING".into(),
                        stopped: "STOP".into(),
                    }),
                )
            });
            spec.position = position.and_then(|f| {
                Some(PositionSource {
                    topic: self.base.clone(),
                    template: Template::json_key(text(f, "property")?),
                    closed: 0.0,
                })
            });
            if spec.state.is_none() && spec.position.is_none() {
                return None;
            }
            spec.command = Some(self.command(
                property,
                vec![
                    (Requested::Open, "OPEN".into()),
                    (Requested::Closed, "CLOSE".into()),
                    (Requested::Stop, "STOP".into()),
                ],
            ));
        } else {
            let state = feature("state")?;
            let property = text(state, "property")?;
            let on = state.get("value_on").cloned().unwrap_or("ON".into());
            let off = state.get("value_off").cloned().unwrap_or("OFF".into());
            spec.state = Some(self.state(
                property,
                Reading::OnOff {
                    on: jinja(&on)?,
                    off: jinja(&off)?,
                },
            ));
            spec.command =
                Some(self.command(property, vec![(Requested::On, on), (Requested::Off, off)]));
        }
        Some(spec)
    }

    /// A number the device reports: a sensor.
    fn numeric(&self, expose: &Value) -> Option<Spec> {
        let property = text(expose, "property")?;
        if NOT_ENTITIES.contains(&property) || !readable(expose) {
            return None;
        }
        let name = format!("{} {}", self.friendly_name, humanize(property));
        let mut spec = self.spec(property.to_owned(), EntityKind::Sensor, name)?;
        spec.unit = text(expose, "unit").map(str::to_owned);
        spec.device_class = sensor_class(property).map(str::to_owned);
        spec.state = Some(self.state(
            property,
            if spec.unit.is_some() {
                Reading::Number
            } else {
                Reading::Text
            },
        ));
        Some(spec)
    }

    /// A true/false the device reports: a binary sensor.
    fn binary(&self, expose: &Value) -> Option<Spec> {
        let property = text(expose, "property")?;
        if !readable(expose) {
            return None;
        }
        let name = format!("{} {}", self.friendly_name, humanize(property));
        let mut spec = self.spec(property.to_owned(), EntityKind::BinarySensor, name)?;
        spec.device_class = binary_class(property).map(str::to_owned);
        spec.state = Some(self.state(
            property,
            Reading::OnOff {
                on: jinja(expose.get("value_on")?)?,
                off: jinja(expose.get("value_off")?)?,
            },
        ));
        Some(spec)
    }
}

/// Whether the property comes in the device's state messages (no `access` given: assume so).
fn readable(expose: &Value) -> bool {
    expose
        .get("access")
        .and_then(Value::as_u64)
        .is_none_or(|access| access & ACCESS_STATE != 0)
}

/// Home Assistant's device class for a numeric property Zigbee2MQTT names so.
fn sensor_class(property: &str) -> Option<&'static str> {
    Some(match property {
        "temperature" | "local_temperature" | "device_temperature" => "temperature",
        "humidity" => "humidity",
        "pressure" => "atmospheric_pressure",
        "battery" => "battery",
        "illuminance" | "illuminance_lux" => "illuminance",
        "power" => "power",
        "energy" => "energy",
        "voltage" => "voltage",
        "current" => "current",
        "co2" => "carbon_dioxide",
        _ => return None,
    })
}

/// Home Assistant's device class for a binary property Zigbee2MQTT names so.
fn binary_class(property: &str) -> Option<&'static str> {
    Some(match property {
        "occupancy" => "occupancy",
        "presence" => "presence",
        "contact" => "door",
        "water_leak" => "moisture",
        "smoke" => "smoke",
        "gas" => "gas",
        "carbon_monoxide" => "carbon_monoxide",
        "tamper" => "tamper",
        "battery_low" => "battery",
        "vibration" => "vibration",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A device list as Zigbee2MQTT publishes it (trimmed to what matters, plus keys Hearth ignores).
    fn devices() -> Value {
        json!([
            {"ieee_address": "0x00124b00120144ae", "type": "Coordinator", "friendly_name": "Coordinator",
             "definition": null, "interview_completed": true, "supported": true, "disabled": false},
            {"ieee_address": "0x000B57FFFEC6A5B2", "type": "Router", "friendly_name": "living/bulb",
             "network_address": 12345, "supported": true, "disabled": false, "interview_completed": true,
             "power_source": "Mains (single phase)", "model_id": "TRADFRI bulb E27",
             "definition": {"model": "LED1545G12", "vendor": "IKEA", "description": "bulb", "options": [],
                "exposes": [
                    {"type": "light", "features": [
                        {"type": "binary", "name": "state", "property": "state", "access": 7,
                         "value_on": "ON", "value_off": "OFF", "value_toggle": "TOGGLE"},
                        {"type": "numeric", "name": "brightness", "property": "brightness", "access": 7,
                         "value_min": 0, "value_max": 254}]},
                    {"type": "numeric", "name": "linkquality", "property": "linkquality", "access": 1, "unit": "lqi"}
                ]}},
            {"ieee_address": "0x0017880104e45542", "type": "EndDevice", "friendly_name": "wall_switch_double",
             "supported": true, "interview_completed": true,
             "definition": {"exposes": [
                {"type": "switch", "endpoint": "left", "features": [
                    {"type": "binary", "name": "state", "property": "state_left", "access": 7,
                     "value_on": "ON", "value_off": "OFF", "endpoint": "left"}]},
                {"type": "binary", "name": "contact", "property": "contact", "access": 1,
                 "value_on": false, "value_off": true},
                {"type": "numeric", "name": "temperature", "property": "temperature", "access": 1, "unit": "°C"},
                {"type": "enum", "name": "action", "property": "action", "access": 1, "values": ["single"]}
             ]}},
            {"ieee_address": "0x0017880104e45551", "type": "Router", "friendly_name": "vent",
             "definition": {"exposes": [{"type": "cover", "features": [
                {"type": "enum", "name": "state", "property": "state", "access": 3, "values": ["OPEN", "CLOSE", "STOP"]},
                {"type": "numeric", "name": "position", "property": "position", "access": 7}]}]}},
            {"ieee_address": "0x0000000000000001", "friendly_name": "new", "interview_completed": false,
             "definition": {"exposes": [{"type": "numeric", "property": "temperature", "unit": "°C"}]}},
            {"ieee_address": "0x0000000000000002", "friendly_name": "off", "disabled": true,
             "definition": {"exposes": [{"type": "numeric", "property": "temperature", "unit": "°C"}]}}
        ])
    }

    fn specs() -> Vec<Spec> {
        read_devices("zigbee2mqtt", devices().to_string().as_bytes()).unwrap()
    }

    #[test]
    fn each_usable_expose_becomes_an_entity_keyed_as_zigbee2mqtt_keys_it() {
        let ids: Vec<String> = specs().iter().map(|s| s.preferred_id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "0x000b57fffec6a5b2-light-zigbee2mqtt",
                "0x0017880104e45542-switch-left-zigbee2mqtt",
                "0x0017880104e45542-contact-zigbee2mqtt",
                "0x0017880104e45542-temperature-zigbee2mqtt",
                "0x0017880104e45551-cover-zigbee2mqtt",
            ]
        );
        assert_eq!(
            specs()[0].identity,
            Identity::Zigbee {
                ieee: "0x000b57fffec6a5b2".into(),
                key: "light".into()
            }
        );
    }

    #[test]
    fn lights_and_switches_read_their_property_and_send_it_as_json() {
        let all = specs();
        let bulb = &all[0];
        assert_eq!(
            (bulb.kind, bulb.name.as_str()),
            (EntityKind::Light, "living/bulb")
        );
        let state = bulb.state.as_ref().unwrap();
        assert_eq!(state.topic, "zigbee2mqtt/living/bulb");
        assert_eq!(
            state.read(r#"{"state":"ON","brightness":3}"#),
            Ok("on".into())
        );
        let command = bulb.command.as_ref().unwrap();
        assert_eq!(command.topic, "zigbee2mqtt/living/bulb/set");
        assert_eq!(command.payload(Requested::On), Some(r#"{"state":"ON"}"#));
        assert_eq!(
            bulb.availability.topics[0].topic,
            "zigbee2mqtt/living/bulb/availability"
        );
        assert!(bulb.availability.assumed);
        let left = &all[1];
        assert_eq!(left.name, "wall_switch_double Left");
        assert_eq!(
            left.command.as_ref().unwrap().payload(Requested::Off),
            Some(r#"{"state_left":"OFF"}"#)
        );
        assert_eq!(
            left.state.as_ref().unwrap().read(r#"{"state_left":"OFF"}"#),
            Ok("off".into())
        );
    }

    #[test]
    fn numeric_and_binary_properties_are_sensors() {
        let all = specs();
        let contact = &all[2];
        assert_eq!(
            (contact.kind, contact.device_class.as_deref()),
            (EntityKind::BinarySensor, Some("door"))
        );
        assert_eq!(
            contact.state.as_ref().unwrap().read(r#"{"contact":false}"#),
            Ok("on".into()),
            "open"
        );
        let temperature = &all[3];
        assert_eq!(temperature.name, "wall_switch_double Temperature");
        assert_eq!(temperature.unit.as_deref(), Some("°C"));
        assert_eq!(
            temperature
                .state
                .as_ref()
                .unwrap()
                .read(r#"{"temperature":19.5}"#),
            Ok("19.5".into())
        );
        let vent = &all[4];
        assert_eq!(
            vent.state.as_ref().unwrap().read(r#"{"state":"CLOSE"}"#),
            Ok("closed".into())
        );
        assert_eq!(
            vent.command.as_ref().unwrap().payload(Requested::Stop),
            Some(r#"{"state":"STOP"}"#)
        );
    }

    #[test]
    fn a_list_that_is_not_one_is_skipped() {
        assert_eq!(read_devices("z", b"{}").unwrap_err().reason(), "not_json");
        assert_eq!(read_devices("z", b"nope").unwrap_err().reason(), "not_json");
        assert!(read_devices("z", b"[1, {\"x\": 2}]").unwrap().is_empty());
    }
}
