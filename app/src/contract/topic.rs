//! Topic names: the streams the hub carries. The set is closed where the page must know a stream to draw it;
//! what the home holds (its areas and devices) is data inside the `entities` topic, not topics of its own.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One hub topic. The name is the SSE `event:` field on the multiplexed `/events` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    /// The home's entities: `entity` (one whole entity, on every change), `entity-removed`, `command`.
    Entities,
    Viewers,
    Temperature,
    Random,
    Message,
    Job,
    /// The front-door camera's snapshots. Its events carry the URL of an image, never the image itself.
    Camera,
    /// Mercure updates, published and read at `/.well-known/mercure` only. Not in [`Topic::ALL`]: the
    /// dashboard's streams never carry them (some are private), and no client may name it there.
    Mercure,
}

/// What the hub keeps of a topic's events. Chosen per topic here, in the contract, because the browser relies on
/// it too: an ephemeral event carries no id, so the page folds it in without moving its resume point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Journaled, given an id, replayed on resume (device changes, messages, jobs, sensor readings). Sensor
    /// readings keep only a window of their newest (see `Payload::window`), so a chatty sensor cannot push
    /// messages and device changes out of replay and retention.
    Durable,
    /// Live only: no id, never journaled, never replayed; a (re)connecting client is sent the current value
    /// instead (the viewer count, the tutorial's random numbers).
    Ephemeral,
}

/// A topic name that is not one of [`Topic::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topic {0:?}; known topics: entities, viewers, temperature, random, message, job, camera")]
pub struct UnknownTopic(pub String);

impl Topic {
    pub const ALL: [Topic; 7] = [
        Topic::Entities,
        Topic::Viewers,
        Topic::Temperature,
        Topic::Random,
        Topic::Message,
        Topic::Job,
        Topic::Camera,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Topic::Entities => "entities",
            Topic::Viewers => "viewers",
            Topic::Temperature => "temperature",
            Topic::Random => "random",
            Topic::Message => "message",
            Topic::Job => "job",
            Topic::Camera => "camera",
            Topic::Mercure => "mercure",
        }
    }

    /// What the hub keeps of this topic's events.
    pub const fn persistence(self) -> Persistence {
        match self {
            // The camera is durable: a resuming client must still find the image its last event named.
            Topic::Entities
            | Topic::Temperature
            | Topic::Message
            | Topic::Job
            | Topic::Camera
            | Topic::Mercure => Persistence::Durable,
            Topic::Viewers | Topic::Random => Persistence::Ephemeral,
        }
    }

    /// Whether this topic's events are live only (no id, not journaled, not replayed).
    pub const fn is_ephemeral(self) -> bool {
        matches!(self.persistence(), Persistence::Ephemeral)
    }

    pub fn parse(name: &str) -> Result<Self, UnknownTopic> {
        Topic::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| UnknownTopic(name.to_owned()))
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of topics as a bit mask: a subscriber tests every event against it, so it must be one AND, not a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicSet(u16);

impl TopicSet {
    /// What the dashboard shows: everything but the tutorial's random numbers.
    pub const DASHBOARD: TopicSet = TopicSet::of(&[
        Topic::Entities,
        Topic::Viewers,
        Topic::Temperature,
        Topic::Message,
        Topic::Job,
        Topic::Camera,
    ]);

    pub const fn of(topics: &[Topic]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < topics.len() {
            bits |= topics[i].bit();
            i += 1;
        }
        TopicSet(bits)
    }

    /// The Mercure updates alone.
    pub const MERCURE: TopicSet = TopicSet::of(&[Topic::Mercure]);

    /// Both sets' topics.
    pub const fn union(self, other: TopicSet) -> TopicSet {
        TopicSet(self.0 | other.0)
    }

    pub const fn contains(self, topic: Topic) -> bool {
        self.0 & topic.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Topic> {
        Topic::ALL.into_iter().filter(move |t| self.contains(*t))
    }

    /// Parses a comma-separated list such as `kitchen,viewers`. Blank entries are ignored; an empty list is an
    /// error because a stream of nothing is never what a caller meant.
    pub fn parse_list(list: &str) -> Result<Self, UnknownTopic> {
        let mut bits = 0;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            bits |= Topic::parse(name)?.bit();
        }
        if bits == 0 {
            return Err(UnknownTopic(list.to_owned()));
        }
        Ok(TopicSet(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_parses_back_from_its_name() {
        for topic in Topic::ALL {
            assert_eq!(Topic::parse(topic.name()), Ok(topic));
        }
    }

    #[test]
    fn unknown_topic_is_an_error_naming_it() {
        let err = Topic::parse("garage").unwrap_err();
        assert!(err.to_string().contains("\"garage\""));
    }

    #[test]
    fn topic_lists_parse_and_reject_unknown_or_empty() {
        let set = TopicSet::parse_list("entities, viewers,").unwrap();
        assert!(set.contains(Topic::Entities) && set.contains(Topic::Viewers));
        assert!(!set.contains(Topic::Message));
        assert!(TopicSet::parse_list("entities,garage").is_err());
        assert!(
            TopicSet::parse_list("kitchen").is_err(),
            "areas are data, not topics"
        );
        assert!(TopicSet::parse_list(" , ").is_err());
    }

    #[test]
    fn only_live_values_are_ephemeral() {
        let ephemeral: Vec<Topic> = Topic::ALL
            .into_iter()
            .filter(|t| t.is_ephemeral())
            .collect();
        assert_eq!(ephemeral, [Topic::Viewers, Topic::Random]);
    }

    #[test]
    fn mercure_updates_cannot_be_named_on_the_dashboards_streams() {
        assert_eq!(Topic::parse("mercure"), Err(UnknownTopic("mercure".into())));
        assert!(!TopicSet::DASHBOARD.contains(Topic::Mercure));
        let both = TopicSet::MERCURE.union(TopicSet::of(&[Topic::Message]));
        assert!(both.contains(Topic::Mercure) && both.contains(Topic::Message));
        assert!(!Topic::Mercure.is_ephemeral());
    }

    #[test]
    fn dashboard_set_leaves_out_random_numbers() {
        assert!(!TopicSet::DASHBOARD.contains(Topic::Random));
        assert_eq!(TopicSet::DASHBOARD.iter().count(), 6);
    }
}
