//! Encoding events as `text/event-stream` bytes.
//!
//! Multi-line data becomes several `data:` lines (every line ending — CRLF, LF, CR — splits a line, exactly as
//! a parser will), and `id` / `event` never carry CR or LF, so no payload can forge a field or end an event early.

use bytes::{BufMut, Bytes, BytesMut};

/// Encodes one event. `event` and `id` lose any CR/LF; `data` is split into `data:` lines.
pub fn frame(id: Option<u64>, event: Option<&str>, data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 48);
    if let Some(id) = id {
        out.put_slice(b"id: ");
        out.put_slice(itoa::Buffer::new().format(id).as_bytes());
        out.put_u8(b'\n');
    }
    if let Some(event) = event {
        out.put_slice(b"event: ");
        put_single_line(&mut out, event);
        out.put_u8(b'\n');
    }
    put_data(&mut out, data);
    out.put_u8(b'\n');
    out.freeze()
}

/// Encodes one event whose id is any text (not only a number), with an optional `retry:` field: what a hub
/// that lets publishers choose ids sends. `id` and `event` lose any CR/LF (and `id` any NUL, which a client would
/// take as no id at all).
pub fn frame_text(id: Option<&str>, event: Option<&str>, retry: Option<u64>, data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 64);
    if let Some(id) = id {
        out.put_slice(b"id: ");
        for part in id.split(['\r', '\n', '\0']) {
            out.put_slice(part.as_bytes());
        }
        out.put_u8(b'\n');
    }
    if let Some(event) = event {
        out.put_slice(b"event: ");
        put_single_line(&mut out, event);
        out.put_u8(b'\n');
    }
    if let Some(retry) = retry {
        out.put_slice(b"retry: ");
        out.put_slice(itoa::Buffer::new().format(retry).as_bytes());
        out.put_u8(b'\n');
    }
    put_data(&mut out, data);
    out.put_u8(b'\n');
    out.freeze()
}

/// Appends `data:` lines for `data` (at least one, so even empty data is a well-formed field).
pub fn put_data(out: &mut BytesMut, data: &str) {
    let mut rest = data;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        out.put_slice(b"data: ");
        out.put_slice(&rest.as_bytes()[..end]);
        out.put_u8(b'\n');
        if end == rest.len() {
            break;
        }
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
}

fn put_single_line(out: &mut BytesMut, value: &str) {
    for part in value.split(['\r', '\n']) {
        out.put_slice(part.as_bytes());
    }
}

/// A comment line (`: text`), ignored by clients; used as a keep-alive. Line breaks in `text` are dropped.
pub fn comment(text: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 4);
    out.put_slice(b": ");
    put_single_line(&mut out, text);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// The `retry:` field that sets the client's reconnection delay, sent once per connection.
pub fn retry(millis: u64) -> Bytes {
    Bytes::from(format!("retry: {millis}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Parser;
    use proptest::prelude::*;

    fn text(b: &Bytes) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    #[test]
    fn a_text_id_event_reads_back_with_its_fields_and_cannot_forge_one() {
        let f = frame_text(
            Some("urn:uuid:1\nevent: forged"),
            Some("book"),
            Some(500),
            "a\nb",
        );
        assert_eq!(
            text(&f),
            "id: urn:uuid:1event: forged\nevent: book\nretry: 500\ndata: a\ndata: b\n\n"
        );
        let events = Parser::default().feed(&f);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, "urn:uuid:1event: forged");
        assert_eq!(events[0].event, "book");
        assert_eq!(events[0].data, "a\nb");
    }

    #[test]
    fn a_simple_event_is_exactly_three_fields() {
        let f = frame(Some(7), Some("kitchen"), r#"{"lights":"on"}"#);
        assert_eq!(
            text(&f),
            "id: 7\nevent: kitchen\ndata: {\"lights\":\"on\"}\n\n"
        );
    }

    #[test]
    fn every_line_ending_starts_a_new_data_line() {
        let f = frame(None, None, "a\r\nb\rc\nd");
        assert_eq!(text(&f), "data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn event_names_cannot_inject_fields() {
        let f = frame(Some(1), Some("x\ndata: evil\r"), "ok");
        assert_eq!(text(&f), "id: 1\nevent: xdata: evil\ndata: ok\n\n");
        assert_eq!(text(&comment("a\nb")), ": ab\n\n");
        assert_eq!(text(&retry(1500)), "retry: 1500\n\n");
    }

    proptest! {
        // Any non-empty payload — arbitrary Unicode, CR, LF, CRLF, blank lines, leading spaces — survives
        // encode → WHATWG parse unchanged, except that line endings normalise to LF (the spec's own rule).
        #[test]
        fn any_payload_survives_encode_then_parse(
            data in "(.|\r|\n|\r\n){1,200}",
            event in "[a-z]{1,12}",
            id in any::<u64>(),
            split in any::<prop::sample::Index>(),
        ) {
            let wire = frame(Some(id), Some(&event), &data);
            let cut = split.index(wire.len() + 1);
            let mut parser = Parser::default();
            let mut events = parser.feed(&wire[..cut]);
            events.extend(parser.feed(&wire[cut..]));
            let expected = data.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(events.len(), 1);
            prop_assert_eq!(&events[0].data, &expected);
            prop_assert_eq!(&events[0].event, &event);
            prop_assert_eq!(&events[0].id, &id.to_string());
        }
    }
}
