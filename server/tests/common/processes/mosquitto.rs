//! A Mosquitto MQTT broker of the test's own: a free loopback port, anonymous clients, nothing persisted, a
//! scratch directory for its configuration and log, stopped by its process id on drop. [`Mosquitto::restart`]
//! brings it back on the same port, as a broker restart looks to its clients.

use super::{program, Daemon};
use crate::common::eventually::eventually;
use crate::common::scratch::{free_port, ScratchDir};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Mosquitto {
    daemon: Daemon,
    pub port: u16,
    dir: ScratchDir,
}

impl Mosquitto {
    /// Starts one and waits until its port accepts connections.
    pub async fn start() -> Mosquitto {
        Mosquitto::start_with("").await
    }

    /// Starts one with `extra` lines at the end of its configuration (a second listener, with TLS), and waits
    /// until its first port accepts connections.
    pub async fn start_with(extra: &str) -> Mosquitto {
        let dir = ScratchDir::new("mosquitto");
        let port = free_port();
        // The log goes to stderr, which is a file opened here: a broker started as root drops to the `mosquitto`
        // user before it would open a log file of its own.
        let config = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n{extra}"
        );
        std::fs::write(dir.path().join("mosquitto.conf"), config)
            .expect("the broker's configuration");
        let mut broker = Mosquitto {
            daemon: Daemon::default(),
            port,
            dir,
        };
        broker.launch().await;
        broker
    }

    async fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("a log file");
        self.daemon = Daemon::spawn(
            Command::new(program("mosquitto", "mosquitto"))
                .arg("-c")
                .arg(self.dir.path().join("mosquitto.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::from(log)),
            "mosquitto",
        );
        let port = self.port;
        let what = format!("mosquitto to accept connections on port {port}");
        eventually(&what, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// The broker's own log (connections, errors), for a failing test to print.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    /// SIGKILL, by process id: to its clients, a broker that vanished.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Starts it again on the same port (nothing persisted: retained messages and sessions are gone).
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}
