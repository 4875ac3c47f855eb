//! Hearth's server library: everything testable lives here; `main` only parses config, starts tracing, binds and
//! calls [`run`].
//!
//! Reading order, arrows pointing down: [`config`], [`clock`], [`client_key`], [`meters`] and [`event`] are
//! leaves; [`metrics`] registers every meter; [`hub`] assigns ids, replays and fans out (with its journal in front
//! of [`store`]); [`stream`] is one subscriber's stream; [`auth`], [`jobs`], [`viewers`], [`simulator`] and
//! [`mercure`] (the Mercure protocol's rules) are parts that take what they need; [`state`] holds them; [`routes`] is the HTTP surface; [`serve`] holds
//! connections; [`startup`] wires it all together.

pub mod auth;
pub mod camera;
pub mod client_key;
pub mod clock;
pub mod commands;
pub mod config;
pub mod data_dir;
pub mod error;
pub mod event;
pub mod extract;
pub mod hosts;
pub mod hub;
pub mod jobs;
pub mod lease;
pub mod mercure;
pub mod meters;
pub mod metrics;
pub mod mqtt;
pub mod routes;
pub mod serve;
pub mod simulator;
pub mod slots;
pub mod startup;
pub mod state;
pub mod store;
pub mod stream;
pub mod viewers;

pub use routes::router;
pub use startup::run;
