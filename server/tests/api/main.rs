//! Hearth's server, tested from the outside: the real server on port 0, real TCP, the project's own SSE parser.
//! One test binary (faster to build and link than one per file); one module per concern.

// A failed unwrap in a test is a failed test, with its location: exactly what is wanted here.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod connections;
mod dual_stack;
mod durability;
mod entities;
mod framing;
mod hardening_connections;
mod hardening_requests;
mod jobs;
mod limits;
mod mercure;
mod mercure_client;
mod mercure_property;
mod mercure_subscriptions;
mod ops;
mod privacy;
mod resume;
mod shutdown;
mod slow_consumer;
mod streams;
mod writes;
