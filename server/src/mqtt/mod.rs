//! The MQTT bridge: the home's real devices, through the broker they talk to. Devices announce themselves by
//! Home Assistant's MQTT discovery ([`discovery`], with its [`abbreviations`] and the small [`template`]
//! language firmware uses) or through Zigbee2MQTT's own topics ([`zigbee2mqtt`]); either way an announcement
//! becomes a [`spec`], the [`registry`] keeps the specs and what the devices last said, and the [`bridge`] runs
//! it all over one [`client`] connection per instance ([`url`] reads `--mqtt-url`), journalling on the one
//! instance that holds the lease, with [`pending`] commands timed out there. What it counts is
//! [`crate::metrics::MqttMetrics`].
//!
//! It depends on the hub, the configuration, the metrics, the lease and the command seam ([`crate::commands::DeviceLink`],
//! which [`Bridge`] implements), never on the routes or the application state: the wiring hands it to both.

pub mod abbreviations;
pub mod bridge;
pub mod client;
pub mod discovery;
pub mod pending;
pub mod registry;
pub mod spec;
pub mod template;
pub mod url;
pub mod zigbee2mqtt;

pub use bridge::{Bridge, BridgeHealth, Settings, LEASE};
