//! Start-up failures are clear errors naming the path, never a panic and never a silent fresh start over
//! existing data.

// Test code: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used)]

mod common;

use common::{server_command, ScratchDir};
use std::time::{Duration, Instant};

/// Runs the server with `data_dir` and returns (exit success, stderr); it must exit on its own, quickly.
fn run_with(data_dir: &std::path::Path) -> (bool, String) {
    let mut child = server_command(data_dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server kept running with an unusable data directory {}",
                data_dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_data_directory_that_cannot_be_created_is_named() {
    let root = ScratchDir::new("startup-blocked");
    let file = root.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    let data_dir = file.join("data");

    let (ok, stderr) = run_with(&data_dir);

    assert!(!ok, "must not start");
    assert!(
        stderr.contains("cannot create the data directory"),
        "{stderr}"
    );
    assert!(stderr.contains(&data_dir.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_corrupt_database_is_named_and_left_alone() {
    let scratch = ScratchDir::new("startup-corrupt");
    let data_dir = scratch.path();
    let db = data_dir.join("hearth.db");
    let garbage = vec![0x42u8; 16384];
    std::fs::write(&db, &garbage).unwrap();

    let (ok, stderr) = run_with(data_dir);

    assert!(!ok, "must not start over a corrupt database");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        garbage,
        "the existing file is not touched"
    );
}

/// Starts the server on `data_dir` without a configured token, waits until it has written its token and its
/// database, stops it, and returns its stderr.
fn start_and_stop(data_dir: &std::path::Path) -> String {
    let mut child = server_command(data_dir)
        .env_remove("HEARTH_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ready = || {
        std::fs::read_to_string(data_dir.join("token")).is_ok_and(|t| !t.trim().is_empty())
            && data_dir.join("hearth.db-wal").exists()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "the server did not start on {}",
            data_dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_data_directory_and_its_files_are_private_even_when_found_open() {
    use std::os::unix::fs::PermissionsExt;
    // Arrange: a directory anyone can read, holding an empty token file anyone can read.
    let root = ScratchDir::new("startup-private");
    let data_dir = root.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data_dir.join("token"), b"").unwrap();
    std::fs::set_permissions(
        data_dir.join("token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    // Act
    let stderr = start_and_stop(&data_dir);

    // Assert
    assert_eq!(mode(&data_dir), 0o700, "the directory is owner-only");
    for file in ["token", "hearth.db", "hearth.db-wal", "hearth.db-shm"] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file} is owner-only");
    }
    assert!(
        stderr.contains("narrowing it to") && stderr.contains("token"),
        "the loose permissions are reported: {stderr}"
    );

    // A fresh directory is created private from the start, without a warning.
    let fresh = root.path().join("fresh");
    let stderr = start_and_stop(&fresh);
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("hearth.db")), 0o600);
    assert!(!stderr.contains("narrowing"), "{stderr}");
}

#[test]
fn a_guessable_token_is_refused_at_start() {
    let data_dir = ScratchDir::new("startup-short-token");
    let output = server_command(data_dir.path())
        .env("HEARTH_TOKEN", "hunter2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "must not start");
    assert!(
        stderr.contains("HEARTH_TOKEN") && stderr.contains("at least 16"),
        "{stderr}"
    );
}
