//! Hearth on Redis, tested from the outside: a real `redis-server` per test, real instances on port 0 sharing
//! it, real TCP and the project's own SSE parser. One binary; one module per concern.

// A failed unwrap in a test is a failed test, with its location.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod failover;
mod guard;
mod log;
mod mercure;
mod ops;
mod outage;
mod property;
mod resume;
mod retention;
mod stall;
mod viewers;
