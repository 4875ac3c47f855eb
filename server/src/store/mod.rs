//! The embedded store: SQLite in `<data dir>/hearth.db`, WAL mode, migrations from `server/migrations/`.
//!
//! It holds the event log that backs replay (trimmed by count and age, and per run of readings for events that
//! keep only a window: see `Payload::window`), the snapshot as of the last committed event (so a restart restores
//! the dashboard without replaying history), and the durable records: messages and jobs. It is the hub's [`Journal`]: after
//! start-up only the hub's writer thread touches it, so writes never contend.

use crate::clock::now_ms;
use crate::data_dir;
use crate::event::Event;
use crate::hub::{Journal, Restored, Trimmed};
use anyhow::Context;
use app::contract::{Payload, Snapshot};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DB_FILE: &str = "hearth.db";

/// Schema migrations in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_topic_index.sql"),
    include_str!("../../migrations/0003_entities.sql"),
];

/// Rows deleted per trim step: a step is one short transaction, so publishers never wait long behind it.
const TRIM_STEP: u64 = 5000;
/// Finished jobs remembered (so their streams keep answering 204).
const KEEP_JOBS: u64 = 1000;

/// Retention of the event log.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Keep at most this many events.
    pub max_events: u64,
    /// Drop events older than this many milliseconds.
    pub max_age_ms: i64,
}

impl Retention {
    /// No trimming by count or age (topic windows still apply).
    pub const KEEP_ALL: Retention = Retention {
        max_events: u64::MAX >> 1,
        max_age_ms: i64::MAX,
    };
}

impl Journal for Store {
    fn append(&mut self, batch: &[Arc<Event>], state: &Snapshot) -> anyhow::Result<()> {
        Store::append(self, batch, state)
            .with_context(|| format!("cannot write to {}", self.path.display()))
    }

    fn trim(&mut self) -> anyhow::Result<Trimmed> {
        self.trim_step()
            .with_context(|| format!("cannot trim {}", self.path.display()))
    }

    fn free_bytes(&self) -> Option<u64> {
        Store::free_bytes(self)
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    retention: Retention,
    /// Runs of readings written to since they were last trimmed to their window, with the window's size: a
    /// trim step looks at these only, not at every sensor the home ever had.
    windows_to_trim: HashMap<String, usize>,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, checks it and brings its schema up to date. A file
    /// that is not a healthy Hearth database is an error naming it: never a silent fresh start over it.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        let path = dir.join(DB_FILE);
        let fail = |what: &str| format!("{what} {}", path.display());
        // Created owner-only before SQLite opens it (SQLite gives its WAL and shared-memory files the same mode).
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(data_dir::FILE_MODE)
            .open(&path)
            .with_context(|| fail("cannot create the database"))?;
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
        for file in [DB_FILE, "hearth.db-wal", "hearth.db-shm"] {
            data_dir::restrict(&dir.join(file), data_dir::FILE_MODE)?;
        }
        let mut store = Store {
            conn,
            path,
            retention: Retention::KEEP_ALL,
            windows_to_trim: HashMap::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The retention [`Journal::trim`] trims to.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
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
                snap.upgrade();
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
            let (seq, name, data) = row.with_context(ctx)?;
            let payload = Payload::decode_named(&name, &data)
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
            let now = now_ms();
            let mut event = tx.prepare_cached(
                "INSERT INTO events (seq, topic, data, at_ms, window_key) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut message = tx.prepare_cached(
                "INSERT OR REPLACE INTO messages (id, seq, title, message, timestamp) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut job = tx.prepare_cached(
                "INSERT OR REPLACE INTO jobs (id, seq, progress, done) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for e in batch {
                // The hub journals retained events only, and those always have an id.
                let seq = e.id.with_context(|| {
                    format!("a {} event without an id cannot be journaled", e.topic)
                })?;
                let window = e.payload.window();
                event.execute(params![
                    seq,
                    e.payload.event_name(),
                    e.payload.to_json(),
                    now,
                    window.as_ref().map(|w| w.key.as_str())
                ])?;
                if let Some(window) = window {
                    self.windows_to_trim.insert(window.key, window.keep);
                }
                match &e.payload {
                    Payload::Message(m) => {
                        message.execute(params![m.id, seq, m.title, m.message, m.timestamp])?;
                    }
                    Payload::Job(j) => {
                        job.execute(params![j.id, seq, j.progress, j.done])?;
                    }
                    Payload::Entity(_)
                    | Payload::EntityRemoved(_)
                    | Payload::Command(_)
                    | Payload::Bridge(_)
                    | Payload::Viewers(_)
                    | Payload::Temperature(_)
                    | Payload::Random(_)
                    | Payload::Camera(_)
                    | Payload::Mercure(_) => {}
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

    /// One step of trimming to the retention: events beyond the count or the age, readings beyond their run's
    /// window, messages whose event went, jobs beyond the newest [`KEEP_JOBS`]. At most [`TRIM_STEP`] rows of
    /// each kind go per step; says whether there is more to do.
    pub fn trim_step(&mut self) -> anyhow::Result<Trimmed> {
        let retention = self.retention;
        let cutoff = now_ms().saturating_sub(retention.max_age_ms);
        let tx = self.conn.transaction()?;
        // Readings keep a window of their own and do not count towards (nor get trimmed by) the count: a chatty
        // sensor must not push messages and device changes out.
        let by_count: u64 = tx.query_row(
            "SELECT COALESCE((SELECT seq FROM events WHERE window_key IS NULL
                              ORDER BY seq DESC LIMIT 1 OFFSET ?1), 0)",
            [retention.max_events],
            |r| r.get(0),
        )?;
        let by_age: u64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE at_ms < ?1",
            [cutoff],
            |r| r.get(0),
        )?;
        let mut full = false;
        let deleted = tx.execute(
            "DELETE FROM events WHERE seq IN (
                 SELECT seq FROM events
                 WHERE (seq <= ?1 AND window_key IS NULL) OR seq <= ?2
                 ORDER BY seq LIMIT ?3)",
            params![by_count, by_age, TRIM_STEP],
        )? as u64;
        let below = by_count.max(by_age);
        full |= deleted == TRIM_STEP;
        let mut budget = TRIM_STEP;
        let mut trimmed_windows = Vec::new();
        for (key, keep) in &self.windows_to_trim {
            if budget == 0 {
                full = true;
                break;
            }
            let allowed = budget;
            let deleted = tx.execute(
                "DELETE FROM events WHERE seq IN (
                     SELECT seq FROM events WHERE window_key = ?1 AND seq < (
                         SELECT COALESCE((SELECT seq FROM events WHERE window_key = ?1
                                          ORDER BY seq DESC LIMIT 1 OFFSET ?2), 0))
                     ORDER BY seq LIMIT ?3)",
                params![key, keep.saturating_sub(1) as u64, allowed],
            )? as u64;
            budget -= deleted;
            if deleted < allowed {
                trimmed_windows.push(key.clone());
            } else {
                full = true;
            }
        }
        let deleted = tx.execute(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
            params![below, TRIM_STEP],
        )? as u64;
        full |= deleted == TRIM_STEP;
        tx.execute(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs ORDER BY seq DESC LIMIT -1 OFFSET ?1)",
            [KEEP_JOBS],
        )?;
        tx.commit()?;
        for key in trimmed_windows {
            self.windows_to_trim.remove(&key);
        }
        Ok(if full { Trimmed::More } else { Trimmed::Done })
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

    /// Bytes free on the disk that holds the database, for the hub's free-space floor.
    pub fn free_bytes(&self) -> Option<u64> {
        let dir = self.path.parent()?;
        let stat = rustix::fs::statvfs(dir).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
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
    use app::contract::Temperature;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hearth-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    use crate::hub::numbered_message as message;

    /// Events as the hub would frame them, with the snapshot after them.
    fn events(seqs: std::ops::RangeInclusive<u64>) -> (Vec<Arc<Event>>, Snapshot) {
        let mut snapshot = Snapshot::default();
        let mut out = Vec::new();
        for seq in seqs {
            let payload = message(seq);
            snapshot.apply(Some(seq), &payload);
            out.push(Arc::new(Event::durable(seq, payload)));
        }
        (out, snapshot)
    }

    fn trim_all(store: &mut Store) {
        while store.trim_step().unwrap() == Trimmed::More {}
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
        let retention = Retention {
            max_events: 10,
            max_age_ms: i64::MAX / 2,
        };
        let mut store = Store::open(&dir).unwrap().with_retention(retention);
        let (batch, snapshot) = events(1..=50);
        store.append(&batch, &snapshot).unwrap();
        trim_all(&mut store);
        assert_eq!(store.event_count().unwrap(), 10);
        assert_eq!(
            store.messages().unwrap().len(),
            10,
            "messages go with their events"
        );
        assert_eq!(store.restore(100).unwrap().max_seq, 50);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn readings_keep_only_their_window_and_cannot_push_out_messages() {
        let dir = temp_dir("window");
        // A count retention of 100 events: far more readings than that must not trim away any message.
        let retention = Retention {
            max_events: 100,
            max_age_ms: i64::MAX / 2,
        };
        let mut store = Store::open(&dir).unwrap().with_retention(retention);
        let (messages, mut snapshot) = events(1..=20);
        store.append(&messages, &snapshot).unwrap();
        let window = app::contract::MAX_TEMPERATURES;
        let sensor = |id: &str, value: u64| {
            let mut entity = app::contract::Room::Kitchen.entity(
                app::contract::Device::Lights,
                app::contract::DeviceState::Off,
                "2026-12-04T10:00:00Z".into(),
            );
            entity.id = app::contract::EntityId::parse(id).unwrap();
            entity.kind = app::contract::EntityKind::Sensor;
            entity.state = value.to_string();
            Payload::Entity(entity)
        };
        // The living room's temperature and two sensors, each reporting three windows' worth.
        let readings: Vec<Arc<Event>> = (100..100 + 3 * window as u64)
            .flat_map(|seq| {
                let reading = Payload::Temperature(Temperature {
                    temperature: 20.0,
                    updated_at: "t".into(),
                });
                [
                    (seq * 3, reading),
                    (seq * 3 + 1, sensor("power", seq)),
                    (seq * 3 + 2, sensor("humidity", seq)),
                ]
            })
            .map(|(seq, payload)| {
                snapshot.apply(Some(seq), &payload);
                Arc::new(Event::durable(seq, payload))
            })
            .collect();
        for chunk in readings.chunks(100) {
            store.append(chunk, &snapshot).unwrap();
            trim_all(&mut store);
        }
        assert_eq!(
            store.messages().unwrap().len(),
            20,
            "no message was trimmed"
        );
        for key in ["temperature", "entity/power", "entity/humidity"] {
            let kept: u64 = store
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM events WHERE window_key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(kept, window as u64, "{key}: its window, no more, no less");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A hub on the store in `dir` as start-up builds it after a restart: its ring read back from the log.
    fn restarted(dir: &Path, retention: Retention, replay: usize) -> crate::hub::MemoryBackend {
        let store = Store::open(dir).unwrap().with_retention(retention);
        let restored = store.restore(replay).unwrap();
        let reopen_dir = dir.to_owned();
        crate::hub::MemoryBackend::durable(
            restored,
            replay,
            64,
            Arc::default(),
            crate::hub::Durability {
                journal: Box::new(store),
                reopen: Box::new(move || {
                    let store = Store::open(&reopen_dir)?.with_retention(retention);
                    Ok(Box::new(store) as Box<dyn Journal>)
                }),
                free_floor_bytes: 0,
                publish_timeout: std::time::Duration::from_secs(5),
            },
        )
        .unwrap()
    }

    /// Where a subscriber of `topics` resuming from `id` starts.
    async fn resume(
        hub: &crate::hub::MemoryBackend,
        topics: &[app::contract::Topic],
        id: u64,
    ) -> crate::hub::Start {
        use crate::hub::Backend;
        let id = id.to_string();
        hub.subscribe(crate::hub::SubscribeRequest {
            topics: app::contract::TopicSet::of(topics),
            last_event_id: Some(&id),
            state_stands_in: false,
        })
        .await
        .start
    }

    /// Appends `payloads` under ids from `first` on, each batch of 100 followed by a full trim.
    fn append_trimmed(
        store: &mut Store,
        snapshot: &mut Snapshot,
        first: u64,
        payloads: Vec<Payload>,
    ) {
        let events: Vec<Arc<Event>> = (first..)
            .zip(payloads)
            .map(|(seq, payload)| {
                snapshot.apply(Some(seq), &payload);
                Arc::new(Event::durable(seq, payload))
            })
            .collect();
        for chunk in events.chunks(100) {
            store.append(chunk, snapshot).unwrap();
            trim_all(store);
        }
    }

    fn reading(i: usize) -> Payload {
        Payload::Temperature(Temperature {
            temperature: 20.0,
            updated_at: format!("reading {i}"),
        })
    }

    /// The reference for every backend: retention removed messages after a reading its window keeps, so the log
    /// has a hole after that reading; a resume from it is a reset, also after a restart.
    #[tokio::test]
    async fn a_resume_from_before_what_retention_removed_is_a_reset_after_a_restart() {
        use app::contract::Topic;
        let dir = temp_dir("hole");
        let retention = Retention {
            max_events: 30,
            max_age_ms: i64::MAX / 2,
        };
        let mut store = Store::open(&dir).unwrap().with_retention(retention);
        let mut snapshot = Snapshot::default();
        append_trimmed(&mut store, &mut snapshot, 1, vec![reading(0)]);
        append_trimmed(
            &mut store,
            &mut snapshot,
            2,
            (2..=101).map(message).collect(),
        );
        drop(store);

        let hub = restarted(&dir, retention, 30);
        assert!(matches!(
            resume(&hub, &[Topic::Message], 1).await,
            crate::hub::Start::Reset(_)
        ));
        assert_eq!(
            crate::hub::replayed(resume(&hub, &[Topic::Message], 95).await).await,
            (96..=101).collect::<Vec<_>>()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The reference for every backend: readings that left their window are not a gap; a resume across them
    /// replays the window's readings that are left, also after a restart.
    #[tokio::test]
    async fn a_resume_across_readings_that_left_their_window_replays_the_window_after_a_restart() {
        use app::contract::{Topic, MAX_TEMPERATURES};
        let dir = temp_dir("window-resume");
        let mut store = Store::open(&dir)
            .unwrap()
            .with_retention(Retention::KEEP_ALL);
        let mut snapshot = Snapshot::default();
        let readings = MAX_TEMPERATURES + 40;
        let last = readings as u64 + 2;
        append_trimmed(&mut store, &mut snapshot, 1, vec![message(1)]);
        append_trimmed(
            &mut store,
            &mut snapshot,
            2,
            (0..readings).map(reading).collect(),
        );
        append_trimmed(&mut store, &mut snapshot, last, vec![message(last)]);
        drop(store);

        let hub = restarted(&dir, Retention::KEEP_ALL, 10_000);
        let expected: Vec<u64> = (last - MAX_TEMPERATURES as u64..=last).collect();
        assert_eq!(
            crate::hub::replayed(resume(&hub, &[Topic::Message, Topic::Temperature], 1).await)
                .await,
            expected,
            "no reset: the window's readings, then the message"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_database_from_before_entities_opens_with_its_rooms_as_the_demo_entities() {
        let dir = temp_dir("upgrade");
        {
            // A database as the previous schema left it: rooms in the state, room events in the log.
            let conn = Connection::open(dir.join(DB_FILE)).unwrap();
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            let state = r#"{"seq":7,"rooms":{"kitchen":{"lights":"on","blinds":"open","updatedAt":"t0"},
                "bedroom":{"lights":"off","curtains":"closed","updatedAt":"t1"}},
                "viewers":0,"temperatures":[],"messages":[],"jobs":[]}"#;
            conn.execute(
                "INSERT INTO state (id, seq, snapshot) VALUES (1, 7, ?1)",
                [state],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO events (seq, topic, data, at_ms) VALUES (7, 'kitchen', '{}', 0)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&dir).unwrap();
        let restored = store.restore(10).unwrap();
        let snapshot = restored.snapshot.unwrap();
        let kitchen = snapshot.room_state(app::contract::Room::Kitchen).unwrap();
        assert_eq!(
            serde_json::to_string(&kitchen).unwrap(),
            r#"{"lights":"on","blinds":"open","updatedAt":"t0"}"#
        );
        assert_eq!(snapshot.entities.len(), 4, "the rooms that were stored");
        assert!(
            restored.events.is_empty(),
            "the old room events cannot be replayed"
        );
        assert_eq!(restored.max_seq, 7, "ids go on after the old ones");
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
}
