#!/usr/bin/env bash
# The Redis benchmarks of BENCHMARKS.md: the same ssebench runs against one instance on SQLite, one on Redis, and
# two on Redis with the subscribers split over both (messages posted to the first), one after the other.
#
#   bench/redis.sh                       # every scenario on every set-up, once
#   bench/redis.sh rate                  # only this scenario (rate, throughput, fanout)
#
# For each run it starts what the set-up needs on 127.0.0.1 (a redis-server of its own with the settings Hearth
# requires, in a temporary directory; instances with a throwaway token), runs ssebench, reads Redis's own CPU time
# and memory before and after (INFO), and stops everything (by process id) after the run and when the script
# exits. Results: one JSON per run and summary.txt in $BENCH_OUT (default target/bench/redis-<UTC time>/).
# Before each run it waits up to BENCH_QUIET_WAIT (120) s for the rest of the machine to use under
# BENCH_QUIET_CORES (0.3) cores: it is shared, and a neighbour shows up as latency.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
out=${BENCH_OUT:-$root/target/bench/redis-$(date -u +%Y%m%dT%H%M%SZ)}
token="bench-$RANDOM$RANDOM$RANDOM"
port_a=${BENCH_PORT:-3990}
port_b=$((port_a + 1))
redis_port=$((port_a + 2))
log() { printf '\033[1mbench:\033[0m %s\n' "$*" >&2; }

# name|ssebench arguments
scenarios=(
  "rate|--subscribers 100 --rate 1000 --duration 20"
  "throughput|--subscribers 100 --rate 8000 --duration 10"
  "fanout|--subscribers 10000 --rate 10 --duration 30"
)
setups=(sqlite redis1 redis2)
selected=("$@")

mkdir -p "$out"
log "building the release server and ssebench"
(cd "$root" && cargo build --release -p server -p ssebench)
server_bin=$root/target/release/server
bench_bin=$root/target/release/ssebench
ulimit -n "$(ulimit -Hn)"
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "commit: $(hearth_commit "$root")"; describe_machine;
  echo "redis: $(redis-server --version)"; } >"$out/machine.txt"
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

redis_pid=
start_redis() {
  local dir
  dir=$(mktemp -d)
  dirs+=("$dir")
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync always \
    --save '' --maxmemory-policy noeviction --daemonize no >"$dir/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "redis-server did not start"; return 1
}

start_instance() { # start_instance <port> <extra env...>
  local port=$1 dir
  shift
  dir=$(mktemp -d)
  dirs+=("$dir")
  (cd "$root" && exec env LEPTOS_SITE_ADDR="127.0.0.1:$port" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$dir" \
    HEARTH_MAX_SUBSCRIBERS=19500 HEARTH_MAX_CONNECTIONS_PER_CLIENT=0 HEARTH_MAX_STREAMS_PER_CLIENT=0 \
    HEARTH_LOG=warn "$@" "$server_bin" --no-simulator) >"$dir/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fsS -m 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  log "the instance on $port did not start"; cat "$dir/server.log" >&2; return 1
}

redis_info() { # used_memory used_cpu_sys used_cpu_user xlen
  local info
  info=$(redis-cli -p "$redis_port" info)
  printf '%s %s %s %s\n' \
    "$(grep '^used_memory:' <<<"$info" | cut -d: -f2 | tr -d '\r')" \
    "$(grep '^used_cpu_sys:' <<<"$info" | cut -d: -f2 | tr -d '\r')" \
    "$(grep '^used_cpu_user:' <<<"$info" | cut -d: -f2 | tr -d '\r')" \
    "$(redis-cli -p "$redis_port" xlen '{hearth}:log' | tr -d '\r')"
}

: >"$out/summary.txt"
for entry in "${scenarios[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  if [ "${#selected[@]}" -gt 0 ] && ! printf '%s\n' "${selected[@]}" | grep -qx "$name"; then continue; fi
  for setup in "${setups[@]}"; do
    wait_quiet "${BENCH_QUIET_CORES:-0.3}" "${BENCH_QUIET_WAIT:-120}"
    subscribe="http://127.0.0.1:$port_a/eventstream"
    case $setup in
      sqlite) start_instance "$port_a" ;;
      redis1) start_redis; start_instance "$port_a" HEARTH_REDIS_URL="redis://127.0.0.1:$redis_port" ;;
      redis2)
        start_redis
        start_instance "$port_a" HEARTH_REDIS_URL="redis://127.0.0.1:$redis_port"
        start_instance "$port_b" HEARTH_REDIS_URL="redis://127.0.0.1:$redis_port"
        subscribe="$subscribe,http://127.0.0.1:$port_b/eventstream"
        ;;
    esac
    server_pids=$(printf '%s\n' "${pids[@]}" | grep -vx "${redis_pid:-none}" | paste -sd, -)
    before=$( [ "$setup" = sqlite ] || redis_info )
    log "$name on $setup: ssebench $args"
    # shellcheck disable=SC2086 # the scenario's arguments are meant to split
    timeout --signal=TERM --kill-after=10 900 "$bench_bin" $args \
      --subscribe-url "$subscribe" --publish-url "http://127.0.0.1:$port_a/message" \
      --publish-header "Authorization: Bearer $token" --server-pid "$server_pids" --label "$name-$setup" \
      >"$out/$name-$setup.json" 2>>"$out/summary.txt" || log "$name on $setup failed (see $out/$name-$setup.json)"
    tail -n 1 "$out/summary.txt" >&2
    if [ "$setup" != sqlite ]; then
      after=$(redis_info)
      echo "redis $name-$setup before: $before after: $after (used_memory bytes, cpu sys s, cpu user s, xlen)" \
        | tee -a "$out/summary.txt" >&2
    fi
    stop_all
    redis_pid=
    sleep 2
  done
done
log "results in $out"
