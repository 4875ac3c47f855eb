//! The API suite's own helpers, beside the shared kit (`tests/common`, re-exported here so the tests import from
//! one place): which routes are event streams, and how the tests count their messages.

pub use crate::common::*;
use sse::SseEvent;

/// Every SSE route that needs no set-up (the job stream needs a job, so tests open it apart).
pub const SSE_ROUTES: [&str; 6] = [
    "/events",
    "/live-users",
    "/smart-home",
    "/temperatures",
    "/stream-random-numbers",
    "/eventstream",
];

/// The number a test put after `prefix` at the start of a message's text: tests count their messages there,
/// since a message's `id` is the id of the event that carried it.
pub fn counted(event: &SseEvent, prefix: &str) -> u64 {
    let data = json(event);
    data["message"]
        .as_str()
        .and_then(|text| text.strip_prefix(prefix))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("not a message counted after {prefix:?}: {data}"))
}
