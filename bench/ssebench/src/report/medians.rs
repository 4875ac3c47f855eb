//! The table of medians `scripts/bench.sh` prints after its runs: one row per scenario label (`fanout-10k`, or
//! `fanout-10k@baseline` for another build run side by side), each figure the median over that label's runs,
//! rounded to 3 decimals. Numbers print as they always have in that table: whole counts as integers, medians
//! of an even number of runs and measured figures as decimals (`1000.0`, `0.847`), a missing figure as `None`.

use super::runs;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The runs bench.sh saves are `<label>-<n>.json`.
fn is_run_file(name: &str) -> bool {
    let stem = name.strip_suffix(".json").unwrap_or("");
    stem.char_indices()
        .any(|(i, c)| c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
}

/// The table for the runs in `dir`.
pub fn render(dir: &Path) -> std::io::Result<String> {
    let mut labels: Vec<(String, Vec<Value>)> = Vec::new();
    for (_, run) in runs::read(dir, is_run_file)? {
        // Failed runs are left out here; bench.sh's summary.txt says why.
        let Ok(run) = run else { continue };
        let label = run
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match labels.iter_mut().find(|(l, _)| *l == label) {
            Some((_, list)) => list.push(run),
            None => labels.push((label, vec![run])),
        }
    }
    Ok(table(&labels))
}

fn table(labels: &[(String, Vec<Value>)]) -> String {
    let mut out = String::new();
    out.push_str("| scenario | runs | opened | msgs/s sent | lost | p50 ms | p99 ms | max ms | deliveries/s | per server CPU-s | server cores | client cores | other cores | server KiB/conn |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (label, runs) in labels {
        let m = |path: &str| med(runs, path);
        let idle = runs
            .first()
            .and_then(|r| r.get("mode"))
            .and_then(Value::as_str)
            == Some("idle");
        if idle {
            let cpu = "/hold/cpu_while_held";
            let _ = writeln!(
                out,
                "| {label} | {} | {} | | | | | | | | {} | {} | {} | {} |",
                runs.len(),
                m("/connect/opened"),
                m(&format!("{cpu}/server_cores")),
                m(&format!("{cpu}/client_cores")),
                m(&format!("{cpu}/other_processes_cores")),
                m("/hold/server_rss_per_conn_kib"),
            );
        } else {
            let cpu = "/cpu_while_publishing";
            let lat = "/delivery/latency_ms";
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                runs.len(),
                m("/connect/opened"),
                m("/publish/rate_achieved"),
                m("/delivery/lost"),
                m(&format!("{lat}/p50")),
                m(&format!("{lat}/p99")),
                m(&format!("{lat}/max")),
                m("/delivery/deliveries_per_s"),
                m("/delivery/deliveries_per_server_cpu_s"),
                m(&format!("{cpu}/server_cores")),
                m(&format!("{cpu}/client_cores")),
                m(&format!("{cpu}/other_processes_cores")),
                m("/server/rss_per_conn_at_n_kib"),
            );
        }
    }
    out
}

/// A figure as JSON gave it: a count stays whole, a measurement is a decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Figure {
    Whole(i128),
    Decimal(f64),
}

impl Figure {
    fn of(value: &Value) -> Option<Figure> {
        if let Some(n) = value.as_i64() {
            Some(Figure::Whole(n.into()))
        } else if let Some(n) = value.as_u64() {
            Some(Figure::Whole(n.into()))
        } else {
            value.as_f64().map(Figure::Decimal)
        }
    }

    fn value(self) -> f64 {
        match self {
            Figure::Whole(n) => n as f64,
            Figure::Decimal(x) => x,
        }
    }
}

/// The median of the figure at `path` over `runs`, rounded to 3 decimals: `None` when no run has it.
fn med(runs: &[Value], path: &str) -> String {
    let mut figures: Vec<Figure> = runs
        .iter()
        .filter_map(|run| run.pointer(path).and_then(Figure::of))
        .collect();
    if figures.is_empty() {
        return "None".to_owned();
    }
    // Stable, so equal figures keep their order (and the middle one its kind) as the runs came.
    figures.sort_by(|a, b| a.value().total_cmp(&b.value()));
    let mid = figures.len() / 2;
    let median = if figures.len() % 2 == 1 {
        figures[mid]
    } else {
        let sum = match (figures[mid - 1], figures[mid]) {
            (Figure::Whole(a), Figure::Whole(b)) => (a + b) as f64,
            (a, b) => a.value() + b.value(),
        };
        Figure::Decimal(sum / 2.0)
    };
    match median {
        Figure::Whole(n) => n.to_string(),
        Figure::Decimal(x) => {
            let rounded = format!("{x:.3}").parse().unwrap_or(x);
            super::words::repr(rounded)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_files_are_label_dash_number() {
        for name in [
            "fanout-1k-1.json",
            "fanout-10k@baseline-3.json",
            "x-1.json",
            "a-9b.json",
        ] {
            assert!(is_run_file(name), "{name}");
        }
        for name in [
            "summary.json",
            "machine.txt",
            "fanout-k.json",
            "-.json",
            "x-1.json.bak",
        ] {
            assert!(!is_run_file(name), "{name}");
        }
    }

    /// `tests/fixtures/bench/` holds the runs of a small bench.sh session (three runs of one scenario, a
    /// baseline's, an idle one, a failed one) and `medians.md`, the table the Python code this module replaced
    /// printed from them.
    #[test]
    fn saved_runs_render_the_same_medians_as_before() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench");
        let expected = std::fs::read_to_string(dir.join("medians.md")).unwrap();
        assert_eq!(render(&dir).unwrap(), expected);
    }

    #[test]
    fn counts_stay_whole_unless_two_middle_runs_are_averaged() {
        let runs = |opened: &[u64]| -> Vec<Value> {
            opened
                .iter()
                .map(|n| serde_json::json!({ "connect": { "opened": n }, "x": 0.1 + 0.2 }))
                .collect()
        };
        assert_eq!(med(&runs(&[1000, 999, 1000]), "/connect/opened"), "1000");
        assert_eq!(med(&runs(&[1000, 1000]), "/connect/opened"), "1000.0");
        assert_eq!(med(&runs(&[999, 1000]), "/connect/opened"), "999.5");
        assert_eq!(med(&runs(&[7]), "/x"), "0.3", "rounded to 3 decimals");
        assert_eq!(med(&runs(&[7]), "/missing"), "None");
    }
}
