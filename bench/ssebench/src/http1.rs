//! Just enough HTTP/1.1 for a load tool: requests written by hand, response heads, and bodies framed by
//! `Transfer-Encoding: chunked`, `Content-Length` or the end of the connection.
//!
//! Not a client library, so that one subscription is one socket, one small buffer and one task, and body bytes
//! reach the SSE parser without being copied. The syntax is httparse's (the parser under hyper): the status line
//! and header fields of a response head, and chunk-size lines; what is left here is what those mean for the
//! body's framing.

use crate::target::Target;
use std::fmt::Write as _;

/// A header given on the command line as `Name: value`.
pub fn parse_header_arg(arg: &str) -> Result<(String, String), String> {
    let (name, value) = arg
        .split_once(':')
        .ok_or_else(|| format!("header {arg:?} is not `Name: value`"))?;
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        return Err(format!(
            "header {arg:?}: {name:?} is not a valid header name"
        ));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!(
            "header {arg:?}: a value cannot contain a line break"
        ));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// `GET` for an event stream, with the caller's extra headers.
pub fn get_request(target: &Target, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
        target.path, target.host_header
    );
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Writes a `POST` head for a body of `body_len` bytes into `out` (cleared first, so one buffer serves every
/// request). `Content-Type: application/json` unless the caller's headers name one.
pub fn post_head(
    out: &mut Vec<u8>,
    target: &Target,
    headers: &[(String, String)],
    body_len: usize,
) {
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(target.host_header.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// How the body after a head is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Chunked,
    Length(u64),
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub framing: Framing,
    /// The connection ends after this response (`Connection: close`, or HTTP/1.0 without keep-alive).
    pub close: bool,
    pub content_type: String,
    /// The first `Set-Cookie` value, as sent (a login's session cookie, for the soak's logged-in client).
    pub set_cookie: Option<String>,
}

impl Head {
    pub fn is_event_stream(&self) -> bool {
        self.content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
    }
}

/// Header fields a response head may have; an SSE server's or a publish answer's has a handful.
const MAX_HEADERS: usize = 64;

/// Parses the response head at the start of `buf` (status line and header fields, up to the blank line): `None`
/// until the whole head has arrived, then the head and its length in bytes (body bytes may follow it in `buf`).
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
            let line = String::from_utf8_lossy(&line[..line.len().min(80)]);
            return Err(format!("bad response head ({e}), starting {line:?}"));
        }
    };
    let status = response
        .code
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| "bad status code".to_owned())?;
    let mut close = response.version == Some(0);
    let mut chunked = false;
    let mut length = None;
    let mut content_type = String::new();
    let mut set_cookie = None;
    for header in response.headers.iter() {
        let (name, value) = (header.name, String::from_utf8_lossy(header.value));
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<u64>()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            value.clone_into(&mut content_type);
        } else if name.eq_ignore_ascii_case("set-cookie") && set_cookie.is_none() {
            set_cookie = Some(value.to_owned());
        }
    }
    // RFC 9112 6.3: chunked wins over Content-Length; without either the body runs to the end of the connection
    // (and for these statuses there is no body at all).
    let framing = if matches!(status, 100..=199 | 204 | 304) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        close = true;
        Framing::UntilClose
    };
    let head = Head {
        status,
        framing,
        close,
        content_type,
        set_cookie,
    };
    Ok(Some((head, len)))
}

/// The longest chunk-size line (size and extensions) kept while it arrives over several reads.
const MAX_SIZE_LINE: usize = 4096;

/// An incremental `Transfer-Encoding: chunked` decoder. It hands out slices of the input (no copy) and keeps a
/// few integers between reads, so a chunk may be split anywhere across reads; only a chunk-size line that a read
/// cuts in two is kept (a few bytes) until its end arrives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunked {
    state: ChunkState,
    /// The start of a chunk-size line cut by the end of a read; empty while lines arrive whole.
    line: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ChunkState {
    /// Reading a chunk-size line.
    #[default]
    Size,
    Data {
        left: u64,
    },
    DataCr,
    DataLf,
    /// After the last chunk: trailer lines until an empty one. `blank` while the current line is empty so far.
    Trailer {
        blank: bool,
    },
    Done,
}

impl Chunked {
    /// Decodes `input`, passing each run of body bytes to `sink`. Returns `Ok(true)` once the last chunk and
    /// trailers have been read (bytes after that are ignored).
    pub fn feed(&mut self, input: &[u8], mut sink: impl FnMut(&[u8])) -> Result<bool, String> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            self.state = match self.state {
                ChunkState::Done => return Ok(true),
                ChunkState::Size => {
                    i += self.size_line(&input[i..])?;
                    continue;
                }
                ChunkState::Data { left } => {
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    sink(&input[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data { left }
                    };
                    continue;
                }
                ChunkState::DataCr => match b {
                    b'\r' => ChunkState::DataLf,
                    b'\n' => ChunkState::Size,
                    _ => return Err("chunk data longer than its size".to_owned()),
                },
                ChunkState::DataLf => match b {
                    b'\n' => ChunkState::Size,
                    _ => return Err("CR without LF after chunk data".to_owned()),
                },
                ChunkState::Trailer { blank } => match b {
                    b'\r' => ChunkState::Trailer { blank },
                    b'\n' if blank => ChunkState::Done,
                    b'\n' => ChunkState::Trailer { blank: true },
                    _ => ChunkState::Trailer { blank: false },
                },
            };
            i += 1;
        }
        Ok(self.state == ChunkState::Done)
    }

    /// Reads (the rest of) a chunk-size line from `input`; returns how many bytes of it belong to the line, and
    /// moves on to the chunk's data (or the trailers) once the line is complete.
    fn size_line(&mut self, input: &[u8]) -> Result<usize, String> {
        let (consumed, size) = if self.line.is_empty() {
            // The common case: the whole line is in this read and is parsed where it lies.
            match parse_size_line(input)? {
                Some((len, size)) => (len, Some(size)),
                None => {
                    self.keep_line_start(input)?;
                    (input.len(), None)
                }
            }
        } else {
            // The line began in an earlier read: add this read's bytes up to the next LF and try again.
            let take = input
                .iter()
                .position(|&b| b == b'\n')
                .map_or(input.len(), |p| p + 1);
            self.keep_line_start(&input[..take])?;
            match parse_size_line(&self.line)? {
                Some((len, size)) => {
                    // Whatever the line did not use came from this read and is chunk data.
                    let unused = self.line.len() - len;
                    self.line.clear();
                    (take - unused, Some(size))
                }
                None => (take, None),
            }
        };
        if let Some(size) = size {
            self.state = if size == 0 {
                ChunkState::Trailer { blank: true }
            } else {
                ChunkState::Data { left: size }
            };
        }
        Ok(consumed)
    }

    /// Keeps `part` of a chunk-size line until the rest arrives; refuses a line that grows past the bound.
    fn keep_line_start(&mut self, part: &[u8]) -> Result<(), String> {
        if self.line.len() + part.len() > MAX_SIZE_LINE {
            return Err(format!("chunk-size line longer than {MAX_SIZE_LINE} bytes"));
        }
        self.line.extend_from_slice(part);
        Ok(())
    }
}

/// A chunk-size line through httparse: `None` until its CRLF has arrived, then its length and the size.
fn parse_size_line(line: &[u8]) -> Result<Option<(usize, u64)>, String> {
    // httparse reads a line with no digits as size 0, the last chunk: a size has at least one digit here, or a
    // stray CRLF would end the body early.
    if let Some(&b) = line.first().filter(|b| !b.is_ascii_hexdigit()) {
        return Err(format!("chunk size expected, got byte {b:#04x}"));
    }
    match httparse::parse_chunk_size(line) {
        Ok(httparse::Status::Complete(done)) => Ok(Some(done)),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::InvalidChunkSize) => {
            let start = String::from_utf8_lossy(&line[..line.len().min(40)]);
            Err(format!("bad chunk-size line {start:?}"))
        }
    }
}

/// A response body being read: whichever framing its head announced.
#[derive(Debug)]
pub enum Body {
    Chunked(Chunked),
    Length(u64),
    UntilClose,
}

impl Body {
    pub fn new(framing: Framing) -> Body {
        match framing {
            Framing::Chunked => Body::Chunked(Chunked::default()),
            Framing::Length(n) => Body::Length(n),
            Framing::UntilClose => Body::UntilClose,
        }
    }

    /// Like [`Chunked::feed`]: `Ok(true)` once the body is complete (never, for a body that runs to the end of
    /// the connection).
    pub fn feed(&mut self, input: &[u8], mut sink: impl FnMut(&[u8])) -> Result<bool, String> {
        match self {
            Body::Chunked(c) => c.feed(input, sink),
            Body::Length(left) => {
                let take = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                if take > 0 {
                    sink(&input[..take]);
                }
                *left -= take as u64;
                Ok(*left == 0)
            }
            Body::UntilClose => {
                if !input.is_empty() {
                    sink(input);
                }
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(wire: &[u8], split_every: usize) -> Result<(Vec<u8>, bool), String> {
        let mut decoder = Chunked::default();
        let mut out = Vec::new();
        let mut done = false;
        for piece in wire.chunks(split_every.max(1)) {
            done = decoder.feed(piece, |s| out.extend_from_slice(s))?;
        }
        Ok((out, done))
    }

    #[test]
    fn chunked_bodies_decode_however_reads_split_them() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\nIGNORED";
        for split in 1..=wire.len() {
            let (out, done) = decode(wire, split).unwrap();
            assert_eq!(out, b"hello, world0123456789", "split every {split}");
            assert!(done, "split every {split}");
        }
    }

    #[test]
    fn chunked_accepts_bare_lf_after_data_and_upper_or_lower_hex_and_reports_unfinished_bodies() {
        // httparse wants CRLF after a chunk size (the hand-written decoder took a bare LF there too).
        let (out, done) = decode(b"a\r\nabcdefghij\nB\r\nABCDEFGHIJK\r\n", 3).unwrap();
        assert_eq!(out, b"abcdefghijABCDEFGHIJK");
        assert!(!done, "no last chunk yet");
        assert!(
            decode(b"a\nabcdefghij\r\n", 3).is_err(),
            "bare LF after a size"
        );
        let (out, done) = decode(b"0\r\n\r\n", 1).unwrap();
        assert!(out.is_empty() && done);
    }

    #[test]
    fn chunked_refuses_malformed_framing() {
        assert!(decode(b"zz\r\n", 4).is_err(), "not hex");
        assert!(
            decode(b"3\r\nabcd\r\n", 64).is_err(),
            "data longer than its size"
        );
        assert!(decode(b"3\rX", 64).is_err(), "CR without LF");
        assert!(
            decode(b"fffffffffffffffff\r\n", 64).is_err(),
            "size overflows u64"
        );
        assert!(decode(b"\r\n", 64).is_err(), "empty size");
        let long_extension = [&b"5;"[..], &[b'x'; MAX_SIZE_LINE], b"\r\nhello\r\n"].concat();
        assert!(
            decode(&long_extension, 1000).is_err(),
            "a size line is bounded"
        );
    }

    #[test]
    fn heads_give_status_framing_and_content_type() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\nrest";
        let (head, end) = parse_head(raw).unwrap().unwrap();
        assert_eq!(&raw[end..], b"rest");
        assert_eq!(
            (head.status, head.framing, head.close),
            (200, Framing::Chunked, false)
        );
        assert!(head.is_event_stream());

        let (head, _) = parse_head(
            b"HTTP/1.1 201 Created\r\nContent-Length: 12\r\nContent-Type: application/json\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!((head.status, head.framing), (201, Framing::Length(12)));
        assert!(!head.is_event_stream());
        assert_eq!(head.set_cookie, None);

        let (head, _) = parse_head(
            b"HTTP/1.1 200 OK\r\nset-cookie: hearth_session=abc; HttpOnly; Path=/\r\nSet-Cookie: other=1\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            head.set_cookie.as_deref(),
            Some("hearth_session=abc; HttpOnly; Path=/"),
            "the first cookie, as sent"
        );

        let (head, _) = parse_head(b"HTTP/1.0 200 OK\nContent-Type: text/event-stream\n\n")
            .unwrap()
            .unwrap();
        assert_eq!((head.framing, head.close), (Framing::UntilClose, true));
        let end = parse_head(b"HTTP/1.0 200 OK\nA: b\n\nx")
            .unwrap()
            .map(|(_, end)| end);
        assert_eq!(end, Some(22));

        let (head, _) = parse_head(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((head.framing, head.close), (Framing::Length(0), true));

        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nA: b\r\n")
                .unwrap()
                .is_none(),
            "incomplete head"
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
    }

    #[test]
    fn requests_are_well_formed_and_headers_are_checked() {
        let target = Target::parse("http://localhost:3000/message").unwrap();
        let auth = parse_header_arg("Authorization:  Bearer s3cret ").unwrap();
        assert_eq!(
            auth,
            ("Authorization".to_owned(), "Bearer s3cret".to_owned())
        );
        let mut out = Vec::new();
        post_head(&mut out, &target, &[auth], 42);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /message HTTP/1.1\r\nHost: localhost:3000\r\nContent-Type: application/json\r\n\
             Authorization: Bearer s3cret\r\nContent-Length: 42\r\n\r\n"
        );
        let get = get_request(
            &Target::parse("http://127.0.0.1:3000/eventstream").unwrap(),
            &[],
        );
        assert!(String::from_utf8(get)
            .unwrap()
            .starts_with("GET /eventstream HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n"));
        assert!(parse_header_arg("no colon").is_err());
        assert!(parse_header_arg("bad name: x").is_err());
        assert!(parse_header_arg(": x").is_err());
        assert!(parse_header_arg("X-A: b\r\nX-Evil: c").is_err());
    }

    #[test]
    fn length_and_close_bodies_pass_bytes_through() {
        let mut body = Body::new(Framing::Length(5));
        let mut out = Vec::new();
        assert!(!body.feed(b"abc", |s| out.extend_from_slice(s)).unwrap());
        assert!(body.feed(b"defgh", |s| out.extend_from_slice(s)).unwrap());
        assert_eq!(out, b"abcde");
        let mut body = Body::new(Framing::UntilClose);
        assert!(!body.feed(b"xyz", |s| out.extend_from_slice(s)).unwrap());
        assert_eq!(out, b"abcdexyz");
    }
}
