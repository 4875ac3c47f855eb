//! The dashboard's building blocks, one file per widget.

pub mod badge;
pub mod dashboard;
pub mod messages;
pub mod rooms;
pub mod temperature;
