//! The dashboard's building blocks, one file per widget.

pub mod badge;
pub mod dashboard;
pub mod jobs;
pub mod login;
pub mod messages;
pub mod rooms;
pub mod temperature;
pub mod viewers;
