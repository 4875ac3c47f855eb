//! A streaming `text/event-stream` parser that follows the WHATWG processing model to the letter: CRLF, LF and
//! CR line endings (also split across chunks), a leading BOM, comments, one optional space after the colon,
//! `id` with NUL ignored, digits-only `retry`, empty-data events not dispatched, last event id carried over.
//!
//! Hearth's own tests and the load tool read streams through it, so a framing bug cannot hide behind a lenient
//! client.

/// One dispatched event, as a browser's `MessageEvent` would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type (`message` when the stream named none).
    pub event: String,
    pub data: String,
    /// The stream's last event id when this event was dispatched.
    pub id: String,
}

#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF in the next one belongs to that line ending.
    after_cr: bool,
    /// Bytes seen so far; the BOM is only stripped at the very start.
    started: bool,
    data: String,
    event_type: String,
    id_buffer: String,
    last_event_id: String,
    retry: Option<u64>,
    comments: u64,
}

impl Parser {
    /// Feeds bytes; returns the events they completed, in order.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.started && !chunk.is_empty() {
            self.started = true;
            chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        }
        if self.after_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out);
            let is_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if is_cr {
                if rest.first() == Some(&b'\n') {
                    rest = &rest[1..];
                } else if rest.is_empty() {
                    self.after_cr = true;
                }
            }
        }
        self.line.extend_from_slice(rest);
        out
    }

    /// The last `retry:` value the stream set.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// The stream's last event id so far.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// How many comment lines (keep-alives) were seen.
    pub fn comments(&self) -> u64 {
        self.comments
    }

    fn process_line(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) {
        if raw.is_empty() {
            self.dispatch(out);
            return;
        }
        let line = String::from_utf8_lossy(raw);
        if line.starts_with(':') {
            self.comments += 1;
            return;
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => self.event_type = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id_buffer = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        self.last_event_id = self.id_buffer.clone();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = match std::mem::take(&mut self.event_type) {
            t if t.is_empty() => "message".to_owned(),
            t => t,
        };
        out.push(SseEvent {
            event,
            data,
            id: self.last_event_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> (Vec<SseEvent>, Parser) {
        let mut p = Parser::default();
        let events = chunks.iter().flat_map(|c| p.feed(c)).collect();
        (events, p)
    }

    #[test]
    fn spec_examples() {
        // From the WHATWG examples: two data lines join with LF; a space after the colon is optional once.
        let (events, _) = parse_all(&[b"data: YHOO\ndata: +2\ndata: 10\n\n"]);
        assert_eq!(events[0].data, "YHOO\n+2\n10");
        let (events, _) = parse_all(&[b"data:test\n\ndata: test\n\ndata:  test\n\n"]);
        let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["test", "test", " test"]);
    }

    #[test]
    fn line_endings_split_across_chunks() {
        let (events, _) = parse_all(&[
            b"data: a\r",
            b"\ndata: b\r",
            b"\r",
            b"event: x\rdata: c\r\n\r\n",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data, "a\nb");
        assert_eq!(
            (events[1].event.as_str(), events[1].data.as_str()),
            ("x", "c")
        );
    }

    #[test]
    fn ids_carry_over_and_empty_data_is_not_dispatched() {
        let (events, p) = parse_all(&[
            b"\xEF\xBB\xBFid: 5\ndata: a\n\nid: 6\n\ndata: b\n\n: ping\n\nid: x\0y\n\n",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id, "5");
        assert_eq!(
            events[1].id, "6",
            "an id-only block updates the last event id"
        );
        assert_eq!(p.last_event_id(), "6", "an id with NUL is ignored");
        assert_eq!(p.comments(), 1);
    }

    #[test]
    fn retry_only_accepts_digits_and_unterminated_events_wait() {
        let (events, p) = parse_all(&[b"retry: 3000\n\nretry: 12a\n\ndata: incomplete\n"]);
        assert_eq!(p.retry(), Some(3000));
        assert!(events.is_empty());
    }
}
