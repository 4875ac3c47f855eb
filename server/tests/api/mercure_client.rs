//! A real Mercure client, not written here, against Hearth: the Python `mercure-publisher` package publishes
//! (signing its own token, with `exp`, from the publisher key) and `sseclient-py` subscribes with a token from
//! PyJWT, as the reference hub's own Python example does. `scripts/setup.sh` installs them at pinned versions
//! into `clients/mercure-python/.venv`; the script is `clients/mercure-python/round_trip.py`.

use crate::helpers::*;
use std::path::PathBuf;
use std::time::Duration;

const SUBSCRIBER_KEY: &str = "a-different-key-for-subscribers";

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/mercure-python")
}

#[tokio::test]
async fn a_python_publisher_and_subscriber_round_trip_through_hearth() {
    let python = client_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh, which installs the Mercure client this test runs",
        python.display()
    );
    let app = spawn_app(|f| {
        f.set("--mercure-publisher-jwt-key", KEY)
            .set("--mercure-subscriber-jwt-key", SUBSCRIBER_KEY);
    })
    .await;
    let hub = app.url("/.well-known/mercure");
    let script = client_dir().join("round_trip.py");
    // The script bounds each of its waits (15 s); this bounds the whole run.
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(script)
            .args([hub.as_str(), KEY, SUBSCRIBER_KEY])
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the client finishes in time")
        .unwrap()
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let ids = result["ids"].as_array().unwrap();
    let received = result["received"].as_array().unwrap();
    assert_eq!(received.len(), 2, "{result}");
    assert_eq!(
        received[0]["id"], ids[0],
        "the id the publisher was answered with"
    );
    assert!(ids[0].as_str().unwrap().starts_with("urn:hearth:"));
    assert_eq!(received[0]["type"], "book");
    assert_eq!(received[0]["data"], r#"{"title": "Dune"}"#);
    assert_eq!(
        received[1]["id"], ids[1],
        "the private update, its claim matching"
    );
    assert!(ids[1].as_str().unwrap().starts_with("urn:uuid:round-trip-"));
    assert_eq!(
        result["resumed"][0]["id"], ids[1],
        "resumed after the first by Last-Event-ID"
    );
}
