//! The built server binary as a child process, for what only a process shows: a SIGKILL mid-write, a restart on
//! the same data directory and port, a start-up that must fail with a clear message.

use super::eventually::eventually;
use super::processes::Daemon;
use super::scratch::{free_port, ScratchDir};
use super::TOKEN;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The server binary with the kit's environment: `data_dir`, token [`TOKEN`], no simulator, warnings only, a
/// port of the system's choosing. A test adds or replaces variables before it runs it.
pub fn server_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("HEARTH_DATA_DIR", data_dir)
        .env("HEARTH_TOKEN", TOKEN)
        .env("HEARTH_SIMULATOR", "false")
        .env("HEARTH_LOG", "warn")
        .stdout(Stdio::null());
    command
}

/// The server binary serving on a free loopback port; killed by its process id on drop.
pub struct ServerProcess {
    daemon: Daemon,
    port: u16,
    env: Vec<(String, String)>,
    scratch: ScratchDir,
}

impl ServerProcess {
    /// Starts it with a fresh data directory and `env` on top of [`server_command`]'s, and returns once
    /// `/healthz` answers 2xx.
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        let mut server = ServerProcess {
            daemon: Daemon::default(),
            port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            scratch: ScratchDir::new("binary"),
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        let mut command = server_command(&self.data_dir());
        command
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", self.port))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        self.daemon = Daemon::spawn(&mut command, "the server binary");
        let client = reqwest::Client::new();
        let health = self.url("/healthz");
        let what = format!("the server binary to answer {health}");
        eventually(&what, || async {
            let answer = client.get(&health).send().await;
            answer.is_ok_and(|response| response.status().is_success())
        })
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its data directory, kept across restarts and removed on drop.
    pub fn data_dir(&self) -> PathBuf {
        self.scratch.path().join("data")
    }

    /// Its process id while it runs (to read its memory from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// SIGKILL, by process id: no shutdown, no flush.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Starts it again on the same port and data directory.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}
