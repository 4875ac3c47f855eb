//! The side-by-side tables of `scripts/compare.sh`: per scenario, one row per server (medians over its runs)
//! and Hearth's ratio to each other server in words ([`super::words`]).

use super::runs::Runs;
use super::words::{general, median, num, ratio, Sense};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The servers compare.sh knows, in the order the tables list them (`mercure` is Hearth through its Mercure hub).
const SERVERS: [&str; 5] = ["hearth", "mercure", "nchan", "node", "python"];

/// The whole report for the runs in `dir`, scenarios in `order`.
pub fn render(dir: &Path, order: &[String]) -> std::io::Result<String> {
    let runs = Runs::read(dir)?;
    let machine = std::fs::read_to_string(dir.join("machine.txt")).unwrap_or_default();
    Ok(tables(&runs, &machine, order))
}

/// The report from runs already read, and the machine's description.
pub fn tables(runs: &Runs, machine: &str, order: &[String]) -> String {
    let mut out = String::new();
    out.push_str("# Hearth against other SSE servers\n\n");
    out.push_str(
        "Made by `scripts/compare.sh`; medians over the runs; every figure from ssebench on this machine. Ratios read\n\
         \"Hearth's figure is N× lower/higher than that server's\". The machine is shared: \"other cores\" is what the\n\
         rest of the machine used during the measurement.\n\n",
    );
    let _ = writeln!(out, "```\n{}\n```\n", machine.trim());
    for scenario in order {
        let by_server = runs.of(scenario);
        let Some(first) = by_server.first().and_then(|(_, list)| list.first()) else {
            continue;
        };
        let servers: Vec<(&str, &[Value])> = SERVERS
            .iter()
            .filter_map(|s| {
                let (_, list) = by_server.iter().find(|(name, _)| name == s)?;
                Some((*s, list.as_slice()))
            })
            .collect();
        if first.get("mode").and_then(Value::as_str) == Some("idle") {
            idle(&mut out, scenario, first, &servers);
        } else {
            fanout(&mut out, scenario, first, &servers);
        }
        out.push('\n');
    }
    if !runs.failed.is_empty() {
        out.push_str("## Failed runs\n\n");
        for line in &runs.failed {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// A number at `path` in a run (`/delivery/latency_ms/p99`).
fn at(run: &Value, path: &str) -> Option<f64> {
    run.pointer(path).and_then(Value::as_f64)
}

/// The median over `runs` of the figure at `path`.
fn med(runs: &[Value], path: &str) -> Option<f64> {
    median(runs.iter().map(|run| at(run, path)))
}

/// A configuration figure as the heading shows it: whole numbers as they are, others in `g` format.
fn config(first: &Value, key: &str, g: bool) -> String {
    match first.pointer(&format!("/config/{key}")) {
        Some(Value::Number(n)) if !g => n.to_string(),
        Some(Value::Number(n)) => n.as_f64().map_or_else(|| n.to_string(), general),
        _ => "?".to_owned(),
    }
}

/// Medians of one server's idle runs.
struct Idle {
    opened: Option<f64>,
    kib: Option<f64>,
    cores: Option<f64>,
    others: Option<f64>,
}

fn idle(out: &mut String, scenario: &str, first: &Value, servers: &[(&str, &[Value])]) {
    let _ = writeln!(
        out,
        "## {scenario}: {} idle streams held {} s\n",
        config(first, "subscribers", false),
        config(first, "duration_s", true)
    );
    out.push_str(
        "| server | runs | opened | server KiB/conn | server cores while held | other cores |\n",
    );
    out.push_str("|---|---|---|---|---|---|\n");
    let mut figs = Vec::new();
    for (server, runs) in servers {
        let f = Idle {
            opened: med(runs, "/connect/opened"),
            kib: med(runs, "/hold/server_rss_per_conn_kib"),
            cores: med(runs, "/hold/cpu_while_held/server_cores"),
            others: med(runs, "/hold/cpu_while_held/other_processes_cores"),
        };
        let _ = writeln!(
            out,
            "| {server} | {} | {} | {} | {} | {} |",
            runs.len(),
            num(f.opened, 0),
            num(f.kib, 2),
            num(f.cores, 3),
            num(f.others, 2)
        );
        figs.push((*server, f));
    }
    let Some((_, h)) = figs.iter().find(|(s, _)| *s == "hearth") else {
        return;
    };
    if figs.len() < 2 {
        return;
    }
    out.push_str("\n| Hearth vs | memory/conn | server cores while held |\n");
    out.push_str("|---|---|---|\n");
    let memory = Sense::lower("less", "more");
    let cores = memory.with_noise(0.01);
    for (server, o) in figs.iter().filter(|(s, _)| *s != "hearth") {
        let _ = writeln!(
            out,
            "| {server} | {} | {} |",
            ratio(h.kib, o.kib, memory),
            ratio(h.cores, o.cores, cores)
        );
    }
}

/// Medians of one server's fan-out runs.
struct Fanout {
    opened: Option<f64>,
    sent: Option<f64>,
    lost: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
    dps: Option<f64>,
    per_cpu: Option<f64>,
    cores: Option<f64>,
    others: Option<f64>,
    kib: Option<f64>,
}

fn fanout(out: &mut String, scenario: &str, first: &Value, servers: &[(&str, &[Value])]) {
    let _ = writeln!(
        out,
        "## {scenario}: {} streams, {} msg/s for {} s\n",
        config(first, "subscribers", false),
        config(first, "rate", true),
        config(first, "duration_s", true)
    );
    out.push_str("| server | runs | opened | msgs/s sent | lost | p50 ms | p99 ms | max ms | deliveries/s | deliveries per server CPU-s | server cores | other cores | server KiB/conn |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut figs = Vec::new();
    for (server, runs) in servers {
        let f = Fanout {
            opened: med(runs, "/connect/opened"),
            sent: med(runs, "/publish/rate_achieved"),
            lost: med(runs, "/delivery/lost"),
            p50: med(runs, "/delivery/latency_ms/p50"),
            p99: med(runs, "/delivery/latency_ms/p99"),
            max: med(runs, "/delivery/latency_ms/max"),
            dps: med(runs, "/delivery/deliveries_per_s"),
            per_cpu: med(runs, "/delivery/deliveries_per_server_cpu_s"),
            cores: med(runs, "/cpu_while_publishing/server_cores"),
            others: med(runs, "/cpu_while_publishing/other_processes_cores"),
            kib: med(runs, "/server/rss_per_conn_at_n_kib"),
        };
        let _ = writeln!(
            out,
            "| {server} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            runs.len(),
            num(f.opened, 0),
            num(f.sent, 1),
            num(f.lost, 0),
            num(f.p50, 2),
            num(f.p99, 2),
            num(f.max, 2),
            num(f.dps, 0),
            num(f.per_cpu, 0),
            num(f.cores, 3),
            num(f.others, 2),
            num(f.kib, 2)
        );
        figs.push((*server, f));
    }
    let Some((_, h)) = figs.iter().find(|(s, _)| *s == "hearth") else {
        return;
    };
    if figs.len() < 2 {
        return;
    }
    out.push_str("\n| Hearth vs | lost (Hearth / it) | p50 | p99 | max | deliveries/s | deliveries per CPU-s | server cores | memory/conn |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    let latency = Sense::lower("lower", "higher");
    let deliveries = Sense::higher("more", "fewer");
    let memory = Sense::lower("less", "more");
    let cores = memory.with_noise(0.01);
    for (server, o) in figs.iter().filter(|(s, _)| *s != "hearth") {
        let _ = writeln!(
            out,
            "| {server} | {} / {} | {} | {} | {} | {} | {} | {} | {} |",
            num(h.lost, 0),
            num(o.lost, 0),
            ratio(h.p50, o.p50, latency),
            ratio(h.p99, o.p99, latency),
            ratio(h.max, o.max, latency),
            ratio(h.dps, o.dps, deliveries),
            ratio(h.per_cpu, o.per_cpu, deliveries),
            ratio(h.cores, o.cores, cores),
            ratio(h.kib, o.kib, memory)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/fixtures/compare/` holds the files of a small comparison (two scenarios, a failed run, a file that
    /// is not JSON) and `table.md`, the tables the Python code this module replaced printed from them.
    #[test]
    fn saved_runs_render_the_same_tables_as_before() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare");
        let expected = std::fs::read_to_string(dir.join("table.md")).unwrap();
        let order = ["idle-18k", "fanout-10k", "smoke"].map(String::from);
        assert_eq!(render(&dir, &order).unwrap(), expected);
    }

    #[test]
    fn hearth_alone_gets_no_ratio_table_and_unknown_scenarios_are_left_out() {
        let mut runs = Runs::default();
        runs.add(
            "rate.hearth.1.json",
            super::super::runs::parse(r#"{"label":"rate:hearth","mode":"fanout","config":{"subscribers":100,"rate":1000.0,"duration_s":2.5},
                "connect":{"opened":100},"delivery":{"lost":0}}"#),
        );
        let out = tables(
            &runs,
            "nproc: 2\n",
            &["nothing".to_owned(), "rate".to_owned()],
        );
        assert!(
            out.contains("## rate: 100 streams, 1000 msg/s for 2.5 s\n"),
            "{out}"
        );
        assert!(
            out.contains("| hearth | 1 | 100 | ? | 0 | ? |"),
            "missing figures print as ?: {out}"
        );
        assert!(!out.contains("Hearth vs") && !out.contains("nothing") && !out.contains("Failed"));
        assert!(out.contains("```\nnproc: 2\n```\n"));
    }
}
