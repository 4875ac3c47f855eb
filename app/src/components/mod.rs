//! The pages' building blocks, one file per widget; [`dashboard`] and [`inspector`] are the two pages.

pub mod areas;
pub mod badge;
pub mod camera;
pub mod clock;
pub mod dashboard;
pub mod entity_edit;
pub mod header;
pub mod icons;
pub mod inspector;
pub mod jobs;
pub mod login;
pub mod mercure_tap;
pub mod messages;
pub mod temperature;
pub mod trend;
pub mod viewers;
