//! The MQTT bridge, tested against a real Mosquitto of each test's own: Home Assistant discovery in its full and
//! abbreviated forms (Tasmota- and ESPHome-style configs), Zigbee2MQTT's device list, commands and their
//! confirmation or timeout, availability and removal, a broker that restarts, two instances on one Redis, a
//! real device library (`ha-mqtt-discoverable`), TLS, and bad input from the broker. One test binary; one module
//! per concern.

// A failed unwrap in a test is a failed test, with its location: exactly what is wanted here.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod bad_input;
mod broker;
mod commands;
mod discovery;
mod library;
mod several;
mod tls;
mod zigbee;
