//! The HTTP surface (DESIGN.md), one module per concept, each owning its routes; merged in [`crate::router`].

pub mod devices;
pub mod jobs;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod session;
pub mod streams;
