#!/usr/bin/env bash
# Refreshes the README's screenshots (docs/screenshots/{dashboard,inspector}-{desktop,phone}.png) from the real
# build in Chromium, with one command:
#
#   bash scripts/screenshots.sh
#
# Builds the release (as CI tests it), starts a throwaway server on a free port of 127.0.0.1 with the simulator
# on and its own data directory, and drives Chromium through end2end/screenshots.mjs. So that the temperature
# chart shows the half hour it is made for rather than the first seconds of a fresh start, the server is first
# started once to create its store, and the stored snapshot is then given 30 minutes of readings (a slow rise
# with some noise); everything else on the page is the simulator's. The server is stopped when the script
# exits, however it exits.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/docs/screenshots
log() { printf '\033[1mscreenshots:\033[0m %s\n' "$*" >&2; }

command -v curl >/dev/null || { log "curl is needed"; exit 2; }
command -v python3 >/dev/null || { log "python3 is needed (it finds a free port and seeds the readings)"; exit 2; }
[ -d "$root/end2end/node_modules" ] || bash "$root/scripts/setup.sh"

log "building the release"
export PATH=$root/end2end/node_modules/.bin:$PATH
(cd "$root" && cargo leptos build --release)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d "${TMPDIR:-/tmp}/hearth-screenshots-XXXXXX")
token="screenshots-$RANDOM$RANDOM"
base="http://127.0.0.1:$port"
pid=

stop_server() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}
cleanup() { stop_server; rm -rf "$data"; }
trap cleanup EXIT

start_server() {
  (cd "$root" && LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=$root/target/site HEARTH_TOKEN=$token \
    HEARTH_DATA_DIR=$data HEARTH_LOG=warn exec "$root/target/release/server") &
  pid=$!
  for _ in $(seq 200); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { log "the server exited at start"; exit 1; }
    sleep 0.1
  done
  log "the server did not answer /healthz within 20 s"
  exit 1
}

log "creating the store on port $port"
start_server
stop_server

log "seeding 30 minutes of living-room readings"
python3 - "$data/hearth.db" <<'PY'
import json, math, sqlite3, sys, time
from datetime import datetime, timezone
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT snapshot FROM state WHERE id = 1").fetchone()
if row is None:
    sys.exit("no stored snapshot to seed: has the store's layout changed?")
snap = json.loads(row[0])
now = time.time()
readings = []
for i in range(360):
    t = now - (360 - i) * 5
    # A slow rise with a little sensor noise (deterministic, so the picture changes only when the page does).
    value = 20.2 + 0.8 * i / 359 + 0.12 * math.sin(i / 23.0) + 0.05 * math.sin(i / 5.3)
    stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"
    readings.append({"temperature": round(value, 1), "updatedAt": stamp})
snap["temperatures"] = readings
db.execute("UPDATE state SET snapshot = ? WHERE id = 1", (json.dumps(snap),))
db.commit()
PY

log "starting the server with the simulator"
start_server
for text in "Dinner is at seven" "Parcel left at the front door" "Heating set to 21 °C"; do
  curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"message\":\"$text\"}" "$base/message" >/dev/null
  sleep 1
done
sleep 3

mkdir -p "$out"
log "taking the screenshots"
node "$root/end2end/screenshots.mjs" "$base" "$token" "$out"
log "wrote $(ls "$out"/*.png | wc -l) screenshots to docs/screenshots/"
