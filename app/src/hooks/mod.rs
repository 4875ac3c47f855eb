//! Reactive hooks shared by the pages.

pub mod event_source;

pub use event_source::{
    use_event_source, ReadyState, ReconnectPolicy, SseError, SseMessage, UseEventSource,
    UseEventSourceOptions,
};
