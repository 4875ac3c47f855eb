//! Topic selectors, compiled once: the `topic` parameters a subscriber sends, and the `mercure.publish` and
//! `mercure.subscribe` claims of a token.
//!
//! A selector matches a topic when it is `*`, when it is the same string, or when it is a URI template the topic
//! matches ([`super::template`]). A subscriber tests every update it is sent against its sets, so a set is built
//! for the test to be cheap: a flag for `*`, the exact strings (a short list compared directly, a hash set past
//! a few), then the compiled templates. Nothing is parsed or compiled per update.

use super::template;
use regex::Regex;
use std::collections::HashSet;

/// Exact selectors kept in a list up to this many (comparing a few strings beats hashing one).
const LIST_UP_TO: usize = 4;

/// The exact strings of a set.
#[derive(Debug, Clone)]
enum Exact {
    List(Vec<Box<str>>),
    Set(HashSet<Box<str>>),
}

impl Exact {
    fn contains(&self, topic: &str) -> bool {
        match self {
            Exact::List(list) => list.iter().any(|s| &**s == topic),
            Exact::Set(set) => set.contains(topic),
        }
    }
}

/// Selectors, compiled.
#[derive(Debug, Clone)]
pub struct SelectorSet {
    any: bool,
    exact: Exact,
    templates: Vec<Regex>,
    /// As given, in order (for the subscriptions a subscriber holds, and for logs).
    raw: Vec<String>,
}

impl SelectorSet {
    /// Compiles `selectors`; a string that is not a valid template is matched as a plain string, as the
    /// protocol says.
    pub fn new<I, S>(selectors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::build(selectors.into_iter().map(|s| (s.into(), true)).collect())
    }

    /// Compiles selectors of which some match only exactly (draft-08's `match` parameter: no templates), each
    /// given with whether it may be a template.
    pub fn build(selectors: Vec<(String, bool)>) -> Self {
        let mut any = false;
        let mut exact: Vec<Box<str>> = Vec::new();
        let mut templates = Vec::new();
        for (selector, may_be_template) in &selectors {
            if selector == "*" {
                any = true;
                continue;
            }
            // Exactly the same string always matches, template or not (a template matches itself).
            exact.push(selector.as_str().into());
            if !may_be_template {
                continue;
            }
            if let Ok(regex) = template::compile(selector) {
                templates.push(regex);
            }
        }
        let raw: Vec<String> = selectors.into_iter().map(|(s, _)| s).collect();
        exact.sort();
        exact.dedup();
        let exact = if exact.len() <= LIST_UP_TO {
            Exact::List(exact)
        } else {
            Exact::Set(exact.into_iter().collect())
        };
        SelectorSet {
            any,
            exact,
            templates,
            raw,
        }
    }

    /// No selector at all: matches nothing.
    pub fn none() -> Self {
        SelectorSet::new(Vec::<String>::new())
    }

    /// Whether `topic` matches one of the selectors.
    pub fn matches(&self, topic: &str) -> bool {
        self.any || self.exact.contains(topic) || self.templates.iter().any(|t| t.is_match(topic))
    }

    /// Whether one of `topics` matches one of the selectors.
    pub fn matches_any<'a>(&self, mut topics: impl Iterator<Item = &'a str>) -> bool {
        self.any || topics.any(|t| self.matches(t))
    }

    /// Whether the set holds `*`.
    pub fn is_any(&self) -> bool {
        self.any
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The selectors as given.
    pub fn raw(&self) -> &[String] {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_exact_and_template_selectors_match_as_the_protocol_says() {
        let set = SelectorSet::new(["https://example.com/books/{id}", "bar"]);
        assert!(set.matches("bar"));
        assert!(set.matches("https://example.com/books/1"));
        assert!(
            set.matches("https://example.com/books/{id}"),
            "a template matches itself"
        );
        assert!(!set.matches("baz"));
        assert!(SelectorSet::new(["*"]).matches("anything at all"));
        assert!(!SelectorSet::none().matches("x"));
        assert!(
            SelectorSet::new(["a/{unclosed"]).matches("a/{unclosed"),
            "not a template: a plain string"
        );
        assert!(!SelectorSet::new(["a/{unclosed"]).matches("a/1"));
    }

    #[test]
    fn exact_only_selectors_are_not_templates() {
        let set = SelectorSet::build(vec![("a/{id}".into(), false), ("*".into(), false)]);
        assert!(
            set.is_any(),
            "the wildcard is the wildcard whatever the parameter"
        );
        let set = SelectorSet::build(vec![("a/{id}".into(), false)]);
        assert!(set.matches("a/{id}") && !set.matches("a/1"));
    }

    #[test]
    fn many_exact_selectors_are_hashed_and_still_match() {
        let names: Vec<String> = (0..50).map(|i| format!("topic-{i}")).collect();
        let set = SelectorSet::new(names.clone());
        assert!(names.iter().all(|n| set.matches(n)));
        assert!(!set.matches("topic-50"));
        assert!(set.matches_any(["nope", "topic-7"].into_iter()));
        assert!(!set.matches_any(["nope"].into_iter()));
        assert_eq!(set.raw().len(), 50);
    }
}
