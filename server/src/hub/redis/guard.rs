//! Start-up checks: Hearth refuses a Redis that could lose a write it acknowledged or drop its keys. With these
//! settings a write answered 2xx is on the broker's disk (`appendfsync always` fsyncs before the broker
//! replies), and the log, the checkpoint and the sessions are never evicted to make room.

use anyhow::Context;
use redis::Value;

/// A setting the broker must have, and how to fix it when it does not.
struct Required {
    name: &'static str,
    value: &'static str,
    why: &'static str,
}

const REQUIRED: [Required; 3] = [
    Required {
        name: "appendonly",
        value: "yes",
        why: "without the append-only file a restart loses every write since the last snapshot",
    },
    Required {
        name: "appendfsync",
        value: "always",
        why: "anything else acknowledges writes before they are on disk, so a crash can lose them",
    },
    Required {
        name: "maxmemory-policy",
        value: "noeviction",
        why: "an evicting policy may delete the event log, the checkpoint or sessions to make room",
    },
];

/// Reads the broker's settings and refuses any that could lose acknowledged data, naming the setting and
/// its fix.
pub fn check(conn: &mut redis::Connection) -> anyhow::Result<()> {
    for required in REQUIRED {
        let reply: Value = redis::cmd("CONFIG")
            .arg("GET")
            .arg(required.name)
            .query(conn)
            .with_context(|| {
                format!(
                    "cannot read the Redis setting {} (CONFIG GET must be allowed for Hearth to check it)",
                    required.name
                )
            })?;
        let actual = setting(&reply).unwrap_or_default();
        if !actual.eq_ignore_ascii_case(required.value) {
            anyhow::bail!(
                "Redis has {name} {actual:?}, and Hearth needs {name} {value}: {why}. Fix: set `{name} {value}` in \
                 redis.conf (or run `CONFIG SET {name} {value}` and `CONFIG REWRITE`), then start Hearth again",
                name = required.name,
                value = required.value,
                why = required.why,
            );
        }
    }
    Ok(())
}

/// The value in a `CONFIG GET` reply (`[name, value]`, or a map in RESP3).
fn setting(reply: &Value) -> Option<String> {
    let value = match reply {
        Value::Array(items) => items.get(1)?,
        Value::Map(pairs) => &pairs.first()?.1,
        _ => return None,
    };
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_reply_gives_its_value() {
        let reply = Value::Array(vec![
            Value::BulkString(b"appendfsync".to_vec()),
            Value::BulkString(b"everysec".to_vec()),
        ]);
        assert_eq!(setting(&reply).as_deref(), Some("everysec"));
        assert_eq!(setting(&Value::Array(vec![])), None);
    }
}
