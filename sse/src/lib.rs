//! Server-Sent Events on the wire (WHATWG HTML, "Server-sent events"): the framing Hearth writes ([`frame`])
//! and a spec-exact streaming parser that reads it back ([`parse`]).
//!
//! A crate of its own because three parties share the format: the server frames events with it, its tests read
//! streams through the parser, and the load tool parses every delivery with it. Keeping it free of HTTP and of
//! any runtime (it needs only `bytes`) lets the load tool build without the server's web stack.

pub mod frame;
pub mod parse;

pub use frame::{comment, frame, frame_text, retry};
pub use parse::{Parser, SseEvent};
