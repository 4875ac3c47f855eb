#!/usr/bin/env bash
# Sets up what is missing (idempotently), then builds and runs Hearth: the dashboard at http://127.0.0.1:3000.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh --no-browser
export PATH="$root/end2end/node_modules/.bin:$PATH"
exec cargo leptos serve --release
