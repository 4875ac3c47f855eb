//! `mqtts://`: Hearth reaches a broker over TLS, trusting the certificate authority of `--mqtt-ca-file`, and
//! refuses a broker whose certificate that authority did not sign. The certificates are made for the test with
//! `openssl` (a CA, and a server certificate for 127.0.0.1 signed by it).

use crate::harness::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (Debian's openssl package)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 signed by it (`server.pem`, `server.key`), and a CA
/// that signed nothing here (`other.pem`).
fn certificates(dir: &Path) {
    let ca = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ];
    openssl(
        dir,
        &[
            &ca[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=hearth-test-ca",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &ca[..],
            &[
                "-keyout",
                "other.key",
                "-out",
                "other.pem",
                "-subj",
                "/CN=other-ca",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    // The broker drops to its own user before it may read them.
    for file in ["server.key", "server.pem", "ca.pem"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

#[tokio::test]
async fn a_tls_broker_is_reached_with_the_ca_file_and_refused_without_the_right_one() {
    // Arrange: a broker with a plain listener (for the test's device) and a TLS one (for Hearth).
    let certs = ScratchDir::new("tls");
    certificates(certs.path());
    let tls_port = free_port();
    let dir = certs.path().display();
    let broker = Mosquitto::start_with(&format!(
        "log_type subscribe\nlistener {tls_port} 127.0.0.1\ncafile {dir}/ca.pem\ncertfile {dir}/server.pem\nkeyfile {dir}/server.key\n"
    ))
    .await;
    let url = format!("mqtts://127.0.0.1:{tls_port}");

    // Act
    let app = hearth(&broker, |f| {
        f.set("--mqtt-url", &url)
            .set("--mqtt-ca-file", format!("{dir}/ca.pem"));
    })
    .await;
    let device = Device::connect(&broker).await;
    device
        .announce(
            "homeassistant/sensor/tls/config",
            &json!({"uniq_id": "over-tls", "stat_t": "tls/state"}),
        )
        .await;
    follows(&broker, "tls/state", 1).await;
    device.say("tls/state", "secure").await;

    // Assert
    entity_when(&app, "over-tls", "secure", |e| e["state"] == "secure").await;
    let wrong_ca = spawn_app(|f| {
        f.set("--mqtt-url", &url)
            .set("--mqtt-ca-file", format!("{dir}/other.pem"));
    })
    .await;
    connected(&wrong_ca, false).await;
    // Not connected is also how it starts: wait for its first attempt to have been refused, and named.
    eventually("the refused certificate is named in /healthz", || async {
        let (_, health) = wrong_ca.healthz().await;
        health["mqtt"]["connected"] == false
            && health["mqtt"]["problem"]
                .as_str()
                .is_some_and(|p| p.contains("TLS") || p.contains("certificate"))
    })
    .await;
}
