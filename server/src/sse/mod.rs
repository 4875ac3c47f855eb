//! Server-Sent Events on the wire (WHATWG HTML, "Server-sent events"): the framing Hearth writes
//! ([`frame`]), a spec-exact streaming parser for tests and the load tool ([`parse`]), and the HTTP response
//! around a stream ([`response`]).

pub mod frame;
pub mod parse;
pub mod response;

pub use frame::{comment, frame, retry};
pub use parse::{Parser, SseEvent};
pub use response::sse_response;
