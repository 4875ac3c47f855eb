//! The part of Home Assistant's `value_template` language that firmware actually sends: `{{ value }}` (the
//! payload as it is) and `{{ value_json.KEY }}` with nested keys and indexes (`value_json.ENERGY.Power`,
//! `value_json['AM2301'].Temperature`, `value_json.list[0]`), optionally through the filters `float`, `int`,
//! `round(n)`, `lower`, `upper`, `trim` and `string`.
//!
//! Templates are parsed once, when a config arrives, into [`Template`]; anything else (statements, other
//! variables, arithmetic, unknown filters) is refused there with the reason, so a config that needs a real
//! template engine is skipped rather than misread. Nothing is ever evaluated: rendering walks a parsed path.
//! Values render as Jinja prints them, because configs compare against that text: `true` as `True`, `null` as
//! `None` (Zigbee2MQTT's binary sensors announce `payload_on: true` for a JSON `true`).

use serde_json::Value;
use std::fmt;

/// The longest template accepted; real ones are a few dozen characters.
pub const MAX_TEMPLATE_CHARS: usize = 512;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: Source,
    filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// `value`: the payload as text.
    Value,
    /// `value_json` and a path into it.
    Json(Vec<Step>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    Float,
    Int,
    Round(u32),
    Lower,
    Upper,
    Trim,
    String,
}

/// Why a template is not one Hearth reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value template not supported ({0}); Hearth reads {{{{ value }}}} and {{{{ value_json.KEY… }}}}, with float, int, round, lower, upper, trim")]
pub struct TemplateError(String);

/// Why a payload did not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the payload is not JSON")]
    NotJson,
    #[error("the payload has no {0}")]
    Missing(String),
    #[error("{0} is not a number")]
    NotANumber(String),
}

impl TemplateError {
    /// A template (or template-driven feature) Hearth does not read, and what it is.
    pub fn new(what: String) -> TemplateError {
        TemplateError(what)
    }
}

impl Template {
    /// `{{ value }}`: the payload itself.
    pub fn value() -> Template {
        Template {
            source: Source::Value,
            filters: Vec::new(),
        }
    }

    /// `{{ value_json.<key> }}`.
    pub fn json_key(key: &str) -> Template {
        Template {
            source: Source::Json(vec![Step::Key(key.to_owned())]),
            filters: Vec::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let err = |why: &str| TemplateError(why.to_owned());
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(err("too long"));
        }
        let inner = text
            .trim()
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .ok_or_else(|| err("not a single {{ … }} expression"))?;
        if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
            return Err(err("more than one expression"));
        }
        let mut cursor = Cursor::new(inner);
        let source = match cursor.identifier().as_deref() {
            Some("value") => Source::Value,
            Some("value_json") => Source::Json(cursor.path()?),
            Some(other) => return Err(TemplateError(format!("unknown variable {other:?}"))),
            None => return Err(err("no variable")),
        };
        let mut filters = Vec::new();
        loop {
            cursor.skip_spaces();
            if cursor.at_end() {
                break;
            }
            if !cursor.eat('|') {
                return Err(TemplateError(format!(
                    "unexpected {:?}",
                    cursor.rest().chars().next().unwrap_or(' ')
                )));
            }
            cursor.skip_spaces();
            let name = cursor
                .identifier()
                .ok_or_else(|| err("a filter without a name"))?;
            let args = cursor.arguments()?;
            filters.push(Filter::parse(&name, &args)?);
        }
        Ok(Template { source, filters })
    }

    /// The text the template makes of `payload`.
    pub fn render(&self, payload: &str) -> Result<String, RenderError> {
        let mut text = match &self.source {
            Source::Value => payload.to_owned(),
            Source::Json(path) => {
                let root: Value =
                    serde_json::from_str(payload).map_err(|_| RenderError::NotJson)?;
                let mut at = &root;
                for step in path {
                    at = match step {
                        Step::Key(key) => at.get(key.as_str()),
                        Step::Index(i) => at.get(*i),
                    }
                    .ok_or_else(|| RenderError::Missing(describe(path)))?;
                }
                jinja_text(at)
            }
        };
        for filter in &self.filters {
            text = filter.apply(text)?;
        }
        Ok(text)
    }
}

/// How Jinja prints a JSON value.
fn jinja_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

fn describe(path: &[Step]) -> String {
    let mut out = String::from("value_json");
    for step in path {
        match step {
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl Filter {
    fn parse(name: &str, args: &[String]) -> Result<Filter, TemplateError> {
        let no_args = |f: Filter| {
            args.is_empty()
                .then_some(f)
                .ok_or_else(|| TemplateError(format!("{name} takes no arguments here")))
        };
        match name {
            "float" => no_args(Filter::Float),
            "int" => no_args(Filter::Int),
            "lower" => no_args(Filter::Lower),
            "upper" => no_args(Filter::Upper),
            "trim" => no_args(Filter::Trim),
            "string" => no_args(Filter::String),
            "round" => match args {
                [] => Ok(Filter::Round(0)),
                [digits] => digits
                    .parse::<u32>()
                    .ok()
                    .filter(|d| *d <= 10)
                    .map(Filter::Round)
                    .ok_or_else(|| TemplateError(format!("round({digits})"))),
                _ => Err(TemplateError("round with more than one argument".into())),
            },
            other => Err(TemplateError(format!("filter {other:?}"))),
        }
    }

    fn apply(self, text: String) -> Result<String, RenderError> {
        let number = |t: &str| {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| RenderError::NotANumber(t.to_owned()))
        };
        Ok(match self {
            Filter::Float => python_float(number(&text)?),
            Filter::Int => format!("{}", number(&text)?.trunc() as i64),
            Filter::Round(digits) => {
                let scale = 10f64.powi(digits as i32);
                python_float((number(&text)? * scale).round() / scale)
            }
            Filter::Lower => text.to_lowercase(),
            Filter::Upper => text.to_uppercase(),
            Filter::Trim => text.trim().to_owned(),
            Filter::String => text,
        })
    }
}

/// A float as Python prints it: always with a fractional part (`21.0`).
fn python_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// A reader over the inside of `{{ … }}`.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        let mut cursor = Cursor { text, at: 0 };
        cursor.skip_spaces();
        cursor
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn at_end(&self) -> bool {
        self.at >= self.text.len()
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn identifier(&mut self) -> Option<String> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        self.at += len;
        Some(rest[..len].to_owned())
    }

    /// `.key`, `['key']`, `["key"]`, `[0]`, repeated.
    fn path(&mut self) -> Result<Vec<Step>, TemplateError> {
        let mut steps = Vec::new();
        loop {
            self.skip_spaces();
            if self.eat('.') {
                self.skip_spaces();
                let key = self
                    .identifier()
                    .ok_or_else(|| TemplateError("a '.' without a key".into()))?;
                steps.push(match key.parse::<usize>() {
                    // Jinja reads `.0` as an index on a list and a key on a dict; a key named so is rare.
                    Ok(i) if key.bytes().all(|b| b.is_ascii_digit()) => Step::Index(i),
                    _ => Step::Key(key),
                });
            } else if self.eat('[') {
                self.skip_spaces();
                let step = if let Some(quote) = ['\'', '"'].into_iter().find(|q| self.eat(*q)) {
                    let rest = self.rest();
                    let end = rest
                        .find(quote)
                        .ok_or_else(|| TemplateError("an unclosed quote".into()))?;
                    self.at += end + 1;
                    Step::Key(rest[..end].to_owned())
                } else {
                    let digits = self
                        .identifier()
                        .ok_or_else(|| TemplateError("an empty [ ]".into()))?;
                    Step::Index(
                        digits
                            .parse()
                            .map_err(|_| TemplateError(format!("index {digits:?}")))?,
                    )
                };
                self.skip_spaces();
                if !self.eat(']') {
                    return Err(TemplateError("an unclosed [".into()));
                }
                steps.push(step);
            } else {
                return Ok(steps);
            }
        }
    }

    /// A filter's `(a, b)`, as plain words or numbers; none when there are no parentheses.
    fn arguments(&mut self) -> Result<Vec<String>, TemplateError> {
        self.skip_spaces();
        if !self.eat('(') {
            return Ok(Vec::new());
        }
        let rest = self.rest();
        let end = rest
            .find(')')
            .ok_or_else(|| TemplateError("an unclosed (".into()))?;
        self.at += end + 1;
        Ok(rest[..end]
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Value => f.write_str("value"),
            Source::Json(path) => f.write_str(&describe(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, payload: &str) -> Result<String, RenderError> {
        Template::parse(template).unwrap().render(payload)
    }

    #[test]
    fn the_forms_firmware_sends_render() {
        assert_eq!(render("{{ value }}", "ON"), Ok("ON".into()));
        assert_eq!(
            render("{{value_json.POWER}}", r#"{"POWER":"OFF"}"#),
            Ok("OFF".into())
        );
        assert_eq!(
            render(
                "{{ value_json.ENERGY.Power }}",
                r#"{"ENERGY":{"Power":42}}"#
            ),
            Ok("42".into())
        );
        assert_eq!(
            render(
                "{{value_json['AM2301'].Temperature}}",
                r#"{"AM2301":{"Temperature":21.5}}"#
            ),
            Ok("21.5".into())
        );
        assert_eq!(
            render(r#"{{ value_json["a b"][1] }}"#, r#"{"a b":[1,"two"]}"#),
            Ok("two".into())
        );
        assert_eq!(
            render("{{ value_json.list.0 }}", r#"{"list":[7]}"#),
            Ok("7".into())
        );
        assert_eq!(
            render("{{ value_json.occupancy }}", r#"{"occupancy":true}"#),
            Ok("True".into())
        );
        assert_eq!(
            render("{{ value_json.x }}", r#"{"x":null}"#),
            Ok("None".into())
        );
    }

    #[test]
    fn the_common_filters_apply() {
        assert_eq!(render("{{ value | float }}", "21"), Ok("21.0".into()));
        assert_eq!(
            render("{{ value_json.t | round(1) }}", r#"{"t":21.46}"#),
            Ok("21.5".into())
        );
        assert_eq!(render("{{ value | int }}", "21.9"), Ok("21".into()));
        assert_eq!(
            render("{{ value | lower | trim }}", " ON "),
            Ok("on".into())
        );
        assert_eq!(
            render("{{ value | float }}", "warm"),
            Err(RenderError::NotANumber("warm".into()))
        );
    }

    #[test]
    fn payloads_that_do_not_fit_are_errors() {
        assert_eq!(
            render("{{ value_json.a }}", "not json"),
            Err(RenderError::NotJson)
        );
        assert_eq!(
            render("{{ value_json.a.b }}", r#"{"a":{}}"#),
            Err(RenderError::Missing("value_json.a.b".into()))
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for (template, why) in [
            ("{% if value == '1' %}ON{% endif %}", "not a single"),
            ("{{ states('sensor.x') }}", "unknown variable"),
            ("{{ value_json.a }} {{ value }}", "more than one"),
            ("{{ value_json.a * 2 }}", "unexpected '*'"),
            (
                "{{ value | regex_replace('a', 'b') }}",
                "filter \"regex_replace\"",
            ),
            ("{{ value_json['a' }}", "unclosed"),
            ("ON", "not a single"),
        ] {
            let err = Template::parse(template).unwrap_err().to_string();
            assert!(err.contains(why), "{template}: {err}");
        }
        assert!(Template::parse(&format!("{{{{ value_json.{} }}}}", "a".repeat(600))).is_err());
    }
}
