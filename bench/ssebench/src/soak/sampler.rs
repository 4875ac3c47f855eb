//! The server's footprint during the soak: its resident memory (`/proc/<pid>/status`) and its database with
//! the WAL and shared-memory files, read every second until a few seconds after the load stops, and the bounds
//! they must stay within.

use crate::procfs;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

const EVERY: Duration = Duration::from_secs(1);
/// Sampling goes on this long after the load stops: what the server still holds once it is over counts too.
const AFTER: Duration = Duration::from_secs(5);
/// The files SQLite keeps for the server's database.
const DATABASE_FILES: [&str; 3] = ["hearth.db", "hearth.db-wal", "hearth.db-shm"];

/// Where to look.
pub struct Footprint {
    pid: u32,
    data_dir: PathBuf,
}

/// The largest and last figures seen. A memory figure is `None` when the server could not be read at some
/// sample (it exited): that is reported as a bound passed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Peaks {
    pub rss_max: Option<u64>,
    pub rss_last: Option<u64>,
    pub rss_unreadable: bool,
    pub db_max: u64,
    pub pid: u32,
}

impl Footprint {
    pub fn new(pid: u32, data_dir: PathBuf) -> Footprint {
        Footprint { pid, data_dir }
    }

    /// The server's RSS in KiB now.
    pub fn rss_now(&self) -> Option<u64> {
        procfs::rss_kib(&self.pid.to_string())
    }

    /// The database's files together, in bytes (a missing file counts 0).
    fn db_bytes(&self) -> u64 {
        DATABASE_FILES
            .iter()
            .filter_map(|name| std::fs::metadata(self.data_dir.join(name)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Samples every second until [`AFTER`] past `until`.
    pub async fn run(self, until: Instant) -> Peaks {
        let mut peaks = Peaks {
            pid: self.pid,
            ..Peaks::default()
        };
        loop {
            peaks.record(self.rss_now(), self.db_bytes());
            if Instant::now() >= until + AFTER {
                return peaks;
            }
            tokio::time::sleep(EVERY).await;
        }
    }
}

impl Peaks {
    pub fn record(&mut self, rss_kib: Option<u64>, db_bytes: u64) {
        match rss_kib {
            Some(rss) => self.rss_max = Some(self.rss_max.map_or(rss, |m| m.max(rss))),
            None => self.rss_unreadable = true,
        }
        self.rss_last = rss_kib;
        self.db_max = self.db_max.max(db_bytes);
    }

    /// What went past a bound, one sentence each (empty when all held).
    pub fn over(&self, max_rss_mib: f64, max_db_mb: f64) -> Vec<String> {
        let mut over = Vec::new();
        if self.rss_unreadable {
            over.push(format!(
                "the server's memory could not be read at every sample (has process {} exited?)",
                self.pid
            ));
        }
        if let Some(max) = self.rss_max.filter(|&m| m as f64 > max_rss_mib * 1024.0) {
            over.push(format!(
                "server RSS reached {:.1} MiB (bound {max_rss_mib} MiB)",
                max as f64 / 1024.0
            ));
        }
        if self.db_max as f64 > max_db_mb * 1e6 {
            over.push(format!(
                "the database reached {:.1} MB (bound {max_db_mb} MB)",
                self.db_max as f64 / 1e6
            ));
        }
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_keep_the_largest_and_the_last_figures() {
        let mut peaks = Peaks::default();
        peaks.record(Some(10_000), 5_000_000);
        peaks.record(Some(30_000), 80_000_000);
        peaks.record(Some(20_000), 70_000_000);
        assert_eq!(
            (peaks.rss_max, peaks.rss_last, peaks.db_max),
            (Some(30_000), Some(20_000), 80_000_000)
        );
        assert!(peaks.over(64.0, 160.0).is_empty());
    }

    #[test]
    fn each_bound_passed_is_named_with_the_figure() {
        let mut peaks = Peaks::default();
        peaks.record(Some(70 * 1024), 200_000_000);
        assert_eq!(
            peaks.over(64.0, 160.0),
            [
                "server RSS reached 70.0 MiB (bound 64 MiB)",
                "the database reached 200.0 MB (bound 160 MB)"
            ]
        );
        assert_eq!(
            peaks.over(80.0, 5.5),
            ["the database reached 200.0 MB (bound 5.5 MB)"]
        );
    }

    #[test]
    fn a_server_that_cannot_be_read_fails_the_bounds() {
        let mut peaks = Peaks {
            pid: 4242,
            ..Peaks::default()
        };
        peaks.record(Some(10_000), 0);
        peaks.record(None, 0);
        let over = peaks.over(64.0, 160.0);
        assert_eq!(over.len(), 1);
        assert!(over[0].contains("4242"), "{over:?}");
    }

    #[test]
    fn the_database_counts_its_wal_and_shared_memory_files() {
        let dir = std::env::temp_dir().join(format!("ssebench-footprint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hearth.db"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.join("hearth.db-wal"), vec![0u8; 300]).unwrap();
        std::fs::write(dir.join("other.db"), vec![0u8; 7]).unwrap();
        let footprint = Footprint::new(std::process::id(), dir.clone());
        assert_eq!(
            footprint.db_bytes(),
            1300,
            "no -shm file counts 0; other files do not count"
        );
        assert!(footprint.rss_now().is_some_and(|k| k > 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
