//! A real device library against Hearth, not only our own payloads: `ha-mqtt-discoverable` (the PyPI package
//! integrations use to make Home Assistant entities) announces a switch, a JSON light, a cover, a sensor and a
//! binary sensor; Hearth shows all five, and commands to the three that take them come back confirmed.
//!
//! The Python it runs is `HEARTH_PYTHON`, else the virtual environment `scripts/setup.sh` makes in
//! `target/py` with the package installed.

use crate::harness::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("HEARTH_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run `bash scripts/setup.sh` (it makes that virtual environment with ha-mqtt-discoverable), \
         or set HEARTH_PYTHON to a Python that has the package",
        venv.display()
    );
    venv
}

/// The library's devices, running until dropped (killed with the child).
struct Devices {
    _child: Child,
}

impl Devices {
    async fn start(broker: &Mosquitto) -> Devices {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mqtt/ha_devices.py");
        let mut child = Command::new(python())
            .arg(script)
            .args(["127.0.0.1", &broker.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the devices' Python starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(WAIT, lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref line))) if line == "ready"),
            "the library's devices did not start: {ready:?}"
        );
        Devices { _child: child }
    }
}

#[tokio::test]
async fn ha_mqtt_discoverable_devices_are_shown_and_obey() {
    // Arrange
    let broker = broker().await;
    let app = hearth(&broker, |_| {}).await;

    // Act
    let _devices = Devices::start(&broker).await;

    // Assert: all five, named and placed as Home Assistant would, in their first states.
    let fountain = entity_when(&app, "hmd-fountain", "off", |e| e["state"] == "off").await;
    assert_eq!(
        (fountain["name"].clone(), fountain["area"].clone()),
        (json!("Porch Fountain"), json!("porch"))
    );
    entity_when(&app, "hmd-lantern", "off", |e| {
        e["state"] == "off" && e["kind"] == "light"
    })
    .await;
    entity_when(&app, "hmd-awning", "closed", |e| {
        e["state"] == "closed" && e["kind"] == "cover"
    })
    .await;
    let temperature = entity_when(&app, "hmd-temperature", "18.5", |e| e["state"] == "18.5").await;
    assert_eq!(
        (
            temperature["unit"].clone(),
            temperature["deviceClass"].clone()
        ),
        (json!("°C"), json!("temperature"))
    );
    let motion = entity_when(&app, "hmd-motion", "motion", |e| e["state"] == "on").await;
    assert_eq!(motion["kind"], "binary_sensor");

    // Act and Assert: each command is carried out by the library's device and confirmed.
    for (id, state) in [
        ("hmd-fountain", "on"),
        ("hmd-lantern", "on"),
        ("hmd-awning", "open"),
    ] {
        let (status, body) = command(&app, id, state).await;
        assert_eq!(status, 202, "{id}: {body}");
        entity_when(&app, id, &format!("{state}, confirmed"), |e| {
            e["state"] == state && e.get("pending").is_none()
        })
        .await;
    }
}
