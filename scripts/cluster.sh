#!/usr/bin/env bash
# Runs Hearth as two instances sharing one Redis, all on this machine: a try-out of the multi-instance set-up.
# Starts a redis-server of its own (a temporary directory, the settings Hearth requires) and two release builds
# of the server on their own ports, prints both addresses, and stops everything on Ctrl-C.
# Build first: `cargo leptos build --release` (or `bash scripts/run.sh` once).
# Usage: scripts/cluster.sh   (ports: HEARTH_CLUSTER_PORTS="3000 3002", HEARTH_CLUSTER_REDIS_PORT=6390)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '\033[1mcluster:\033[0m %s\n' "$*" >&2; }

server="$root/target/release/server"
if [ ! -x "$server" ] || [ ! -d "$root/target/site" ]; then
  log "no release build: run \`cargo leptos build --release\` (or \`bash scripts/run.sh\`) first"
  exit 1
fi
command -v redis-server >/dev/null 2>&1 || { log "redis-server is missing: run \`bash scripts/setup.sh\`"; exit 1; }

read -r -a ports <<<"${HEARTH_CLUSTER_PORTS:-3000 3002}"
redis_port=${HEARTH_CLUSTER_REDIS_PORT:-6390}
token=${HEARTH_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
work=$(mktemp -d)
pids=()

stop() {
  log "stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
  --save '' --maxmemory-policy noeviction --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null 2>&1 || { log "Redis did not start (see $work/redis.log)"; exit 1; }

for port in "${ports[@]}"; do
  mkdir -m 700 -p "$work/$port"
  LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT="$root/target/site" HEARTH_DATA_DIR="$work/$port" \
    HEARTH_TOKEN="$token" HEARTH_REDIS_URL="redis://127.0.0.1:$redis_port" HEARTH_LOG="${HEARTH_LOG:-warn}" \
    "$server" &
  pids+=($!)
done
for port in "${ports[@]}"; do
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || { log "the instance on $port did not start"; exit 1; }
done

log "Redis on 127.0.0.1:$redis_port"
for port in "${ports[@]}"; do log "instance: http://127.0.0.1:$port"; done
log "write token: $token"
log "Ctrl-C stops all three"
wait -n "${pids[@]}" || true
log "one of the processes exited; stopping the others"
