#!/usr/bin/env bash
# The MQTT benchmark of BENCHMARKS.md: how long a device's state takes from the broker to 1,000 dashboards.
#
#   bench/mqtt.sh                 # both set-ups, BENCH_RUNS (3) times each, alternating
#
# Set-ups, side by side in one run: `mqtt` — a sensor announced by Home Assistant discovery on a mosquitto of the
# script's own; its state is published to the broker at 10 messages a second and every dashboard stream
# (`/events?topics=entities`) receives it as an `entity` event through Hearth's bridge; `http` — the same rate
# posted as messages straight to Hearth (`POST /message`), the path without a broker, for comparison. Each
# message carries its sequence number and send time, so ssebench measures the whole way. Everything runs on
# 127.0.0.1 and is stopped (by process id) after each run and when the script exits.
# Results: one JSON per run and summary.txt in $BENCH_OUT (default target/bench/mqtt-<UTC time>/).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
out=${BENCH_OUT:-$root/target/bench/mqtt-$(date -u +%Y%m%dT%H%M%SZ)}
token="bench-$RANDOM$RANDOM$RANDOM"
port=${BENCH_PORT:-3970}
broker_port=$((port + 1))
runs=${BENCH_RUNS:-3}
subscribers=${BENCH_SUBSCRIBERS:-1000}
args="--subscribers $subscribers --rate 10 --duration 30"
log() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }

mkdir -p "$out"
log "building the release server and ssebench"
(cd "$root" && cargo build --release -p server -p ssebench)
server_bin=$root/target/release/server
bench_bin=$root/target/release/ssebench
ulimit -n "$(ulimit -Hn)"
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "commit: $(hearth_commit "$root")"; describe_machine;
  echo "mosquitto: $(mosquitto -h 2>/dev/null | head -n 1)"; } >"$out/machine.txt"
cat "$out/machine.txt" >&2

pids=()
dirs=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for dir in "${dirs[@]}"; do rm -rf "$dir"; done
  pids=()
  dirs=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start_broker() {
  local dir
  dir=$(mktemp -d)
  dirs+=("$dir")
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$broker_port" >"$dir/mosquitto.conf"
  mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    mosquitto_pub -h 127.0.0.1 -p "$broker_port" -t bench/ping -m x 2>/dev/null && return 0
    sleep 0.1
  done
  log "mosquitto did not start"; return 1
}

start_server() { # start_server <extra env...>
  local dir
  dir=$(mktemp -d)
  dirs+=("$dir")
  (cd "$root" && exec env LEPTOS_SITE_ADDR="127.0.0.1:$port" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$dir" \
    HEARTH_MAX_SUBSCRIBERS=19500 HEARTH_MAX_CONNECTIONS_PER_CLIENT=0 HEARTH_MAX_STREAMS_PER_CLIENT=0 \
    HEARTH_LOG=warn "$@" "$server_bin" --no-simulator) >"$dir/server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 100); do curl -fsS -m 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "the server did not start"; cat "$dir/server.log" >&2; return 1
}

# A sensor as a device announces it (retained), then waits until the dashboard lists it.
announce_probe() {
  mosquitto_pub -h 127.0.0.1 -p "$broker_port" -r -t homeassistant/sensor/bench/probe/config \
    -m '{"name":"Probe","unique_id":"bench_probe","state_topic":"bench/probe/state","device":{"name":"Bench","suggested_area":"Lab"}}'
  for _ in $(seq 100); do
    curl -fsS -m 1 "http://127.0.0.1:$port/api/entities" | grep -q '"bench-probe"' && return 0
    sleep 0.1
  done
  log "the probe sensor never appeared"; return 1
}

: >"$out/summary.txt"
for run in $(seq "$runs"); do
  for setup in mqtt http; do
    wait_quiet "${BENCH_QUIET_CORES:-0.3}" "${BENCH_QUIET_WAIT:-120}"
    start_broker
    case $setup in
      mqtt)
        start_server HEARTH_MQTT_URL="mqtt://127.0.0.1:$broker_port"
        announce_probe
        publish=(--publish-url "mqtt://127.0.0.1:$broker_port/bench/probe/state" --publish-body '{seq} {sent}')
        subscribe="http://127.0.0.1:$port/events?topics=entities"
        ;;
      http)
        start_server
        publish=(--publish-url "http://127.0.0.1:$port/message" --publish-header "Authorization: Bearer $token")
        subscribe="http://127.0.0.1:$port/events?topics=message"
        ;;
    esac
    log "run $run, $setup: ssebench $args"
    # shellcheck disable=SC2086 # the scenario's arguments are meant to split
    timeout --signal=TERM --kill-after=10 600 "$bench_bin" $args "${publish[@]}" \
      --subscribe-url "$subscribe" --server-pid "$server_pid" --label "$setup-$run" \
      >"$out/$setup-$run.json" 2>>"$out/summary.txt" || log "$setup run $run failed (see $out/$setup-$run.json)"
    tail -n 1 "$out/summary.txt" >&2
    stop_all
    sleep 2
  done
done
log "results in $out"
