//! External programs a test runs beside Hearth, each an instance of its own: on a free loopback port, in a
//! scratch directory, stopped by its process id (never by name: `redis-server` rewrites its own process title,
//! and other tests' instances run beside it).

pub mod mosquitto;
pub mod redis;

use std::path::PathBuf;
use std::process::{Child, Command};

/// Where the program `name` is: the path in `HEARTH_<NAME>` when set (`HEARTH_REDIS_SERVER` for `redis-server`),
/// else the first on `PATH`, else in Debian's directories. Fails naming the Debian package that installs it.
pub fn program(name: &str, package: &str) -> PathBuf {
    let override_var = format!("HEARTH_{}", name.to_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&override_var) {
        return PathBuf::from(path);
    }
    let path_dirs = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let debian_dirs = ["/usr/bin", "/usr/sbin"].map(PathBuf::from);
    path_dirs
        .into_iter()
        .chain(debian_dirs)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed, and this test needs a real one: run `bash scripts/setup.sh` (it installs \
                 Debian's {package}) or `apt-get install {package}`, or set {override_var} to its path"
            )
        })
}

/// A program the test started, killed (SIGKILL) and reaped by its process id when stopped or dropped.
#[derive(Debug, Default)]
pub struct Daemon(Option<Child>);

impl Daemon {
    /// Runs `command`; fails naming `what` if it cannot start.
    pub fn spawn(command: &mut Command, what: &str) -> Daemon {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        Daemon(Some(child))
    }

    /// Its process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// SIGKILL, then waits for it to be gone; nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
