#!/usr/bin/env bash
# Re-runs the benchmarks of BENCHMARKS.md with one command.
#
#   scripts/bench.sh                    # every scenario, BENCH_RUNS (3) times each
#   scripts/bench.sh fanout-10k idle-18k   # only these
#   BENCH_RUNS=1 scripts/bench.sh       # quicker, noisier
#   BENCH_SERVER_ARGS=--in-memory scripts/bench.sh rate-100x1000   # extra server flags
#   BENCH_BASELINE_BIN=/tmp/old/server scripts/bench.sh fanout-10k   # side by side with another build
#
# Other settings: BENCH_PORT (3990), BENCH_OUT, BENCH_QUIET_CORES / BENCH_QUIET_WAIT (before each run, wait up to
# 120 s for the rest of the machine to use under 0.3 cores: it is shared, and a neighbour's build shows up as
# latency; every result also records what other processes used while it ran).
#
# Builds the release server and ssebench, then for every run of every scenario starts a fresh server on
# 127.0.0.1:$BENCH_PORT (no simulator, a throwaway token and data directory, room for 19,500 streams), runs ssebench
# against it and stops the server. A fresh server per run keeps one run's memory from inflating the next one's
# "idle" figure. Everything is bounded: ssebench has hard caps and its own deadline, each run is also wrapped in
# `timeout`, and the server is stopped (TERM, then KILL) after each run and when this script exits for any reason.
#
# With BENCH_BASELINE_BIN (a server binary built from another commit), every run of every scenario runs that
# server first and this one right after, under the same ssebench, so a change is judged against runs that saw the
# same machine at the same time; the baseline's results are labelled <scenario>@baseline.
#
# Results go to $BENCH_OUT (default target/bench/<UTC time>/): one JSON object per run (<scenario>-<n>.json), the
# one-line summaries (summary.txt), the machine (machine.txt) and a table of medians (medians.md, from
# `ssebench report --medians`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
port=${BENCH_PORT:-3990}
runs=${BENCH_RUNS:-3}
out=${BENCH_OUT:-$root/target/bench/$(date -u +%Y%m%dT%H%M%SZ)}
token="bench-$RANDOM$RANDOM$RANDOM"
base="http://127.0.0.1:$port"

# name|ssebench arguments, one per line of bench/scenarios (shared by bench.sh and compare.sh)
mapfile -t scenarios < <(grep -v -e '^#' -e '^$' "$root/bench/scenarios")

quiet_cores=${BENCH_QUIET_CORES:-0.3}
quiet_wait=${BENCH_QUIET_WAIT:-120}

log() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }

selected=("$@")
wanted() { # wanted <name>: true when no scenario was named on the command line, or this one was
  [ "${#selected[@]}" -eq 0 ] && return 0
  local s
  for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}
for s in "${selected[@]}"; do
  printf '%s\n' "${scenarios[@]}" | cut -d'|' -f1 | grep -qx "$s" || { log "unknown scenario $s"; exit 2; }
done

command -v curl >/dev/null || { log "curl is needed to wait for the server"; exit 2; }

mkdir -p "$out"
log "building the release server and ssebench"
(cd "$root" && cargo build --release -p server -p ssebench)
server_bin=$root/target/release/server
baseline_bin=${BENCH_BASELINE_BIN:-}
if [ -n "$baseline_bin" ] && [ ! -x "$baseline_bin" ]; then log "BENCH_BASELINE_BIN=$baseline_bin is not an executable"; exit 2; fi
bench_bin=$root/target/release/ssebench

# Both the server and ssebench hold ~18,000 sockets in the idle scenario: raise this shell's soft limit to the hard
# one (20,000 on these machines) so the server inherits it; ssebench raises its own.
ulimit -n "$(ulimit -Hn)"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(hearth_commit "$root")"
  echo "server flags: --no-simulator ${BENCH_SERVER_ARGS:-}"
  [ -z "$baseline_bin" ] || echo "baseline: $baseline_bin (run first in every pair)"
  describe_machine
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

server_pid=
data_dir=
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  [ -n "$data_dir" ] && rm -rf "$data_dir"
  data_dir=
}
trap stop_server EXIT
trap 'exit 130' INT TERM


start_server() { # start_server <log file> <server binary>
  data_dir=$(mktemp -d)
  # From the workspace root, where the server finds its Leptos settings; the dashboard is not exercised here.
  # shellcheck disable=SC2086 # extra server flags are meant to split
  (cd "$root" && exec env LEPTOS_SITE_ADDR="127.0.0.1:$port" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$data_dir" \
    HEARTH_MAX_SUBSCRIBERS=19500 HEARTH_MAX_CONNECTIONS_PER_CLIENT=0 HEARTH_MAX_STREAMS_PER_CLIENT=0 HEARTH_LOG=warn "$2" --no-simulator ${BENCH_SERVER_ARGS:-}) >"$1" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS -m 1 "$base/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "the server did not start; its log:"; cat "$1" >&2; return 1
}

: >"$out/summary.txt"
run_one() { # run_one <label> <run number> <server binary> <scenario's ssebench arguments>
  local label=$1 n=$2 bin=$3 args=$4
  wait_quiet "$quiet_cores" "$quiet_wait" # the machine is shared: a neighbour's build would show up as latency (see other_processes_cores)
  start_server "$out/server-$label-$n.log" "$bin"
  log "$label run $n/$runs: ssebench $args"
  # shellcheck disable=SC2086 # the scenario's arguments are meant to split
  timeout --signal=TERM --kill-after=10 900 "$bench_bin" $args \
    --subscribe-url "$base/eventstream" --publish-url "$base/message" \
    --publish-header "Authorization: Bearer $token" \
    --server-pid "$server_pid" --label "$label" \
    >"$out/$label-$n.json" 2>>"$out/summary.txt" || log "$label run $n failed (see $out/$label-$n.json)"
  tail -n 1 "$out/summary.txt" >&2
  stop_server
  sleep 2 # let the sockets of the previous run drain
}
for entry in "${scenarios[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  wanted "$name" || continue
  for n in $(seq "$runs"); do
    [ -z "$baseline_bin" ] || run_one "$name@baseline" "$n" "$baseline_bin" "$args"
    run_one "$name" "$n" "$server_bin" "$args"
  done
done

# The table of medians (ssebench reads back what it wrote).
"$bench_bin" report --medians "$out" >"$out/medians.md"
cat "$out/medians.md" >&2
log "results in $out"
