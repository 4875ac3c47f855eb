//! The test kit every integration suite shares: the real server started in this process on port 0
//! ([`launch`]) or as the built binary ([`server_process`]), an SSE client over the project's spec-exact parser
//! ([`sse_client`]), one way to wait for what no event announces ([`eventually`]), and the external programs a
//! test runs beside Hearth ([`processes`]: Redis, Mosquitto). Every wait is bounded by [`WAIT`].
//!
//! Integration test binaries are separate crates, so each includes this directory as its own `common` module
//! (through `#[path]` when the suite lives in a folder of its own). Each uses only part of the kit, hence the
//! allowance below.
#![allow(dead_code, unused_imports)]

pub mod eventually;
pub mod flags;
pub mod launch;
pub mod logs;
pub mod processes;
pub mod publish;
pub mod requests;
pub mod scratch;
pub mod server_process;
pub mod sse_client;

pub use eventually::eventually;
pub use flags::Flags;
pub use launch::{direct, serve_mode, spawn_app, spawn_default, Launch, TestApp, RETRY_MS};
pub use processes::mosquitto::Mosquitto;
pub use processes::redis::Redis;
pub use publish::{message, publish};
pub use requests::{metric_value, post};
pub use scratch::{free_port, ScratchDir};
pub use server_process::{server_command, ServerProcess};
pub use sse_client::{json, seq, SseClient, SseStream};

use std::time::Duration;

/// The write credential every server a test starts is given.
pub const TOKEN: &str = "integration-test-token";

/// How long any single wait may take before the test fails. Generous, because the machine is shared; a passing
/// test never waits this long.
pub const WAIT: Duration = Duration::from_secs(15);
