//! Hearth as a Mercure hub: the protocol (`draft-dunglas-mercure-07`, the revision the stable reference hub and
//! its clients speak) at `/.well-known/mercure`, on the hub every other stream uses.
//!
//! A published update is one hub event on the `mercure` topic (the contract's `MercureUpdate`): it gets a
//! sequence id, is journaled (SQLite) or appended to the shared log (Redis) before the publisher is answered, is
//! replayed by `Last-Event-ID` after a restart or on another instance, and is trimmed by the log's retention like
//! any event. It is framed in Mercure's form once, when committed; a subscriber's test of it is a few string
//! comparisons against selectors compiled when it subscribed ([`selector`], [`template`], [`subscriber`]).
//!
//! Ids: an update's SSE id is its publisher's, or `urn:hearth:<seq>` when it gave none — an IRI that maps back
//! to the sequence id, so resuming from it is exact on any backend ([`resume`]). A publisher's own id is found
//! again in the replay ring (the last `--replay-size` events, restored at start-up), which is how far back the
//! embedded store replays anyway; on Redis a generated id resumes from anywhere in the log.
//!
//! Who may do what ([`authority`], [`jwt`]): tokens signed with the configured keys, carrying `mercure.publish`
//! and `mercure.subscribe` selectors; Hearth's own write token or a dashboard session act as a token that allows
//! everything. The dashboard's topics are topics of this hub under [`DASHBOARD_TOPICS`]' names, readable as the
//! dashboard is (public reads, or a claim naming them); publishing to them here is refused: they change only
//! through their typed API, which checks what is written.
//!
//! Active subscriptions ([`subscriptions`]) are listed and announced when `--mercure-subscriptions` is on.

mod authority;
mod form;
mod jwt;
mod resume;
mod selector;
mod subscriber;
pub mod subscriptions;
mod template;

pub use authority::{authority, Authority, COOKIE};
pub use form::{is_form, parse as parse_form, reserved_topic, BadForm, MAX_TOPICS};
pub use jwt::{Claims, Keys, MercureClaim, TokenError, Verifier};
pub use resume::{requested, resolve, Resume};
pub use selector::SelectorSet;
pub use subscriber::Access;
pub use subscriptions::{SharedLists, Subscription, Subscriptions};

use crate::config::Config;
use app::contract::Topic;
use std::sync::Arc;

/// The hub's URL path, fixed by the protocol.
pub const HUB_PATH: &str = "/.well-known/mercure";

/// The dashboard's topics as Mercure topics. Only those whose events carry an id: the protocol wants one on
/// every event, and the live-only values (the viewer count, the random numbers) have none.
pub const DASHBOARD_TOPICS: [(Topic, &str); 5] = [
    (Topic::Entities, "urn:hearth:topic:entities"),
    (Topic::Temperature, "urn:hearth:topic:temperature"),
    (Topic::Message, "urn:hearth:topic:message"),
    (Topic::Job, "urn:hearth:topic:job"),
    (Topic::Camera, "urn:hearth:topic:camera"),
];

/// Topics only the hub publishes to: Hearth's own names (the dashboard's topics, generated ids) and the
/// subscription announcements.
pub const RESERVED_TOPIC_PREFIXES: [&str; 2] = ["urn:hearth:", HUB_PATH];

/// Selectors one subscriber may send at most.
pub const MAX_SELECTORS: usize = 64;

/// The Mercure hub's settings and shared parts.
pub struct Mercure {
    pub keys: Keys,
    /// Subscribers without a token are let in (public updates only).
    pub anonymous: bool,
    /// Kept when `--mercure-subscriptions` is on.
    pub subscriptions: Option<Arc<Subscriptions>>,
}

impl Mercure {
    /// The hub the configuration asks for; `shared` is where instances meet when there are several.
    pub fn from_config(
        config: &Config,
        shared: Option<Arc<dyn SharedLists>>,
    ) -> anyhow::Result<Self> {
        Ok(Mercure {
            keys: Keys::from_config(config)?,
            anonymous: config.mercure_anonymous,
            subscriptions: config
                .mercure_subscriptions
                .then(|| Arc::new(Subscriptions::new(shared))),
        })
    }
}
