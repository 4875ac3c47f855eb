//! The embedded store: SQLite in `<data dir>/hearth.db`, WAL mode, migrations from `server/migrations/`.
//!
//! It holds the event log that backs replay (trimmed by count and age), the snapshot as of the last committed
//! event (so a restart restores the dashboard without replaying history), and the durable records: messages,
//! jobs and device states. Only the [`journal`] writer thread touches it after start-up, so writes never contend.

pub mod journal;

use crate::hub::Event;
use anyhow::Context;
use app::contract::{Payload, Snapshot, Topic};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DB_FILE: &str = "hearth.db";

/// Schema migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/0001_init.sql")];

/// Retention of the event log.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Keep at most this many events.
    pub max_events: u64,
    /// Drop events older than this many milliseconds.
    pub max_age_ms: i64,
}

/// What start-up reads back.
#[derive(Debug, Default)]
pub struct Restored {
    /// The state as of `snapshot.seq`, if anything was ever committed.
    pub snapshot: Option<Snapshot>,
    /// The newest retained events, oldest first, for the replay ring.
    pub events: Vec<(u64, Payload)>,
    /// The highest sequence id ever committed (0 for a new store).
    pub max_seq: u64,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, checks it and brings its schema up to date. A file
    /// that is not a healthy Hearth database is an error naming it: never a silent fresh start over it.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        let path = dir.join(DB_FILE);
        let fail = |what: &str| format!("{what} {}", path.display());
        let conn = Connection::open(&path).with_context(|| fail("cannot open the database"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .with_context(|| fail("cannot configure the database"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .with_context(|| fail("the database is unreadable or corrupt:"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("cannot switch {} to WAL mode (got {mode})", path.display());
        }
        // FULL: a commit is on disk before a write is acknowledged, even across a power cut.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .with_context(|| fail("cannot configure the database"))?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .with_context(|| fail("the database is corrupt:"))?;
        if check != "ok" {
            anyhow::bail!("the database {} is corrupt: {check}", path.display());
        }
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self) -> anyhow::Result<()> {
        let version: usize = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .with_context(|| {
                format!("cannot read the schema version of {}", self.path.display())
            })?;
        if version > MIGRATIONS.len() {
            anyhow::bail!(
                "the database {} was written by a newer Hearth (schema {version}, this build knows {})",
                self.path.display(),
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql).with_context(|| {
                format!("migration {} failed on {}", i + 1, self.path.display())
            })?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Reads back the snapshot and the newest `replay` events.
    pub fn restore(&self, replay: usize) -> anyhow::Result<Restored> {
        let ctx = || format!("cannot read the state from {}", self.path.display());
        let snapshot: Option<(u64, String)> = self
            .conn
            .query_row("SELECT seq, snapshot FROM state WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .with_context(ctx)?;
        let snapshot = match snapshot {
            Some((seq, json)) => {
                let mut snap: Snapshot = serde_json::from_str(&json).with_context(|| {
                    format!("the stored snapshot in {} is corrupt", self.path.display())
                })?;
                snap.seq = seq;
                Some(snap)
            }
            None => None,
        };
        let max_seq: u64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
            .with_context(ctx)?;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, topic, data FROM events ORDER BY seq DESC LIMIT ?1")
            .with_context(ctx)?;
        let rows = stmt
            .query_map([replay as i64], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .with_context(ctx)?;
        let mut events = Vec::new();
        for row in rows {
            let (seq, topic, data) = row.with_context(ctx)?;
            let topic = Topic::parse(&topic)
                .with_context(|| format!("event {seq} in {}", self.path.display()))?;
            let payload = Payload::decode(topic, &data)
                .with_context(|| format!("event {seq} in {} is corrupt", self.path.display()))?;
            events.push((seq, payload));
        }
        events.reverse();
        let max_seq = max_seq.max(snapshot.as_ref().map_or(0, |s| s.seq));
        Ok(Restored {
            snapshot,
            events,
            max_seq,
        })
    }

    /// Writes a batch of events and the snapshot after them in one transaction (one fsync for the batch).
    pub fn append(&mut self, batch: &[Arc<Event>], snapshot: &Snapshot) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let now = chrono::Utc::now().timestamp_millis();
            let mut event = tx.prepare_cached(
                "INSERT INTO events (seq, topic, data, at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut message = tx.prepare_cached(
                "INSERT OR REPLACE INTO messages (id, seq, title, message, timestamp) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut job = tx.prepare_cached(
                "INSERT OR REPLACE INTO jobs (id, seq, progress, done) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut device = tx.prepare_cached(
                "INSERT OR REPLACE INTO devices (room, device, state, updated_at, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in batch {
                event.execute(params![e.seq, e.topic.name(), e.payload.to_json(), now])?;
                match &e.payload {
                    Payload::Message(m) => {
                        message.execute(params![m.id, e.seq, m.title, m.message, m.timestamp])?;
                    }
                    Payload::Job(j) => {
                        job.execute(params![j.id, e.seq, j.progress, j.done])?;
                    }
                    Payload::Room(room, state) => {
                        for (d, s) in &state.devices {
                            device.execute(params![
                                room.name(),
                                d.name(),
                                s.name(),
                                state.updated_at,
                                e.seq
                            ])?;
                        }
                    }
                    Payload::Viewers(_)
                    | Payload::Temperature(_)
                    | Payload::Random(_)
                    | Payload::Camera(_) => {}
                }
            }
            let json = serde_json::to_string(snapshot)?;
            tx.execute(
                "INSERT INTO state (id, seq, snapshot) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, snapshot = excluded.snapshot",
                params![snapshot.seq, json],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Drops events (and messages) beyond the retention, at most `limit` rows per call so a trim never holds the
    /// writer long. Returns how many events went.
    pub fn trim(&mut self, retention: Retention, limit: u64) -> anyhow::Result<u64> {
        let cutoff = chrono::Utc::now().timestamp_millis() - retention.max_age_ms;
        let tx = self.conn.transaction()?;
        let by_count: u64 = tx.query_row(
            "SELECT COALESCE((SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?1), 0)",
            [retention.max_events],
            |r| r.get(0),
        )?;
        let by_age: u64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE at_ms < ?1",
            [cutoff],
            |r| r.get(0),
        )?;
        let below = by_count.max(by_age);
        let deleted = tx.execute(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
            params![below, limit],
        )? as u64;
        tx.execute(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
            params![below, limit],
        )?;
        tx.execute(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs ORDER BY seq DESC LIMIT -1 OFFSET 1000)",
            [],
        )?;
        tx.commit()?;
        Ok(deleted)
    }

    /// Every job on record, for the job registry.
    pub fn jobs(&self) -> anyhow::Result<Vec<app::contract::JobUpdate>> {
        let mut stmt = self.conn.prepare("SELECT id, progress, done FROM jobs")?;
        let rows = stmt.query_map([], |r| {
            Ok(app::contract::JobUpdate {
                id: r.get(0)?,
                progress: r.get(1)?,
                done: r.get(2)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
            .with_context(|| format!("cannot read jobs from {}", self.path.display()))
    }

    /// How many events the log holds.
    pub fn event_count(&self) -> anyhow::Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?)
    }

    /// Every stored message, oldest first (for tests and audits).
    pub fn messages(&self) -> anyhow::Result<Vec<app::contract::Message>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, title, message, timestamp FROM messages ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(app::contract::Message {
                id: r.get(0)?,
                title: r.get(1)?,
                message: r.get(2)?,
                timestamp: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{MemoryBackend, Metrics};
    use app::contract::Message;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn message(id: u64) -> Payload {
        Payload::Message(Message {
            id,
            title: "t".into(),
            message: format!("m{id}"),
            timestamp: "2026-11-22T00:00:00.000Z".into(),
        })
    }

    /// Events as the hub would frame them, with the snapshot after them.
    fn events(seqs: std::ops::RangeInclusive<u64>) -> (Vec<Arc<Event>>, Snapshot) {
        let hub = MemoryBackend::new(1000, 16, Arc::new(Metrics::default()));
        let mut snapshot = Snapshot::default();
        let mut out = Vec::new();
        for seq in seqs {
            let payload = message(seq);
            snapshot.apply(seq, &payload);
            out.push(hub.frame_for_tests(seq, payload));
        }
        (out, snapshot)
    }

    #[test]
    fn appended_events_and_state_come_back_after_reopening() {
        let dir = temp_dir("reopen");
        let mut store = Store::open(&dir).unwrap();
        let (batch, snapshot) = events(1..=5);
        store.append(&batch, &snapshot).unwrap();
        drop(store);

        let store = Store::open(&dir).unwrap();
        let restored = store.restore(3).unwrap();
        assert_eq!(restored.max_seq, 5);
        assert_eq!(restored.snapshot.unwrap().messages.len(), 5);
        let seqs: Vec<u64> = restored.events.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            seqs,
            vec![3, 4, 5],
            "the newest `replay` events, oldest first"
        );
        assert_eq!(store.messages().unwrap().len(), 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn trimming_keeps_the_newest_events_by_count() {
        let dir = temp_dir("trim");
        let mut store = Store::open(&dir).unwrap();
        let (batch, snapshot) = events(1..=50);
        store.append(&batch, &snapshot).unwrap();
        let retention = Retention {
            max_events: 10,
            max_age_ms: i64::MAX / 2,
        };
        let mut trimmed = 0;
        while let Ok(n @ 1..) = store.trim(retention, 7) {
            trimmed += n;
        }
        assert_eq!(
            trimmed, 40,
            "trimmed in bounded steps until within retention"
        );
        assert_eq!(store.event_count().unwrap(), 10);
        assert_eq!(store.restore(100).unwrap().max_seq, 50);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_database_is_an_error_naming_the_file() {
        let dir = temp_dir("corrupt");
        std::fs::write(dir.join(DB_FILE), vec![0x5a; 8192]).unwrap();
        let err = Store::open(&dir)
            .err()
            .expect("a corrupt file must not open");
        let text = format!("{err:#}");
        assert!(
            text.contains(&dir.join(DB_FILE).display().to_string()),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_publishes_survive_a_restart_and_ids_continue() {
        use crate::hub::Hub;
        let dir = temp_dir("durable");
        let retention = Retention {
            max_events: 10_000,
            max_age_ms: i64::MAX / 2,
        };
        let (hub, _) =
            Hub::durable(&dir, 100, 64, retention, Arc::new(Metrics::default())).unwrap();
        // Many concurrent publishers: the journal commits them in batches, each answered once durable.
        let tasks: Vec<_> = (1..=200)
            .map(|id| {
                let hub = hub.clone();
                tokio::spawn(async move { hub.publish(message(id)).await.map(|e| e.seq) })
            })
            .collect();
        let mut acked = Vec::new();
        for task in tasks {
            acked.push(task.await.unwrap().unwrap());
        }
        let last = *acked.iter().max().unwrap();
        drop(hub);

        let store = Store::open(&dir).unwrap();
        assert_eq!(
            store.messages().unwrap().len(),
            200,
            "every acknowledged write is on disk"
        );
        drop(store);
        let (hub, _) =
            Hub::durable(&dir, 100, 64, retention, Arc::new(Metrics::default())).unwrap();
        assert_eq!(hub.snapshot().messages.len(), app::contract::MAX_MESSAGES);
        let next = hub.publish(message(1000)).await.unwrap();
        assert!(next.seq > last, "ids continue after a restart");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
