//! Stamping published messages with a sequence number and a send time, and finding both again in whatever the
//! server makes of them.
//!
//! The tool knows nothing of the server's payload shape: Hearth wraps a posted message as
//! `{"id":…,"title":…,"message":"<seq> <sent>","timestamp":…}`, another server may send the text as is, or
//! escaped inside JSON. So an event is matched by its numbers: the send time is a digit run that is a plausible
//! Unix-microsecond time for this run, and the sequence number is the digit run right beside it (on the side the
//! body template puts it), separated from it by punctuation or spaces only. Other numbers — Hearth's message ids
//! are also microsecond clocks — have no such neighbour and are skipped.

/// Microseconds since the Unix epoch: the clock both ends of a delivery are stamped with.
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A `--publish-body` with `{seq}` and `{sent}` placeholders, split once so rendering is a few appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    seq_first: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Seq,
    Sent,
}

impl Template {
    pub fn parse(raw: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = raw;
        let mut first = None;
        while let Some(start) = rest.find('{') {
            let (placeholder, len) = if rest[start..].starts_with("{seq}") {
                (Some(Part::Seq), 5)
            } else if rest[start..].starts_with("{sent}") {
                (Some(Part::Sent), 6)
            } else {
                (None, 1)
            };
            push_text(
                &mut parts,
                &rest[..start + if placeholder.is_none() { 1 } else { 0 }],
            );
            if let Some(p) = placeholder {
                first.get_or_insert(p.clone());
                parts.push(p);
            }
            rest = &rest[start + len..];
        }
        push_text(&mut parts, rest);
        if !parts.contains(&Part::Seq) || !parts.contains(&Part::Sent) {
            return Err(format!(
                "the publish body {raw:?} must contain both {{seq}} and {{sent}}, so deliveries can be counted and timed"
            ));
        }
        Ok(Template {
            parts,
            seq_first: first == Some(Part::Seq),
        })
    }

    /// Whether `{seq}` comes before `{sent}`, which tells [`extract`] on which side of the time to look.
    pub fn seq_first(&self) -> bool {
        self.seq_first
    }

    /// The body for one message, written into `out` (cleared first).
    pub fn render(&self, seq: u64, sent: u64, out: &mut String) {
        out.clear();
        let mut digits = itoa::Buffer::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Seq => out.push_str(digits.format(seq)),
                Part::Sent => out.push_str(digits.format(sent)),
            }
        }
    }
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if text.is_empty() {
        return;
    }
    match parts.last_mut() {
        Some(Part::Text(t)) => t.push_str(text),
        _ => parts.push(Part::Text(text.to_owned())),
    }
}

/// `(seq, sent)` from an event's data, or `None` when it carries no stamp of this run. `window` is the range of
/// send times this run can have produced (inclusive, Unix microseconds).
pub fn extract(data: &str, seq_first: bool, window: (u64, u64)) -> Option<(u64, u64)> {
    let bytes = data.as_bytes();
    let in_window = |v: Option<u64>| v.is_some_and(|v| (window.0..=window.1).contains(&v));
    // The previous digit run: (end index, value; None when it overflows u64).
    let mut prev: Option<(usize, Option<u64>)> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut value = Some(0u64);
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            value = value
                .and_then(|v| v.checked_mul(10))
                .and_then(|v| v.checked_add(u64::from(bytes[i] - b'0')));
            i += 1;
        }
        if let Some((prev_end, prev_value)) = prev {
            let gap = &bytes[prev_end..start];
            let neighbours = !gap.iter().any(u8::is_ascii_alphanumeric);
            if neighbours {
                if seq_first && in_window(value) {
                    if let Some(seq) = prev_value {
                        return value.map(|sent| (seq, sent));
                    }
                }
                if !seq_first && in_window(prev_value) {
                    if let (Some(seq), Some(sent)) = (value, prev_value) {
                        return Some((seq, sent));
                    }
                }
            }
        }
        prev = Some((i, value));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_763_700_000_000_000;
    const WINDOW: (u64, u64) = (NOW - 1_000_000, NOW + 600_000_000);

    #[test]
    fn templates_render_both_stamps_and_keep_other_braces() {
        let t = Template::parse(r#"{"message":"{seq} {sent}"}"#).unwrap();
        assert!(t.seq_first());
        let mut out = String::new();
        t.render(42, NOW, &mut out);
        assert_eq!(out, format!(r#"{{"message":"42 {NOW}"}}"#));
        let t = Template::parse("at {sent}: #{seq} {x}").unwrap();
        assert!(!t.seq_first());
        t.render(7, 9, &mut out);
        assert_eq!(out, "at 9: #7 {x}", "the buffer is reused");
        assert!(
            Template::parse(r#"{"message":"{seq}"}"#).is_err(),
            "no send time"
        );
        assert!(Template::parse("{sent}").is_err(), "no sequence number");
    }

    #[test]
    fn finds_the_stamp_in_hearths_message_event() {
        // The message id is itself a microsecond clock from the same window: it must not be taken for the stamp.
        let data = format!(
            r#"{{"id":{},"title":"New message!","message":"17 {}","timestamp":"2025-11-21T04:00:00.000Z"}}"#,
            NOW + 5,
            NOW + 90
        );
        assert_eq!(extract(&data, true, WINDOW), Some((17, NOW + 90)));
    }

    #[test]
    fn finds_the_stamp_in_plain_escaped_and_reordered_payloads() {
        assert_eq!(extract(&format!("0 {NOW}"), true, WINDOW), Some((0, NOW)));
        let escaped = format!(r#"{{"data":"{{\"message\":\"3 {NOW}\"}}"}}"#);
        assert_eq!(extract(&escaped, true, WINDOW), Some((3, NOW)));
        assert_eq!(
            extract(&format!("sent={NOW}, seq=12"), false, WINDOW),
            None,
            "letters between: not neighbours"
        );
        assert_eq!(
            extract(&format!("{NOW}/12"), false, WINDOW),
            Some((12, NOW))
        );
        assert_eq!(
            extract(&format!("t {NOW} #12 trailing 99"), false, WINDOW),
            Some((12, NOW))
        );
    }

    #[test]
    fn events_without_a_stamp_of_this_run_are_not_matched() {
        assert_eq!(extract("", true, WINDOW), None);
        assert_eq!(extract("ping", true, WINDOW), None);
        assert_eq!(
            extract(&format!("5 {}", NOW - 10_000_000), true, WINDOW),
            None,
            "sent before this run"
        );
        assert_eq!(
            extract(&format!("{NOW}"), true, WINDOW),
            None,
            "a time alone"
        );
        assert_eq!(
            extract(&format!("99999999999999999999999 {NOW}"), true, WINDOW),
            None,
            "seq overflows"
        );
        assert_eq!(extract("1 2 3 4", true, WINDOW), None);
    }
}
