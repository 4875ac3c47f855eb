//! A `redis-server` of the test's own, with the settings Hearth requires of a broker (an append-only file synced
//! on every write, no eviction): a free port, a scratch directory, stopped by its process id on drop.

use super::{program, Daemon};
use crate::common::eventually::eventually;
use crate::common::scratch::{free_port, ScratchDir};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Redis {
    daemon: Daemon,
    pub port: u16,
    pub dir: ScratchDir,
    extra: Vec<String>,
}

impl Redis {
    /// Starts one with the settings Hearth requires.
    pub async fn start() -> Redis {
        Redis::start_with(&[]).await
    }

    /// Starts one with `extra` settings on top (later ones win), e.g. `["--appendfsync", "everysec"]`.
    pub async fn start_with(extra: &[&str]) -> Redis {
        let mut redis = Redis {
            daemon: Daemon::default(),
            port: free_port(),
            dir: ScratchDir::new("redis"),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        redis.launch().await;
        redis
    }

    async fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("redis.log")).expect("a log file");
        self.daemon = Daemon::spawn(
            Command::new(program("redis-server", "redis-server"))
                .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(self.dir.path())
                .args(["--appendonly", "yes", "--appendfsync", "always"])
                .args(["--save", ""])
                .args(["--maxmemory-policy", "noeviction", "--daemonize", "no"])
                .args(&self.extra)
                .stdout(Stdio::from(log))
                .stderr(Stdio::null()),
            "redis-server",
        );
        let what = format!("redis-server on port {} to answer PING", self.port);
        eventually(&what, || self.ping()).await;
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let connect = client.get_multiplexed_async_connection();
        let Ok(Ok(mut conn)) = tokio::time::timeout(Duration::from_millis(200), connect).await
        else {
            return false;
        };
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        pong.is_ok_and(|p| p == "PONG")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, by process id.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Starts it again on the same port and directory (its append-only file is read back).
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// Starts it again on the same port with its data gone.
    pub async fn restart_empty(&mut self) {
        self.kill();
        self.dir.clear();
        self.launch().await;
    }

    /// A plain connection for a test to look at what is stored.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("a connection to the test's Redis")
    }
}
