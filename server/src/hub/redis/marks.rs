//! How far back a resume may start, per topic, given what left the log: retention drops entries by count and
//! age but keeps a sensor's windowed readings, so what it drops is not a prefix of the log, and an entry that is
//! still there says nothing of its neighbours. The trim script records, per event name, the highest id it
//! dropped; when the log went back under an instance (a failover lost entries it had seen), that instance
//! records an id below which no topic is honoured. A resume from below either would replay across a hole: it
//! gets a `reset`, on every instance, also after a restart (the marks live in Redis, beside the log).
//!
//! Readings the publish script drops as newer ones fill their window are not marked: a resume across them gets
//! the window's newest readings, which is what the state holds of them too (as on the embedded store).

use app::contract::{Payload, Topic, TopicSet};
use std::collections::HashMap;

use super::scripts::ALL_NAMES;

/// The marks as last read: for each topic, the highest id retention dropped of it; and the id below which every
/// topic is cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    by_topic: [u64; Topic::ALL.len()],
    all: u64,
}

impl Marks {
    /// The marks in the trimmed hash's fields (event name, or [`ALL_NAMES`], to an id). Names of no known topic
    /// are ignored: no stream carries their events.
    pub fn from_fields(fields: &HashMap<String, u64>) -> Marks {
        let mut marks = Marks::default();
        for (name, id) in fields {
            if name == ALL_NAMES {
                marks.all = marks.all.max(*id);
            } else if let Some(topic) = Payload::topic_of(name) {
                let slot = &mut marks.by_topic[index(topic)];
                *slot = (*slot).max(*id);
            }
        }
        marks
    }

    /// Marks every topic at `id`: no resume from below it is honoured.
    pub fn cut_all_below(&mut self, id: u64) {
        self.all = self.all.max(id);
    }

    /// Takes in marks read since: marks only rise (within one data set).
    pub fn merge(&mut self, other: &Marks) {
        for (mine, theirs) in self.by_topic.iter_mut().zip(other.by_topic) {
            *mine = (*mine).max(theirs);
        }
        self.all = self.all.max(other.all);
    }

    /// Whether a resume of `topics` from `after` would cross something dropped (then it must be a reset).
    pub fn cut(&self, after: u64, topics: TopicSet) -> bool {
        let dropped = topics
            .iter()
            .map(|topic| self.by_topic[index(topic)])
            .fold(self.all, u64::max);
        after < dropped
    }
}

fn index(topic: Topic) -> usize {
    // Topic::ALL lists every variant, so the position is always found.
    Topic::ALL
        .iter()
        .position(|t| *t == topic)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn a_resume_is_cut_only_by_what_was_dropped_of_its_own_topics() {
        let marks = Marks::from_fields(&fields(&[
            ("message", 70),
            ("entity", 40),
            ("command", 55),
            ("garage", 1000),
        ]));
        let messages = TopicSet::of(&[Topic::Message]);
        let entities = TopicSet::of(&[Topic::Entities]);
        assert!(marks.cut(69, messages), "the message after 69 was dropped");
        assert!(!marks.cut(70, messages), "nothing after 70 was");
        assert!(
            marks.cut(54, entities),
            "any event name of the topic counts"
        );
        assert!(!marks.cut(55, entities));
        assert!(
            !marks.cut(10, TopicSet::of(&[Topic::Temperature])),
            "no reading was dropped; an unknown name cuts nothing"
        );
        assert!(marks.cut(60, TopicSet::DASHBOARD));
    }

    #[test]
    fn a_log_that_went_back_cuts_every_topic_and_marks_only_rise() {
        let mut marks = Marks::from_fields(&fields(&[("message", 10)]));
        marks.cut_all_below(500);
        assert!(marks.cut(499, TopicSet::of(&[Topic::Job])));
        assert!(!marks.cut(500, TopicSet::of(&[Topic::Job])));
        marks.merge(&Marks::from_fields(&fields(&[
            ("message", 5),
            (ALL_NAMES, 20),
        ])));
        assert!(marks.cut(499, TopicSet::of(&[Topic::Job])), "still cut");
        assert!(marks.cut(9, TopicSet::of(&[Topic::Message])));
    }
}
