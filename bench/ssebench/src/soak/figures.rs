//! The soak's counters: every attacker counts what happened to each of its attempts under a name of its own
//! (`storm_opened`, `flood_201`, `guess_429`, ...), and the report prints them all, sorted by name.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub struct Figures(Mutex<BTreeMap<String, u64>>);

impl Figures {
    /// Adds `n` to the counter `name` (creating it, also for `n` = 0, so that a zero shows in the report).
    pub fn add(&self, name: &str, n: u64) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(name.to_owned()).or_default() += n;
    }

    pub fn one(&self, name: &str) {
        self.add(name, 1);
    }

    /// Raises the counter `name` to `n` if it is lower (the largest of what was seen).
    pub fn max(&self, name: &str, n: u64) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let top = counts.entry(name.to_owned()).or_default();
        *top = (*top).max(n);
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_zeros_show() {
        let figures = Figures::default();
        figures.one("flood_201");
        figures.one("flood_201");
        figures.one("flood_failed");
        figures.add("idle_closed_by_server", 0);
        figures.max("held_max_s", 3);
        figures.max("held_max_s", 2);
        let counts: Vec<_> = figures.counts().into_iter().collect();
        assert_eq!(
            counts,
            [
                ("flood_201".to_owned(), 2),
                ("flood_failed".to_owned(), 1),
                ("held_max_s".to_owned(), 3),
                ("idle_closed_by_server".to_owned(), 0)
            ]
        );
    }
}
