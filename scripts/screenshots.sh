#!/usr/bin/env bash
# Refreshes the README's screenshots (docs/screenshots/{dashboard,inspector}-{desktop,phone}.png) from the real
# build in Chromium, with one command:
#
#   bash scripts/screenshots.sh
#
# Builds the release (as CI tests it), starts a throwaway server on a free port of 127.0.0.1 with its own data
# directory, and drives Chromium through end2end/screenshots.mjs. The home in the pictures is a real one: a
# throwaway mosquitto (Debian's) on another free port, bridged to the server, on which this script announces a
# dozen devices the Home Assistant way (lights, switches, a blind and curtains, a door and a motion sensor,
# temperature, humidity and power sensors) and publishes their states.
#
# So that the temperature chart and the sensors' trends show the half hour they are made for rather than the
# first seconds of a fresh start, the server is first started once to create its store, and the stored snapshot
# is then given 30 minutes of readings (a slow rise with some noise). The server and the broker are stopped when
# the script exits, however it exits.
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
broker_pid=
command -v mosquitto >/dev/null && command -v mosquitto_pub >/dev/null \
  || { log "mosquitto and mosquitto_pub are needed (bash scripts/setup.sh installs them)"; exit 2; }

stop_server() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}
stop_broker() {
  [ -n "$broker_pid" ] || return 0
  kill -KILL "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=
}
cleanup() { stop_server; stop_broker; rm -rf "$data"; }
trap cleanup EXIT

broker_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$broker_port" >"$data/mosquitto.conf"
mosquitto -c "$data/mosquitto.conf" >"$data/mosquitto.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$broker_port") 2>/dev/null && break; sleep 0.1; done

start_server() {
  (cd "$root" && env LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=$root/target/site HEARTH_TOKEN=$token \
    HEARTH_DATA_DIR=$data HEARTH_LOG=warn HEARTH_MQTT_URL="mqtt://127.0.0.1:$broker_port" \
    "$root/target/release/server") &
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

log "seeding 30 minutes of readings"
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
# The sensors announced below, by the ids the bridge gives them (their unique_id as a slug): a point per
# 20 s, as the dashboard keeps them, ending at the reading the script then publishes, which continues the line.
trends = {}
for sensor, reading, swing in [("bedroom-temperature", 20.9, 0.5), ("bedroom-humidity", 48.0, 3.0),
                               ("kitchen-fridge-power", 84.0, 40.0), ("livingroom-tv-power", 97.4, 12.0)]:
    waves = [math.sin(i / 11.0) + 0.35 * math.sin(i / 2.7) for i in range(90)]
    trends[sensor] = [{"t": (now - (90 - i) * 20) * 1000, "v": round(reading + swing * (w - waves[-1]), 1)}
                      for i, w in enumerate(waves)]
snap["trends"] = trends
db.execute("UPDATE state SET snapshot = ? WHERE id = 1", (json.dumps(snap),))
db.commit()
PY

announce() { # component node object name area state [extra JSON]
  local component=$1 node=$2 object=$3 name=$4 area=$5 state=$6 extra=${7:-}
  local base="home/$node/$object"
  # Named by its device alone (`"name": null`), as a single-purpose device is.
  local config="{\"name\":null,\"unique_id\":\"${node}_$object\",\"state_topic\":\"$base/state\""
  case $component in light|switch|cover) config+=",\"command_topic\":\"$base/set\"" ;; esac
  config+=",\"availability_topic\":\"$base/availability\""
  config+=",\"device\":{\"identifiers\":[\"$node-$object\"],\"name\":\"$name\",\"suggested_area\":\"$area\"}$extra}"
  mosquitto_pub -p "$broker_port" -h 127.0.0.1 -r -t "$base/availability" -m online
  mosquitto_pub -p "$broker_port" -h 127.0.0.1 -r -t "$base/state" -m "$state"
  mosquitto_pub -p "$broker_port" -h 127.0.0.1 -r -t "homeassistant/$component/$node/$object/config" -m "$config"
}

log "starting the server"
start_server
log "announcing a dozen devices on the broker (port $broker_port)"
announce light livingroom ceiling "Ceiling light" "Living room" ON
announce cover livingroom blinds "Blinds" "Living room" open ',"device_class":"blind"'
announce switch livingroom tv "TV socket" "Living room" ON
announce sensor livingroom tv_power "TV power" "Living room" 97.4 ',"unit_of_measurement":"W","device_class":"power"'
announce light kitchen light "Light" "Kitchen" OFF
announce switch kitchen kettle "Kettle" "Kitchen" OFF
announce sensor kitchen fridge_power "Fridge power" "Kitchen" 84.0 ',"unit_of_measurement":"W","device_class":"power"'
announce binary_sensor hall front_door "Front door" "Hall" OFF ',"device_class":"door"'
announce binary_sensor hall motion "Motion" "Hall" ON ',"device_class":"motion"'
announce light bedroom bedside "Bedside lamp" "Bedroom" OFF
announce cover bedroom curtains "Curtains" "Bedroom" closed ',"device_class":"curtain"'
announce sensor bedroom temperature "Temperature" "Bedroom" 20.9 ',"unit_of_measurement":"°C","device_class":"temperature"'
announce sensor bedroom humidity "Humidity" "Bedroom" 48 ',"unit_of_measurement":"%","device_class":"humidity"'
# A lamp whose plug was pulled: what an offline device looks like.
announce light study desk "Desk lamp" "Study" OFF
mosquitto_pub -p "$broker_port" -h 127.0.0.1 -r -t "home/study/desk/availability" -m offline
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
