//! The test kit's own tests: the external programs it starts are really there, reachable, and come back on the
//! same port after a restart, so a suite that builds on them fails for its own reasons, not the kit's.

// Test code: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used)]

mod common;

use common::processes::program;
use common::Mosquitto;
use std::process::{Command, Output};

/// Runs a Mosquitto client program against `broker` (`-h`, `-p` added), bounded by its own `-W` timeout where
/// it waits.
fn mosquitto_client(name: &str, broker: &Mosquitto, args: &[&str]) -> Output {
    Command::new(program(name, "mosquitto-clients"))
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} runs: {e}"))
}

/// The retained message on `topic`, read by a fresh subscriber: it exits after one message, or after `secs` with
/// none (a retained message comes at once on subscribing, so a short wait means none).
fn retained(broker: &Mosquitto, topic: &str, secs: u32) -> Output {
    let secs = secs.to_string();
    mosquitto_client(
        "mosquitto_sub",
        broker,
        &["-t", topic, "-C", "1", "-W", &secs],
    )
}

#[tokio::test]
async fn mosquitto_carries_a_message_and_comes_back_on_its_port_empty() {
    // Arrange
    let mut broker = Mosquitto::start().await;
    let port = broker.port;
    let first = broker.pid();

    // Act: a retained message, read back by a client that connects after it was sent.
    let sent = mosquitto_client(
        "mosquitto_pub",
        &broker,
        &["-t", "kit/smoke", "-m", "hello", "-r"],
    );
    let read = retained(&broker, "kit/smoke", 5);

    // Assert
    assert!(sent.status.success(), "mosquitto_pub: {sent:?}");
    assert!(read.status.success(), "mosquitto_sub: {read:?}");
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "hello");

    // Act: a restart, as a broker-restart test does it.
    broker.restart().await;

    // Assert: a new process on the same port, with nothing persisted (the retained message is gone).
    assert_eq!(broker.port, port);
    assert_ne!(broker.pid(), first, "a new process");
    let after = retained(&broker, "kit/smoke", 1);
    assert!(
        after.stdout.is_empty(),
        "nothing persisted across the restart: {after:?}"
    );
    let sent = mosquitto_client(
        "mosquitto_pub",
        &broker,
        &["-t", "kit/smoke", "-m", "again", "-r"],
    );
    assert!(
        sent.status.success(),
        "mosquitto_pub after the restart: {sent:?}"
    );
    let read = retained(&broker, "kit/smoke", 5);
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "again");
}
