//! Server-Sent Events in the server. The wire format (framing and the spec-exact parser) is the `sse` crate,
//! shared with the load tool; it is re-exported here so the rest of the server and its tests keep one path
//! (`crate::sse::frame`, `server::sse::Parser`). What stays is the HTTP response around a stream
//! ([`response`]), which belongs to axum.

pub mod response;

pub use ::sse::{comment, frame, parse, retry, Parser, SseEvent};
pub use response::sse_response;
