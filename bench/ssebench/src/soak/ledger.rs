//! The normal client's accounting: which of its messages the server accepted (by the event id the answer
//! carried) and which message events its stream delivered. A posted message that never arrives is lost; any
//! message that arrives twice, its own or another writer's, is a duplicate. An event may arrive before the
//! answer to its post does, so arrival and acceptance are recorded apart and compared at the end.

use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Default)]
pub struct Ledger {
    posted: BTreeSet<u64>,
    delivered: HashSet<u64>,
    duplicates: u64,
}

impl Ledger {
    /// The server accepted one of our messages as event `id`.
    pub fn posted(&mut self, id: u64) {
        self.posted.insert(id);
    }

    /// The stream delivered the message event `id` (anyone's).
    pub fn delivered(&mut self, id: u64) {
        if !self.delivered.insert(id) {
            self.duplicates += 1;
        }
    }

    pub fn posted_count(&self) -> usize {
        self.posted.len()
    }

    /// Every message we posted has arrived.
    pub fn complete(&self) -> bool {
        self.posted.iter().all(|id| self.delivered.contains(id))
    }

    /// The ids of our messages that have not arrived, in order.
    pub fn lost(&self) -> Vec<u64> {
        self.posted
            .iter()
            .filter(|id| !self.delivered.contains(id))
            .copied()
            .collect()
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_message_that_never_arrives_is_lost() {
        let mut ledger = Ledger::default();
        for id in [10, 20, 30] {
            ledger.posted(id);
        }
        ledger.delivered(10);
        ledger.delivered(30);
        assert!(!ledger.complete());
        assert_eq!(ledger.lost(), [20]);
        assert_eq!((ledger.posted_count(), ledger.duplicates()), (3, 0));
        ledger.delivered(20);
        assert!(ledger.complete() && ledger.lost().is_empty());
    }

    #[test]
    fn an_event_may_arrive_before_the_answer_to_its_post() {
        let mut ledger = Ledger::default();
        ledger.delivered(7);
        ledger.posted(7);
        assert!(ledger.complete());
        assert_eq!((ledger.lost(), ledger.duplicates()), (vec![], 0));
    }

    #[test]
    fn any_message_delivered_twice_is_a_duplicate_and_others_messages_are_not_lost() {
        let mut ledger = Ledger::default();
        ledger.posted(1);
        // 2 and 3 are the flood's: delivered, never posted by us, so never lost.
        for id in [1, 2, 3, 2, 1, 2] {
            ledger.delivered(id);
        }
        assert_eq!(ledger.duplicates(), 3);
        assert!(ledger.complete());
        assert!(ledger.lost().is_empty());
    }

    #[test]
    fn nothing_posted_is_complete_and_loses_nothing() {
        let ledger = Ledger::default();
        assert!(ledger.complete() && ledger.lost().is_empty());
        assert_eq!(ledger.posted_count(), 0);
    }
}
