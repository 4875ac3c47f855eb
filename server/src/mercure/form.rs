//! A publish request's body: `application/x-www-form-urlencoded` (`+` for spaces, with or without a charset),
//! with the fields the protocol names — `topic` (one or more, the first canonical), `data`, `private`, `id`,
//! `type`, `retry` — parsed into the contract's [`MercureUpdate`], or refused with the field that was wrong.
//! Unknown fields are ignored, as a form's are.

use super::RESERVED_TOPIC_PREFIXES;
use app::contract::{MercureUpdate, EARLIEST, GENERATED_ID_PREFIX};

/// Topics one update may carry at most.
pub const MAX_TOPICS: usize = 64;

/// Why a publish body was refused (400, naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BadForm {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> BadForm {
    BadForm {
        field,
        message: message.into(),
    }
}

/// Whether a `Content-Type` value is a form's (`application/x-www-form-urlencoded`, any parameters).
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses a publish body.
pub fn parse(body: &[u8]) -> Result<MercureUpdate, BadForm> {
    let mut update = MercureUpdate {
        topics: Vec::new(),
        data: String::new(),
        private: false,
        id: None,
        event_type: None,
        retry: None,
    };
    for (name, value) in form_urlencoded::parse(body) {
        match &*name {
            "topic" => {
                if value.is_empty() {
                    return Err(bad("topic", "a topic may not be empty"));
                }
                update.topics.push(value.into_owned());
            }
            "data" => update.data = value.into_owned(),
            // Set at all, whatever its value (the protocol recommends `on`; an empty one counts).
            "private" => update.private = true,
            "id" => {
                if value.starts_with('#') {
                    return Err(bad("id", "an update's id may not start with '#'"));
                }
                if value.starts_with(GENERATED_ID_PREFIX) || value == EARLIEST {
                    return Err(bad(
                        "id",
                        format!(
                            "ids starting with {GENERATED_ID_PREFIX} and the id {EARLIEST:?} are the hub's own"
                        ),
                    ));
                }
                if !value.is_empty() {
                    update.id = Some(value.into_owned());
                }
            }
            "type" => update.event_type = Some(value.into_owned()).filter(|t| !t.is_empty()),
            "retry" => {
                let retry = value.trim().parse().map_err(|_| {
                    bad(
                        "retry",
                        format!("retry must be milliseconds, not {value:?}"),
                    )
                })?;
                update.retry = Some(retry);
            }
            _ => {}
        }
    }
    if update.topics.is_empty() {
        return Err(bad(
            "topic",
            "missing \"topic\": an update needs at least one",
        ));
    }
    if update.topics.len() > MAX_TOPICS {
        return Err(bad(
            "topic",
            format!("at most {MAX_TOPICS} topics per update"),
        ));
    }
    Ok(update)
}

/// The first of `topics` that only the hub may publish to, if any.
pub fn reserved_topic(topics: &[String]) -> Option<&str> {
    topics
        .iter()
        .map(String::as_str)
        .find(|t| RESERVED_TOPIC_PREFIXES.iter().any(|p| t.starts_with(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_with_every_field_and_plus_for_spaces_parses() {
        let u = parse(
            b"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&topic=alt&data=the+content%0Aline&private=&id=urn%3Auuid%3A1&type=book&retry=500&other=x",
        )
        .unwrap();
        assert_eq!(u.topics, ["https://example.com/books/1", "alt"]);
        assert_eq!(u.data, "the content\nline");
        assert!(u.private, "an empty private still counts");
        assert_eq!(u.id.as_deref(), Some("urn:uuid:1"));
        assert_eq!(u.event_type.as_deref(), Some("book"));
        assert_eq!(u.retry, Some(500));
        let minimal = parse(b"topic=t").unwrap();
        assert!(!minimal.private && minimal.id.is_none() && minimal.data.is_empty());
    }

    #[test]
    fn bad_forms_name_their_field() {
        let field = |body: &[u8]| parse(body).unwrap_err().field;
        assert_eq!(field(b"data=x"), "topic");
        assert_eq!(field(b"topic="), "topic");
        assert_eq!(field(b"topic=t&id=%23frag"), "id");
        assert_eq!(field(b"topic=t&id=urn%3Ahearth%3A5"), "id");
        assert_eq!(field(b"topic=t&id=earliest"), "id");
        assert_eq!(field(b"topic=t&retry=soon"), "retry");
        let many: String = (0..=MAX_TOPICS).map(|i| format!("topic=t{i}&")).collect();
        assert_eq!(field(many.as_bytes()), "topic");
    }

    #[test]
    fn content_types_and_reserved_topics() {
        assert!(is_form(Some("application/x-www-form-urlencoded")));
        assert!(is_form(Some(
            "application/x-www-form-urlencoded; charset=UTF-8"
        )));
        assert!(!is_form(Some("application/json")));
        assert!(!is_form(None));
        let topics = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            reserved_topic(&topics(&["a", "urn:hearth:topic:message"])),
            Some("urn:hearth:topic:message")
        );
        assert!(reserved_topic(&topics(&["/.well-known/mercure/subscriptions/x/y"])).is_some());
        assert_eq!(reserved_topic(&topics(&["https://example.com/a"])), None);
    }
}
