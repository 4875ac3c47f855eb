//! The load runs a comparison saved: every `*.json` in its directory (one ssebench report each, named
//! `<scenario>.<server>.<n>.json`), grouped by the scenario and server in its `label` (`scenario:server`), and
//! the runs that failed, with why.

use serde_json::Value;
use std::path::Path;

/// One server's runs of a scenario.
pub type ServerRuns = (String, Vec<Value>);

/// Runs by scenario, then by server, each in the order first met (files in name order).
#[derive(Debug, Default)]
pub struct Runs {
    pub scenarios: Vec<(String, Vec<ServerRuns>)>,
    /// `<file>: <why>`, for runs that wrote no JSON or an error.
    pub failed: Vec<String>,
}

/// The `*.json` files of `dir` whose names `wanted` accepts (hidden files aside), in name order, each as its
/// JSON object or why there is none (`no JSON (see summary.txt)`, or the `error` the run reported).
pub fn read(
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
) -> std::io::Result<Vec<(String, Result<Value, String>)>> {
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(name, _)| name.ends_with(".json") && !name.starts_with('.') && wanted(name))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|(name, path)| {
            let run = parse(&std::fs::read_to_string(&path).unwrap_or_default());
            (name, run)
        })
        .collect())
}

/// One run's JSON object, or why it has none.
pub fn parse(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(run @ Value::Object(_)) => match run.get("error") {
            Some(error) => Err(error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned)),
            None => Ok(run),
        },
        _ => Err("no JSON (see summary.txt)".to_owned()),
    }
}

impl Runs {
    /// Reads every `*.json` file of `dir`.
    pub fn read(dir: &Path) -> std::io::Result<Runs> {
        let mut runs = Runs::default();
        for (name, run) in read(dir, |_| true)? {
            runs.add(&name, run);
        }
        Ok(runs)
    }

    /// Adds one file's run.
    pub fn add(&mut self, name: &str, run: Result<Value, String>) {
        let run = match run {
            Ok(run) => run,
            Err(why) => {
                self.failed.push(format!("{name}: {why}"));
                return;
            }
        };
        let label = run.get("label").and_then(Value::as_str).unwrap_or("");
        let (scenario, server) = label.split_once(':').unwrap_or((label, ""));
        let at = match self.scenarios.iter().position(|(s, _)| s == scenario) {
            Some(at) => at,
            None => {
                self.scenarios.push((scenario.to_owned(), Vec::new()));
                self.scenarios.len() - 1
            }
        };
        let servers = &mut self.scenarios[at].1;
        match servers.iter_mut().find(|(s, _)| s == server) {
            Some((_, list)) => list.push(run),
            None => servers.push((server.to_owned(), vec![run])),
        }
    }

    /// The runs of one scenario, by server in the order first met.
    pub fn of(&self, scenario: &str) -> &[ServerRuns] {
        self.scenarios
            .iter()
            .find(|(s, _)| s == scenario)
            .map_or(&[], |(_, servers)| servers.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_by_label_and_failures_say_why() {
        let mut runs = Runs::default();
        runs.add(
            "a.node.1.json",
            parse(r#"{"label":"fanout-1k:node","n":1}"#),
        );
        runs.add(
            "a.hearth.1.json",
            parse(r#"{"label":"fanout-1k:hearth","n":2}"#),
        );
        runs.add(
            "a.node.2.json",
            parse(r#"{"label":"fanout-1k:node","n":3}"#),
        );
        runs.add("b.hearth.1.json", parse(r#"{"label":"idle-18k:hearth"}"#));
        runs.add("c.nchan.1.json", parse(""));
        runs.add(
            "d.python.1.json",
            parse(r#"{"label":"x:python","error":"no subscription opened"}"#),
        );
        let servers: Vec<(&str, usize)> = runs
            .of("fanout-1k")
            .iter()
            .map(|(s, list)| (s.as_str(), list.len()))
            .collect();
        assert_eq!(
            servers,
            [("node", 2), ("hearth", 1)],
            "in the order first met"
        );
        assert_eq!(runs.of("idle-18k").len(), 1);
        assert!(runs.of("unknown").is_empty());
        assert_eq!(
            runs.failed,
            [
                "c.nchan.1.json: no JSON (see summary.txt)",
                "d.python.1.json: no subscription opened"
            ]
        );
    }
}
