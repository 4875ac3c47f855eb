//! The repository's Markdown stays true to its tree: every relative link in `README.md`, `docs/*.md`,
//! `RELIABILITY.md` and `BENCHMARKS.md` points at a file or directory that exists and, with an `#anchor`, at a
//! heading of that page; the configuration page names every environment variable the server reads, and the
//! test ids page every `data-testid` the pages set; and the README's two commands are what the scripts and CI run, with the versions `scripts/setup.sh` pins.
//!
//! These tests read files only. They live with the load tool because it builds in a minute without the web
//! stack, and CI runs its tests (`cargo test -p ssebench`).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// The workspace root (this crate is `bench/ssebench`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The pages whose links are checked.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = ["README.md", "RELIABILITY.md", "BENCHMARKS.md"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// A page's lines outside fenced code blocks, with their line numbers (1-based).
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// `line` without its code spans (`` `like this` ``), whose brackets are not links.
fn without_code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => rest = &after[end + ticks..],
            // An unmatched backtick is a literal one.
            None => {
                out.push_str(&rest[start..start + ticks]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of the inline links and images on a line (`[text](target)`, `![alt](target "title")`).
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut targets = Vec::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.trim_matches(|c| c == '<' || c == '>').to_owned());
        rest = &after[end..];
    }
    targets
}

/// The anchor GitHub gives a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|&c| c.is_alphanumeric() || c == '-' || c == '_' || c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// A heading's text as rendered: links become their text, code spans their content.
fn rendered(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    text.replace('`', "")
}

/// The anchors of a page's headings, with GitHub's `-1`, `-2` … for repeated ones.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(rendered(line[hashes..].trim().trim_end_matches('#').trim()).as_str());
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// What is wrong with one link of `page`, if anything.
fn check_link(root: &Path, page: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("an empty link".to_owned());
    }
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let dir = page.parent().unwrap_or(root);
    let file = if path.is_empty() {
        page.to_path_buf()
    } else if path.starts_with('/') {
        return Some("an absolute path: links are relative to the page".to_owned());
    } else {
        dir.join(path.replace("%20", " "))
    };
    let Ok(file) = file.canonicalize() else {
        return Some(format!("{path} does not exist"));
    };
    if !file.starts_with(root) {
        return Some(format!("{path} is outside the repository"));
    }
    if anchor.is_empty() {
        return None;
    }
    if file.extension().is_none_or(|x| x != "md") {
        return Some(format!("#{anchor} on {path}, which is not a Markdown page"));
    }
    let found = anchors(&read(&file));
    (!found.contains(anchor)).then(|| {
        format!(
            "no heading for #{anchor} in {} (its anchors: {})",
            file.strip_prefix(root).unwrap_or(&file).display(),
            found.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

#[test]
fn every_relative_link_points_at_a_file_and_every_anchor_at_a_heading() {
    let root = root();
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages(&root) {
        let text = read(&page);
        for (number, line) in prose_lines(&text) {
            for target in link_targets(line) {
                checked += 1;
                if let Some(problem) = check_link(&root, &page, &target) {
                    let name = page.strip_prefix(&root).unwrap_or(&page).display();
                    problems.push(format!("{name}:{number}: ({target}) {problem}"));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} links found: is the reader broken?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_configuration_page_names_every_variable_the_server_reads() {
    let root = root();
    let config = read(&root.join("server/src/config.rs"));
    let page = read(&root.join("docs/configuration.md"));
    let variables: Vec<&str> = config
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(
        variables.len() > 20,
        "found only {variables:?} in config.rs"
    );
    let missing: Vec<&&str> = variables
        .iter()
        .filter(|v| !page.contains(&format!("`{v}")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name {missing:?}"
    );
}

#[test]
fn the_two_commands_are_what_the_scripts_and_ci_run() {
    let root = root();
    let readme = read(&root.join("README.md"));
    let section = readme
        .split("\n## Two commands\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a \"Two commands\" section in README.md");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a code block in \"Two commands\"");
    let scripts: Vec<&str> = block
        .lines()
        .filter_map(|l| l.strip_prefix("bash "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(scripts, ["scripts/run.sh", "scripts/test.sh"]);
    // "Both first run `scripts/setup.sh`".
    for script in &scripts {
        let text = read(&root.join(script));
        let first_command = text
            .lines()
            .find(|l| l.starts_with("bash ") || l.starts_with("cargo ") || l.starts_with("exec "))
            .unwrap_or("");
        assert!(
            first_command.starts_with("bash scripts/setup.sh"),
            "{script} does not start by running scripts/setup.sh (its first command: {first_command:?})"
        );
    }
    // "this is what CI runs".
    assert!(
        read(&root.join(".ci/run")).contains("bash scripts/test.sh"),
        "CI (.ci/run) does not run scripts/test.sh"
    );
    // The versions the README names are the ones setup.sh installs.
    let setup = read(&root.join("scripts/setup.sh"));
    for (tool, variable) in [
        ("wasm-bindgen-cli", "WASM_BINDGEN_VERSION="),
        ("cargo-leptos", "CARGO_LEPTOS_VERSION="),
        ("ha-mqtt-discoverable", "HA_MQTT_DISCOVERABLE_VERSION="),
    ] {
        let pinned = setup
            .split(variable)
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("{variable} in scripts/setup.sh"));
        assert!(
            section.contains(&format!("`{tool}` {pinned}")),
            "README.md's \"Two commands\" does not say `{tool}` {pinned}, the version setup.sh installs"
        );
    }
}

#[test]
fn the_reader_finds_links_and_anchors_as_github_renders_them() {
    assert_eq!(
        link_targets("see [a](x.md), ![b](img.png \"t\") and `[c](not-a-link)`, [d](y.md#z)"),
        ["x.md", "img.png", "y.md#z"]
    );
    assert_eq!(
        link_targets("``[x](in-code)`` [`code`](real.md)"),
        ["real.md"]
    );
    assert_eq!(
        slug("1. Latency at 10,000 subscribers: the kernel and the load tool fill both cores"),
        "1-latency-at-10000-subscribers-the-kernel-and-the-load-tool-fill-both-cores"
    );
    assert_eq!(
        slug(&rendered("`use_event_source` compared")),
        "use_event_source-compared"
    );
    let page =
        "# T\n## Results\n```\n## Not a heading\n```\n## Results\n### [Linked](x.md) `code`\n";
    let found: Vec<String> = anchors(page).into_iter().collect();
    assert_eq!(found, ["linked-code", "results", "results-1", "t"]);
}

/// The `data-testid`s a Rust source sets, as templates (`room-{}`): literals, `format!`s on a line that names a
/// test id, and `let` bindings later given to `data-testid=`.
fn test_ids_in(source: &str) -> BTreeSet<String> {
    let first_literal = |rest: &str| rest.split('"').nth(1).map(str::to_owned);
    let bound: BTreeSet<&str> = source
        .split("data-testid=")
        .skip(1)
        .filter_map(|rest| {
            let name = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()?;
            (!name.is_empty() && !name.starts_with("format")).then_some(name)
        })
        .collect();
    let mut ids = BTreeSet::new();
    for line in source.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("data-testid=\"").nth(1) {
            ids.extend(rest.split('"').next().map(template));
        }
        let binds_one = bound
            .iter()
            .any(|name| line.starts_with(&format!("let {name} = format!(")));
        if line.contains("testid") || binds_one {
            for rest in line.split("format!(").skip(1) {
                ids.extend(first_literal(&format!("\"{rest}")).map(|t| template(&t)));
            }
        }
    }
    // What is left is an id: lowercase words and placeholders joined by dashes (not a test's raw string).
    ids.retain(|id| {
        id != "{}"
            && !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || "-{}".contains(c))
    });
    ids
}

/// `text` with each `{…}` placeholder written `{}`, so `room-{id}` in code and `room-{area}` in prose agree.
fn template(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in text.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_test_id_the_pages_set_is_listed_on_the_test_ids_page() {
    let root = root();
    let page = read(&root.join("docs/test-ids.md"));
    // The page's ids in backticks, with their placeholders (`{entity}`, `{area}`, …) as `{}`.
    let listed: BTreeSet<String> = page.split('`').skip(1).step_by(2).map(template).collect();
    let mut sources = vec![];
    let mut dirs = vec![root.join("app/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("app/src")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                sources.push(path);
            }
        }
    }
    let mut set = BTreeSet::new();
    for path in &sources {
        set.extend(test_ids_in(&read(path)));
    }
    assert!(set.len() > 40, "found only {set:?} in app/src");
    let missing: Vec<&String> = set.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "docs/test-ids.md does not list {missing:?}"
    );
}
