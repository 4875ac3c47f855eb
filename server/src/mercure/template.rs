//! URI Templates (RFC 6570) turned into regular expressions that match the URIs a template can expand to: how
//! a Mercure topic selector such as `https://example.com/books/{id}` matches `https://example.com/books/1`.
//!
//! Written here because no kept crate does it under a licence Hearth can ship: the crates that match templates
//! (rather than expand them) are copyleft, or stop at level 2. The RFC defines only expansion; what a template
//! matches is read from it, as the reference hub does: every expression may expand to nothing (its variables may
//! be undefined), to its operator's first character followed by values joined by its separators, and, for the
//! named operators (`;`, `?`, `&`), to `name=value` pairs. Values are the characters the operator lets through
//! unencoded (plus `%XX` and, topics being IRIs, any non-ASCII character). Prefix modifiers (`:3`) are read as no
//! limit: a selector matches a little more than the template strictly expands to, never less.
//!
//! The expressions are compiled once per selector (at subscribe time, or once per token) into one anchored
//! regular expression; the `regex` crate matches in time linear in the topic, so no selector can make matching
//! slow, and its size limit bounds what a long selector may cost to compile.

use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

/// Characters RFC 3986 leaves unreserved, `%XX`, and non-ASCII (IRIs).
const UNRESERVED: &str = r"[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2}|[^\x00-\x7F]";
/// RFC 3986's reserved characters, which `+` and `#` expressions let through.
const RESERVED: &str = r"[:/?#\[\]@!$&'()*+,;=]";
/// The compiled size a selector may take (about what a few hundred expressions need).
const SIZE_LIMIT: usize = 1 << 20;
/// Templates kept compiled. Subscribers mostly share a few selectors and claims (10,000 subscribers with one
/// token's claim); a compiled expression with its match caches takes tens of kilobytes, so each is compiled
/// once and shared (a `Regex` is cheap to clone and safe to use from every thread). Past this many distinct
/// templates the cache starts over.
const CACHED: usize = 4096;

/// Why a string is not a URI template (it is then matched as a plain string).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotATemplate {
    #[error("it has no expression")]
    NoExpression,
    #[error("an expression is not closed")]
    Unclosed,
    #[error("an expression is not valid: {0:?}")]
    BadExpression(String),
    #[error("it is too large to match")]
    TooLarge,
}

/// One operator's rules of expansion.
struct Operator {
    first: &'static str,
    separator: &'static str,
    named: bool,
    reserved: bool,
}

fn operator(c: Option<char>) -> Option<(Operator, usize)> {
    let op = |first, separator, named, reserved| Operator {
        first,
        separator,
        named,
        reserved,
    };
    Some(match c {
        Some('+') => (op("", ",", false, true), 1),
        Some('#') => (op("#", ",", false, true), 1),
        Some('.') => (op(".", ".", false, false), 1),
        Some('/') => (op("/", "/", false, false), 1),
        Some(';') => (op(";", ";", true, false), 1),
        Some('?') => (op("?", "&", true, false), 1),
        Some('&') => (op("&", "&", true, false), 1),
        Some('=' | ',' | '!' | '@' | '|') => return None,
        _ => (op("", ",", false, false), 0),
    })
}

/// A variable of an expression: its name and whether it is exploded (`*`).
struct VarSpec<'a> {
    name: &'a str,
    explode: bool,
}

fn varspecs(list: &str) -> Option<Vec<VarSpec<'_>>> {
    list.split(',')
        .map(|spec| {
            let (name, explode) = match spec.strip_suffix('*') {
                Some(name) => (name, true),
                None => match spec.split_once(':') {
                    Some((name, len))
                        if !len.is_empty()
                            && len.len() <= 4
                            && len.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        (name, false)
                    }
                    Some(_) => return None,
                    None => (spec, false),
                },
            };
            let valid = !name.is_empty()
                && name.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'%')
                });
            valid.then_some(VarSpec { name, explode })
        })
        .collect()
}

/// The regular expression (unanchored) for one expression's body, `{` and `}` excluded.
fn expression(body: &str, out: &mut String) -> Result<(), NotATemplate> {
    let bad = || NotATemplate::BadExpression(body.to_owned());
    let (op, skip) = operator(body.chars().next()).ok_or_else(bad)?;
    let vars = varspecs(&body[skip..]).ok_or_else(bad)?;
    let mut value = String::from("(?:");
    value.push_str(UNRESERVED);
    if op.reserved {
        value.push('|');
        value.push_str(RESERVED);
    }
    // List values are joined by commas (and exploded ones by the separator) whatever the operator.
    value.push_str("|,)*");
    let sep = regex::escape(op.separator);
    let item = if op.named {
        let names = if vars.iter().any(|v| v.explode) {
            // An exploded map names its pairs by its own keys.
            format!("(?:{UNRESERVED})+")
        } else {
            let alternatives: Vec<String> = vars.iter().map(|v| regex::escape(v.name)).collect();
            format!("(?:{})", alternatives.join("|"))
        };
        if op.first == ";" {
            format!("{names}(?:={value})?")
        } else {
            format!("{names}={value}")
        }
    } else {
        value
    };
    // One item per variable, unless one is exploded (then any number: its list or map spreads over them).
    let more = if vars.iter().any(|v| v.explode) {
        "*".to_owned()
    } else {
        format!("{{0,{}}}", vars.len() - 1)
    };
    let _ = write!(
        out,
        "(?:{first}{item}(?:{sep}{item}){more})?",
        first = regex::escape(op.first)
    );
    Ok(())
}

/// The compiled form of `template` (see [`compile_uncached`]), shared with every other holder of the same
/// template.
pub fn compile(template: &str) -> Result<Regex, NotATemplate> {
    static CACHE: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(regex) = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(template)
    {
        return Ok(regex.clone());
    }
    let regex = compile_uncached(template)?;
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHED {
        cache.clear();
    }
    cache.insert(template.to_owned(), regex.clone());
    Ok(regex)
}

/// Compiles `template` into an anchored regular expression matching what it expands to.
pub fn compile_uncached(template: &str) -> Result<Regex, NotATemplate> {
    if !template.contains('{') {
        return Err(NotATemplate::NoExpression);
    }
    let mut pattern = String::with_capacity(template.len() * 4);
    pattern.push('^');
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let literal = &rest[..open];
        if literal.contains('}') {
            return Err(NotATemplate::BadExpression(literal.to_owned()));
        }
        pattern.push_str(&regex::escape(literal));
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(NotATemplate::Unclosed)?;
        let body = &after[..close];
        if body.contains('{') {
            return Err(NotATemplate::Unclosed);
        }
        expression(body, &mut pattern)?;
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(NotATemplate::BadExpression(rest.to_owned()));
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    RegexBuilder::new(&pattern)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|_| NotATemplate::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(template: &str, uri: &str) -> bool {
        compile(template)
            .unwrap_or_else(|e| panic!("{template}: {e}"))
            .is_match(uri)
    }

    #[test]
    fn simple_expressions_match_one_segment_and_not_across_slashes() {
        let t = "https://example.com/books/{id}";
        assert!(matches(t, "https://example.com/books/1"));
        assert!(matches(t, "https://example.com/books/caf%C3%A9"));
        assert!(matches(t, "https://example.com/books/café"), "IRIs");
        assert!(matches(t, "https://example.com/books/"), "undefined");
        assert!(!matches(t, "https://example.com/books/1/chapters/2"));
        assert!(!matches(t, "https://example.com/authors/1"));
        assert!(!matches(t, "xhttps://example.com/books/1"), "anchored");
    }

    #[test]
    fn reserved_expansion_crosses_slashes() {
        assert!(matches(
            "https://example.com/{+path}",
            "https://example.com/a/b?c=d"
        ));
        assert!(matches(
            "https://example.com/{#frag}",
            "https://example.com/#a/b"
        ));
        assert!(!matches(
            "https://example.com/{path}",
            "https://example.com/a/b"
        ));
    }

    #[test]
    fn label_path_and_named_operators() {
        assert!(matches("X{.var}", "X.a"));
        assert!(matches("X{.list*}", "X.a.b.c"));
        assert!(matches("/users{/id*}", "/users/1/2"));
        assert!(!matches("/users{/id}", "/users/1/2"));
        assert!(matches("/map{;x,y}", "/map;x=1;y"));
        assert!(matches("/search{?q,lang}", "/search?q=cat&lang=en"));
        assert!(matches("/search{?q,lang}", "/search"));
        assert!(!matches("/search{?q}", "/search?other=1"));
        assert!(matches("/search{?keys*}", "/search?any=1&other=2"));
        assert!(matches("/s?fixed=1{&x}", "/s?fixed=1&x=2"));
        // The spec's example: a subscriber's claim that admits updates carrying a topic of its own.
        assert!(matches(
            "https://example.com/users/foo/{?topic}",
            "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"
        ));
    }

    #[test]
    fn literal_parts_are_literal() {
        assert!(matches(
            "https://example.com/a+b/{id}",
            "https://example.com/a+b/1"
        ));
        assert!(!matches(
            "https://example.com/a+b/{id}",
            "https://example.com/aab/1"
        ));
        assert!(matches("a.b/{id}", "a.b/1"));
        assert!(!matches("a.b/{id}", "axb/1"));
    }

    #[test]
    fn what_is_not_a_template_says_why() {
        assert_eq!(compile("plain").unwrap_err(), NotATemplate::NoExpression);
        assert_eq!(compile("a/{id").unwrap_err(), NotATemplate::Unclosed);
        assert!(matches!(
            compile("a/{i d}"),
            Err(NotATemplate::BadExpression(_))
        ));
        assert!(matches!(
            compile("a/{=x}"),
            Err(NotATemplate::BadExpression(_))
        ));
        assert!(matches!(
            compile("a}/{x}"),
            Err(NotATemplate::BadExpression(_))
        ));
        assert!(compile("a/{x:3}").is_ok());
        assert!(compile("a/{x:abc}").is_err());
    }
}
