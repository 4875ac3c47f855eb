#!/usr/bin/env bash
# Sets up what is missing (idempotently), then runs every Hearth test: formatting, lints per package with the
# right features, unit and integration tests, and the browser tests in Chromium against the release build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

bash scripts/setup.sh
# Release builds run wasm-opt; Debian's is too old for today's rustc (docs/toolchain.md, trap 3), npm binaryen's works.
export PATH="$root/end2end/node_modules/.bin:$PATH"

step "format"
cargo fmt --all -- --check

step "imports point one way (no cycles between a crate's top-level modules)"
python3 scripts/module-graph.py --quiet server/src app/src

step "lint (each package with its own features: app is ssr on the server, hydrate in the browser)"
cargo clippy -p app --features ssr --all-targets -- -D warnings
cargo clippy -p server --all-targets -- -D warnings
cargo clippy -p sse --all-targets -- -D warnings
cargo clippy -p ssebench --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests"
cargo test -p app --features ssr
# Includes the Redis suite (server/tests/redis: its own redis-server per test, several instances on port 0), which
# needs Debian's redis-server (setup.sh installs it) and says so plainly when it is missing.
cargo test -p server
# The integration suite again with every connection served by hyper alone (--serve hyper): the plain path stays
# tested, and the direct path keeps a reference that must behave the same.
HEARTH_TEST_SERVE=hyper cargo test -p server --test api
cargo test -p sse
cargo test -p ssebench

step "release build (server + hydrated front end)"
cargo leptos build --release

step "bundle budget (the front end's WASM, gzipped)"
bash scripts/bundle-budget.sh

step "browser tests (Playwright, Debian's Chromium, release build)"
cd end2end
npx playwright test
