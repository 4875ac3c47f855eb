//! The keys Hearth keeps in Redis and the Lua scripts that change them. Every key shares the hash tag
//! `{hearth}`, so a script that touches several of them also runs on Redis Cluster (all in one slot).
//!
//! Scripts are how several instances change shared data without a lock: each runs atomically on the broker,
//! so assigning an id and appending the event, or comparing and setting, is one step no other instance can
//! interleave with. They are sent by hash (`EVALSHA`), loaded on first use and again after a broker restart.

use redis::Script;
use std::sync::LazyLock;

/// The event log: a stream whose entry ids are `0-<event id>`, with fields `t` (the event's name), `d` (the
/// payload's JSON, without its id), `ms` (publish time, for retention by age), `n` (its ordinal: entries ever
/// appended, counting it) and, for an event of which only a window is kept (a sensor's readings), `w` (the
/// window's key).
pub const LOG: &str = "{hearth}:log";
/// `last` (the highest id ever assigned), `n` (how many entries were ever appended), `epoch` (a random identity
/// of this data set: when it changes, the broker lost its data) and `windowed` (how many entries of the log
/// belong to a window).
pub const META: &str = "{hearth}:meta";
/// Event name -> the highest id of that name retention dropped from the log; and [`ALL_NAMES`] -> an id at or
/// below which no resume of any topic is honoured (the log went back past it). A resume from below either would
/// replay across a hole: it gets a reset.
pub const TRIMMED: &str = "{hearth}:trimmed";
/// The field of [`TRIMMED`] that holds for every event name.
pub const ALL_NAMES: &str = "*";
/// Conflict key (a topic, or one entity) -> id of its newest event: what a compare-and-set update is checked
/// against.
pub const VERSIONS: &str = "{hearth}:versions";
/// `seq` and `state`: the dashboard's state as of `seq`, where a new instance starts.
pub const CHECKPOINT: &str = "{hearth}:checkpoint";
/// Instance -> its viewer count and the deadline for its next report.
pub const VIEWERS: &str = "{hearth}:viewers";

/// The instances that have written a Mercure subscription list (a set; an instance whose list expired is
/// dropped from it when the lists are read).
pub const SUBSCRIPTION_LISTS: &str = "{hearth}:mercure:lists";

/// The key of one instance's list of Mercure subscriptions (JSON, with an expiry).
pub fn subscription_list(instance: &str) -> String {
    format!("{{hearth}}:mercure:list:{instance}")
}

/// The key of the lease named `name` (the simulator, a job).
pub fn lease(name: &str) -> String {
    format!("{{hearth}}:lease:{name}")
}

/// The prefix of the lists that hold each window's ids in the log, oldest first (`<prefix><window key>`): the
/// publish script keeps the log to the window with it, and the trim script removes what it trims by age.
pub const WINDOW_PREFIX: &str = "{hearth}:window:";

/// The key of a publish batch's record: its answers once the publish script ran, or a fence once its caller
/// gave up on it (see the publish and resolve scripts).
pub fn batch(token: &str) -> String {
    format!("{{hearth}}:batch:{token}")
}

/// The key of a dashboard session.
pub fn session(id: &str) -> String {
    format!("{{hearth}}:session:{id}")
}

/// A log entry's id for event id `seq`.
pub fn entry_id(seq: u64) -> String {
    format!("0-{seq}")
}

/// The event id in a log entry's id (`0-<seq>`).
pub fn parse_entry_id(id: &str) -> Option<u64> {
    id.strip_prefix("0-")?.parse().ok()
}

/// Assigns ids to a batch and appends it, each event unconditionally or compared-and-set.
pub static PUBLISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("publish.lua")));
/// Settles a batch whose reply was lost: its answers, or a fence.
pub static RESOLVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("resolve.lua")));
/// Raises a high-water mark in a hash.
pub static RAISE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("raise.lua")));
/// Stores a checkpoint unless a newer one is there (or the log went back under it).
pub static CHECKPOINT_CAS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("checkpoint.lua")));
/// One bounded retention step that never cuts into the checkpoint.
pub static TRIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("trim.lua")));
/// Reports an instance's viewer count and returns the live total.
pub static PRESENCE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("presence.lua")));
/// Takes or renews a lease.
pub static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lease.lua")));
/// Gives a lease back.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("release.lua")));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_round_trip_and_reject_what_hearth_never_writes() {
        assert_eq!(
            parse_entry_id(&entry_id(1_733_000_000_000_123)),
            Some(1_733_000_000_000_123)
        );
        assert_eq!(parse_entry_id("1733-0"), None);
        assert_eq!(parse_entry_id("0-x"), None);
    }

    #[test]
    fn every_key_is_in_one_hash_slot() {
        for key in [
            LOG,
            META,
            VERSIONS,
            CHECKPOINT,
            TRIMMED,
            VIEWERS,
            SUBSCRIPTION_LISTS,
            &subscription_list("i"),
            &batch("b"),
            &lease("sim"),
            &session("s"),
        ] {
            assert!(key.starts_with("{hearth}:"), "{key}");
        }
    }
}
