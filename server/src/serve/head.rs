//! Request heads, read by Hearth before hyper sees them: an event-stream request is held by
//! [`super::sse_writer`]; anything else goes to hyper, and [`classify`] says how many bytes it spans so that the
//! next request on the same connection can be looked at too ([`super::gate`]).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, Uri, Version};

/// A request head larger than this is not an `EventSource` request: hyper gets it (and its own limits apply).
pub const MAX_HEAD: usize = 8 * 1024;
/// Headers a stream request may carry; a browser sends about a dozen.
const MAX_HEADERS: usize = 48;

/// What the bytes at the start of a buffer are.
pub enum Classified {
    /// Not a whole request head yet.
    Incomplete,
    /// A complete, body-less `GET` of an event-stream route.
    Stream(Box<Request<Body>>),
    /// Another request, `len` bytes long with its body (`Content-Length`, or none).
    Other { len: u64 },
    /// A request whose end cannot be told from its head (chunked body, a length written any way but plain
    /// digits, a malformed or oversized head): hyper gets the rest of the connection as it is.
    Unknown,
}

pub fn classify(buf: &[u8], is_stream_path: &impl Fn(&str) -> bool) -> Classified {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Classified::Incomplete,
        // Malformed, or more headers than a browser sends: hyper answers it properly.
        Err(_) => return Classified::Unknown,
    };
    if let Some(request) = stream_request(&parsed, is_stream_path) {
        return Classified::Stream(Box::new(request));
    }
    match body_length(&parsed).and_then(|body| body.checked_add(head_len as u64)) {
        Some(len) => Classified::Other { len },
        None => Classified::Unknown,
    }
}

/// The method, target, version and headers of the request head at the start of `buf`, as hyper would make them
/// of it; `None` when it is incomplete or not something the gate can read.
pub fn parts(buf: &[u8]) -> Option<Parts> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {
            let uri = parsed.path?.parse().ok()?;
            Some(request_from(&parsed, uri, false)?.into_parts().0)
        }
        _ => None,
    }
}

/// The body's length from the head: `Content-Length`, or 0 without one; `None` whenever the head does not say it
/// in the one plain way (a chunked body, an upgrade, lengths that differ, anything but ASCII digits — a sign, a
/// space, a list — or a number too large): hyper then reads the rest of the connection itself, and its rules
/// decide.
fn body_length(parsed: &httparse::Request<'_, '_>) -> Option<u64> {
    let mut length = None;
    for header in parsed.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding")
            || header.name.eq_ignore_ascii_case("upgrade")
        {
            return None;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = digits(header.value)?;
            if length.is_some_and(|l| l != value) {
                return None;
            }
            length = Some(value);
        }
    }
    Some(length.unwrap_or(0))
}

/// A number written as ASCII digits only, if it fits in a `u64`.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The request as axum sees it, if it is a stream request we can hold ourselves.
fn stream_request(
    parsed: &httparse::Request<'_, '_>,
    is_stream_path: &impl Fn(&str) -> bool,
) -> Option<Request<Body>> {
    if parsed.method? != "GET" {
        return None;
    }
    // The path as hyper's `Uri` sees it (an absolute-form target included), before the rest is built.
    let uri: Uri = parsed.path?.parse().ok()?;
    if !is_stream_path(uri.path()) {
        return None;
    }
    request_from(parsed, uri, true)
}

/// The request hyper would make of this head (method, target, version, headers in order). With `bodiless`, only
/// a head that says there is no body in the one plain way: no `Transfer-Encoding`, no `Upgrade`, at most one
/// `Content-Length` and that one `0` (hyper keeps only the first of several equal lengths; the gate does not try
/// to mimic that).
fn request_from(
    parsed: &httparse::Request<'_, '_>,
    uri: Uri,
    bodiless: bool,
) -> Option<Request<Body>> {
    let version = match parsed.version? {
        0 => Version::HTTP_10,
        1 => Version::HTTP_11,
        _ => return None,
    };
    let mut request = Request::builder()
        .method(Method::from_bytes(parsed.method?.as_bytes()).ok()?)
        .uri(uri)
        .version(version)
        .body(Body::empty())
        .ok()?;
    let headers = request.headers_mut();
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        if bodiless
            && (name == header::CONTENT_LENGTH
                && (header.value != b"0" || headers.contains_key(header::CONTENT_LENGTH))
                || name == header::TRANSFER_ENCODING
                || name == header::UPGRADE)
        {
            return None;
        }
        headers.append(name, HeaderValue::from_bytes(header.value).ok()?);
    }
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(path: &str) -> bool {
        path == "/events"
    }

    fn classified(raw: &str) -> Classified {
        classify(raw.as_bytes(), &streams)
    }

    #[test]
    fn a_get_of_a_stream_route_is_ours_with_its_query_and_headers() {
        let raw = "GET /events?topics=kitchen HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\nAccept: text/event-stream\r\n\r\n";
        let Classified::Stream(request) = classified(raw) else {
            panic!("a stream request");
        };
        assert_eq!(request.uri().path(), "/events");
        assert_eq!(request.uri().query(), Some("topics=kitchen"));
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.headers()["last-event-id"], "7");
        assert_eq!(request.headers()["host"], "x");
    }

    #[test]
    fn http_1_0_is_kept_as_such() {
        let Classified::Stream(request) = classified("GET /events HTTP/1.0\r\n\r\n") else {
            panic!("a stream request");
        };
        assert_eq!(request.version(), Version::HTTP_10);
    }

    #[test]
    fn another_request_spans_its_head_and_its_body() {
        let get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(classified(get), Classified::Other { len } if len == get.len() as u64));
        let post = "POST /message HTTP/1.1\r\nContent-Length: 12\r\n\r\n";
        assert!(
            matches!(classified(post), Classified::Other { len } if len == post.len() as u64 + 12),
            "the body need not have arrived yet"
        );
        for unknown in [
            "POST /message HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /message HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST /message HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "BAD REQUEST\r\n\r\n",
        ] {
            assert!(
                matches!(classified(unknown), Classified::Unknown),
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn anything_else_goes_to_hyper() {
        for raw in [
            "GET / HTTP/1.1\r\n\r\n",
            "POST /events HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "HEAD /events HTTP/1.1\r\n\r\n",
            "GET /events HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            "GET /events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /events HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "GET /eventsX HTTP/1.1\r\n\r\n",
            "BAD REQUEST\r\n\r\n",
        ] {
            assert!(
                matches!(
                    classified(raw),
                    Classified::Other { .. } | Classified::Unknown
                ),
                "{raw:?} is hyper's"
            );
        }
    }

    #[test]
    fn a_content_length_too_large_to_add_to_the_head_is_left_to_hyper() {
        // u64::MAX once overflowed `head + body` (a panic in debug builds, a hung connection in release ones).
        for length in [u64::MAX, u64::MAX - 10, u64::MAX / 2 + u64::MAX / 2] {
            let raw = format!("POST /message HTTP/1.1\r\nContent-Length: {length}\r\n\r\n");
            assert!(matches!(classified(&raw), Classified::Unknown), "{raw:?}");
        }
        let too_long = "POST /message HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n";
        assert!(matches!(classified(too_long), Classified::Unknown));
    }

    #[test]
    fn a_content_length_written_any_way_but_plain_digits_is_left_to_hyper() {
        for odd in ["+5", "-5", "5,5", "5, 5", "0x5", "5.0", "", "٥", "5 5"] {
            let raw = format!("POST /message HTTP/1.1\r\nContent-Length: {odd}\r\n\r\n");
            assert!(matches!(classified(&raw), Classified::Unknown), "{raw:?}");
        }
        let padded = "POST /message HTTP/1.1\r\nContent-Length: 007\r\n\r\n";
        assert!(
            matches!(classified(padded), Classified::Other { len } if len == padded.len() as u64 + 7),
            "leading zeros are digits, as hyper reads them"
        );
    }

    #[test]
    fn a_stream_request_says_it_has_no_body_once_or_not_at_all() {
        // hyper keeps one of several equal lengths; a held request must be exactly what hyper would have made.
        let twice = "GET /events HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(classified(twice), Classified::Other { .. }));
        let once = "GET /events HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(classified(once), Classified::Stream(_)));
    }

    #[test]
    fn an_absolute_form_target_is_recognised_by_its_path() {
        let Classified::Stream(request) =
            classified("GET http://hearth/events?x=1 HTTP/1.1\r\n\r\n")
        else {
            panic!("a stream request");
        };
        assert_eq!(request.uri().to_string(), "http://hearth/events?x=1");
    }

    #[test]
    fn the_head_of_any_parsable_request_can_be_read_for_its_credentials() {
        let parts = parts(b"POST /message HTTP/1.1\r\nAuthorization: Bearer t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .expect("a complete head");
        assert_eq!(parts.headers["authorization"], "Bearer t");
        assert!(
            super::parts(b"POST /message HTTP/1.1\r\n").is_none(),
            "incomplete"
        );
    }

    #[test]
    fn a_head_still_arriving_is_incomplete() {
        assert!(matches!(
            classified("GET /events HTTP/1.1\r\nHost: x\r\n"),
            Classified::Incomplete
        ));
        assert!(matches!(classified("GE"), Classified::Incomplete));
    }

    #[test]
    fn too_many_headers_go_to_hyper() {
        let mut raw = "GET /events HTTP/1.1\r\n".to_owned();
        for i in 0..MAX_HEADERS + 1 {
            raw.push_str(&format!("X-{i}: y\r\n"));
        }
        raw.push_str("\r\n");
        assert!(matches!(classified(&raw), Classified::Unknown));
    }
}
