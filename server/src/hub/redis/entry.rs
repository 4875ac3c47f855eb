//! Log entries as Redis returns them (`XRANGE`, `XREAD`), turned back into events. An entry stores the payload
//! without relying on its id: [`Event::durable`] stamps the id again (a message's `id` is its event's id).

use crate::event::Event;
use app::contract::Payload;
use redis::Value;
use std::sync::Arc;

use super::scripts::parse_entry_id;

/// One entry of the log.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    /// The event's name.
    pub name: String,
    pub data: String,
    /// When it was published (milliseconds since the epoch).
    pub ms: i64,
    /// Its ordinal: how many entries had ever been appended, counting it (none in entries written before
    /// ordinals were kept).
    pub ordinal: Option<u64>,
}

impl Entry {
    /// The event this entry carries.
    pub fn event(&self) -> Result<Arc<Event>, String> {
        let payload = Payload::decode_named(&self.name, &self.data).map_err(|e| e.to_string())?;
        Ok(Arc::new(Event::durable(self.seq, payload)))
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

fn items(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

/// One `[id, [field, value, ...]]`.
fn entry(value: &Value) -> Result<Entry, String> {
    let bad = || format!("not a log entry: {value:?}");
    let [id, fields] = items(value).ok_or_else(bad)? else {
        return Err(bad());
    };
    let id = text(id).ok_or_else(bad)?;
    let seq = parse_entry_id(&id).ok_or_else(|| format!("not a Hearth entry id: {id}"))?;
    let (mut event_name, mut data, mut ms, mut ordinal) = (None, None, 0, None);
    let fields: Vec<String> = items(fields)
        .ok_or_else(bad)?
        .iter()
        .map(|f| text(f).ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    for pair in fields.chunks(2) {
        if let [field, value] = pair {
            match field.as_str() {
                "t" => event_name = Some(value.clone()),
                "d" => data = Some(value.clone()),
                "ms" => ms = value.parse().unwrap_or(0),
                "n" => ordinal = value.parse().ok(),
                _ => {}
            }
        }
    }
    Ok(Entry {
        seq,
        name: event_name.ok_or_else(bad)?,
        data: data.ok_or_else(bad)?,
        ms,
        ordinal,
    })
}

/// The entries of an `XRANGE` reply.
pub fn from_range(value: &Value) -> Result<Vec<Entry>, String> {
    match value {
        Value::Nil => Ok(Vec::new()),
        _ => items(value)
            .ok_or_else(|| format!("not a range: {value:?}"))?
            .iter()
            .map(entry)
            .collect(),
    }
}

/// The entries of an `XREAD` reply for one stream (none when it timed out).
pub fn from_read(value: &Value) -> Result<Vec<Entry>, String> {
    match value {
        Value::Nil => Ok(Vec::new()),
        // RESP2: [[key, entries]].
        Value::Array(streams) => match streams.first().and_then(items) {
            Some([_, entries]) => from_range(entries),
            _ => Ok(Vec::new()),
        },
        // RESP3: {key: entries}.
        Value::Map(streams) => match streams.first() {
            Some((_, entries)) => from_range(entries),
            None => Ok(Vec::new()),
        },
        _ => Err(format!("not a read: {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn raw(seq: u64, topic: &str, data: &str) -> Value {
        Value::Array(vec![
            bulk(&format!("0-{seq}")),
            Value::Array(vec![
                bulk("t"),
                bulk(topic),
                bulk("d"),
                bulk(data),
                bulk("ms"),
                bulk("17"),
                bulk("n"),
                bulk("5"),
            ]),
        ])
    }

    #[test]
    fn entries_become_events_with_their_ids_stamped_again() {
        let range = Value::Array(vec![raw(
            41,
            "message",
            r#"{"id":0,"title":"t","message":"m","timestamp":"x"}"#,
        )]);
        let entries = from_range(&range).unwrap();
        assert_eq!(entries[0].ms, 17);
        assert_eq!(entries[0].ordinal, Some(5));
        let event = entries[0].event().unwrap();
        assert_eq!(event.id, Some(41));
        assert!(matches!(&event.payload, Payload::Message(m) if m.id == 41));
        let read = Value::Array(vec![Value::Array(vec![bulk("{hearth}:log"), range])]);
        assert_eq!(from_read(&read).unwrap().len(), 1);
        assert!(from_read(&Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn a_foreign_entry_is_an_error_not_a_guess() {
        let range = Value::Array(vec![Value::Array(vec![
            bulk("1700000000000-0"),
            Value::Array(vec![bulk("t"), bulk("message")]),
        ])]);
        assert!(from_range(&range).is_err());
        let unknown = Entry {
            seq: 1,
            name: "garage".into(),
            data: "{}".into(),
            ms: 0,
            ordinal: None,
        };
        assert!(unknown.event().is_err());
    }
}
