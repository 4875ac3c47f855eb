//! Topic names: the closed set of streams the hub carries.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One hub topic. The name is the SSE `event:` field on the multiplexed `/events` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    Kitchen,
    Livingroom,
    Bedroom,
    Viewers,
    Temperature,
    Random,
    Message,
    Job,
    /// The front-door camera's snapshots. Its events carry the URL of an image, never the image itself.
    Camera,
}

/// A topic name that is not one of [`Topic::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topic {0:?}; known topics: kitchen, livingroom, bedroom, viewers, temperature, random, message, job, camera")]
pub struct UnknownTopic(pub String);

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::Kitchen,
        Topic::Livingroom,
        Topic::Bedroom,
        Topic::Viewers,
        Topic::Temperature,
        Topic::Random,
        Topic::Message,
        Topic::Job,
        Topic::Camera,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Topic::Kitchen => "kitchen",
            Topic::Livingroom => "livingroom",
            Topic::Bedroom => "bedroom",
            Topic::Viewers => "viewers",
            Topic::Temperature => "temperature",
            Topic::Random => "random",
            Topic::Message => "message",
            Topic::Job => "job",
            Topic::Camera => "camera",
        }
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
        Topic::Kitchen,
        Topic::Livingroom,
        Topic::Bedroom,
        Topic::Viewers,
        Topic::Temperature,
        Topic::Message,
        Topic::Job,
        Topic::Camera,
    ]);
    pub const ROOMS: TopicSet = TopicSet::of(&[Topic::Kitchen, Topic::Livingroom, Topic::Bedroom]);

    pub const fn of(topics: &[Topic]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < topics.len() {
            bits |= topics[i].bit();
            i += 1;
        }
        TopicSet(bits)
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
        let set = TopicSet::parse_list("kitchen, viewers,").unwrap();
        assert!(set.contains(Topic::Kitchen) && set.contains(Topic::Viewers));
        assert!(!set.contains(Topic::Bedroom));
        assert!(TopicSet::parse_list("kitchen,garage").is_err());
        assert!(TopicSet::parse_list(" , ").is_err());
    }

    #[test]
    fn dashboard_set_leaves_out_random_numbers() {
        assert!(!TopicSet::DASHBOARD.contains(Topic::Random));
        assert_eq!(TopicSet::DASHBOARD.iter().count(), 8);
    }
}
