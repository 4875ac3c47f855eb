//! The HTTP surface (DESIGN.md), one module per concept, each owning its routes; merged in [`crate::router`].

pub mod camera;
pub mod devices;
pub mod jobs;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod session;
pub mod streams;

/// Whether `GET path` (without its query) is an event stream: such connections are held outside hyper
/// ([`crate::serve`]). Built from the same constants the routes are registered with, so they cannot drift.
pub fn is_stream_path(path: &str) -> bool {
    streams::STREAM_PATHS.contains(&path) || jobs::is_job_events_path(path)
}
