#!/usr/bin/env bash
# The soak: hostile and heavy clients at once for a bounded time (default 60 s), loopback only, while a normal
# logged-in client keeps using the dashboard's stream and posting (`ssebench soak`, bench/ssebench/src/soak/, says
# what runs). Builds the release server and ssebench, starts the server on a fresh data directory with the default
# limits but one: --max-connections is 1000 (SOAK_MAX_CONNECTIONS), since the default (what the open-files limit
# allows, ~18,900 here) is more than one load process can hold besides its other loads, and the probation flood
# must fill it. Prints the figures (JSON) and exits non-zero if the normal client or the owner was refused or lost
# anything, or the server's memory or database went past their bounds.
# Usage: scripts/soak.sh [seconds] [ssebench soak options, e.g. --max-rss-mib 64 --max-db-mb 160]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
port=${SOAK_PORT:-3991}
max_connections=${SOAK_MAX_CONNECTIONS:-1000}
token="soak-$RANDOM$RANDOM$RANDOM$RANDOM"
data_dir=$(mktemp -d)
log=$(mktemp)

(cd "$root" && cargo build --release -p server -p ssebench >&2)
(cd "$root" && exec env LEPTOS_SITE_ADDR="127.0.0.1:$port" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$data_dir" \
  HEARTH_LOG=warn HEARTH_MAX_CONNECTIONS="$max_connections" "$root/target/release/server" --no-simulator) >"$log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$data_dir" "$log"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
status=0
"$root/target/release/ssebench" soak --port "$port" --token "$token" --pid "$server_pid" --data-dir "$data_dir" \
  --seconds "$seconds" "$@" || status=$?
echo "server log (warnings and errors), last lines:" >&2
tail -n 5 "$log" >&2
exit $status
