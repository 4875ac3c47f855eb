#!/usr/bin/env bash
# Installs everything Hearth needs to build and test, at pinned versions, from package registries only.
# Idempotent: each step checks what is already there and skips it in seconds.
# Why from source with a moved lock entry: docs/toolchain.md, trap 1 (the published lock files of both
# cargo tools do not build on Rust 1.95 here).
# Usage: scripts/setup.sh [--no-browser]   (--no-browser: skip Chromium, which only the browser tests need)
set -euo pipefail

with_browser=true
for arg in "$@"; do
  case "$arg" in
    --no-browser) with_browser=false ;;
    *) echo "setup: unknown option $arg (known: --no-browser)" >&2; exit 2 ;;
  esac
done

WASM_BINDGEN_VERSION=0.2.130 # must equal the `=` pin of wasm-bindgen in Cargo.toml
CARGO_LEPTOS_VERSION=0.3.11

root=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

has_version() { # has_version <command> <version>: true when `<command> --version` prints that version
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

# Installs a cargo tool from its published crate after moving one lock-file entry that breaks `--locked` here.
install_from_crate() { # install_from_crate <crate> <version> <package-to-move> <precise-version>
  local crate=$1 version=$2 pkg=$3 precise=$4 tmp src
  tmp=$(mktemp -d)
  # The first try fails fast on the bad lock entry but leaves the .crate in the registry cache.
  cargo install "$crate" --version "$version" --locked >/dev/null 2>&1 || true
  src=$(ls "$HOME"/.cargo/registry/cache/*/"$crate-$version.crate" 2>/dev/null | head -n 1)
  if [ -z "$src" ]; then
    log "could not fetch $crate $version from the crate registry"; exit 1
  fi
  tar xzf "$src" -C "$tmp"
  (
    cd "$tmp/$crate-$version"
    cargo update -p "$pkg" --precise "$precise"
    # Full LTO with one codegen unit makes the link single-threaded for many minutes on 2 cores.
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR="$tmp/target" \
      cargo install --path . --locked
  )
  rm -rf "$tmp"
}

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "wasm32-unknown-unknown target: present"
else
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 6 minutes on 2 cores)"
  install_from_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
fi

if has_version cargo-leptos "$CARGO_LEPTOS_VERSION"; then
  log "cargo-leptos $CARGO_LEPTOS_VERSION: present"
else
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 17 minutes on 2 cores)"
  install_from_crate cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1
fi

if [ "$with_browser" = false ]; then
  log "chromium: skipped (--no-browser)"
elif [ -x "${HEARTH_CHROMIUM:-/usr/bin/chromium}" ]; then
  log "chromium: present"
elif command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's chromium"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
else
  log "Chromium is missing and there is no apt-get here to install it: install Chromium yourself and set" \
    "HEARTH_CHROMIUM to its path (the browser tests need it; Playwright cannot download its own offline)"
  exit 1
fi

# Servers the tests run beside Hearth, each test its own instance (a free port, a temporary directory): Debian's
# packages are all they need. An install may start a system service on the default port: stop it, so nothing is
# left listening that the tests or `scripts/cluster.sh` did not start.
install_test_server() { # install_test_server <what> <service> <default-port> <command>... -- <package>...
  local what=$1 service=$2 port=$3 missing=false sudo=""
  shift 3
  while [ "$1" != "--" ]; do
    command -v "$1" >/dev/null 2>&1 || missing=true
    shift
  done
  shift
  if [ "$missing" = false ]; then
    log "$what: present"
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "$what is missing and there is no apt-get here to install it: install $* yourself (the tests start" \
      "their own instance; set HEARTH_<PROGRAM> to a program's path if it is not on PATH)"
    exit 1
  fi
  log "installing Debian's $*"
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    $sudo systemctl stop "$service" || true
    $sudo systemctl disable "$service" >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    $sudo service "$service" stop >/dev/null 2>&1 || true
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "something still listens on port $port after installing $what: stop it yourself (the tests never use it)"
  else
    log "$what installed; no system service left running on port $port"
  fi
}

# Redis: the multi-instance backend's tests.
install_test_server "redis-server" redis-server 6379 redis-server -- redis-server
# Mosquitto: the MQTT tests' broker, and its command-line clients for the test kit's own check.
install_test_server "mosquitto" mosquitto 1883 mosquitto mosquitto_pub mosquitto_sub -- mosquitto mosquitto-clients

# ha-mqtt-discoverable: the MQTT suite runs a real device library's devices against Hearth. It lives in a virtual
# environment of its own under target/ (ignored by git), at a pinned version; the suite finds it there (or takes
# HEARTH_PYTHON).
HA_MQTT_DISCOVERABLE_VERSION=0.26.0
venv="$root/target/py"
has_library() {
  "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('ha-mqtt-discoverable') != '$HA_MQTT_DISCOVERABLE_VERSION')" 2>/dev/null
}
if has_library; then
  log "ha-mqtt-discoverable $HA_MQTT_DISCOVERABLE_VERSION: present ($venv)"
else
  log "installing ha-mqtt-discoverable $HA_MQTT_DISCOVERABLE_VERSION into $venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      sudo=""
      [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q "ha-mqtt-discoverable==$HA_MQTT_DISCOVERABLE_VERSION"
  has_library || { log "ha-mqtt-discoverable did not install into $venv"; exit 1; }
fi

# The Mercure client the test suite runs against Hearth (clients/mercure-python): a virtualenv of its own, from
# PyPI at the pinned versions; skipped when it already matches the requirements. python3-venv is there by now
# (the block above installs it when missing).
mercure_venv="$root/clients/mercure-python/.venv"
requirements="$root/clients/mercure-python/requirements.txt"
if [ -f "$mercure_venv/.hearth-requirements" ] && cmp -s "$mercure_venv/.hearth-requirements" "$requirements"; then
  log "Mercure Python client: present"
else
  log "installing the Mercure Python client (mercure-publisher, sseclient-py) into $mercure_venv"
  python3 -m venv "$mercure_venv"
  "$mercure_venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$mercure_venv/.hearth-requirements"
fi

# npm ci is the slow part of a warm run; skip it when node_modules matches the committed lock file.
stamp="$root/end2end/node_modules/.hearth-lock"
if [ -f "$stamp" ] && cmp -s "$stamp" "$root/end2end/package-lock.json"; then
  log "end2end npm packages: present"
else
  log "installing end2end npm packages (Playwright, binaryen's wasm-opt)"
  (cd "$root/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  cp "$root/end2end/package-lock.json" "$stamp"
fi
