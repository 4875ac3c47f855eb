#!/usr/bin/env bash
# Runs the scenarios of scripts/bench.sh against Hearth and, side by side, against other SSE servers on this
# machine, and writes one table per scenario with Hearth's ratio to each (the comparison BENCHMARKS.md reports), in one command.
#
#   scripts/compare.sh                      # every scenario of bench.sh, against every server
#   scripts/compare.sh fanout-10k idle-18k  # only these
#   scripts/compare.sh smoke smoke-idle     # a quick check that every server works with ssebench (small; only when named)
#   COMPARE_RUNS=3 scripts/compare.sh       # each scenario three times per server (tables show medians)
#   COMPARE_SERVERS="hearth nchan" scripts/compare.sh rate-100x1000
#
# The servers (bench/others/README.md says what each is and why it is set up so):
#   hearth  this repository's release server, flags as bench.sh plus COMPARE_HEARTH_ARGS (default --in-memory;
#           set it to "" for the durable hub)
#   mercure the same Hearth server and flags, driven through /.well-known/mercure: subscribers with a token whose
#           subscribe claim is a URI template, every update private and published by form with a publisher's token
#           (the Mercure key is generated per run)
#   nchan   nginx with the nchan module (Debian's packages), bench/others/nchan.conf, one worker per core
#   node    bench/others/node-sse.mjs, plain node:http
#   python  bench/others/python_sse.py, aiohttp on uvloop, pinned versions in a venv under target/compare/venv
#
# Installs what is missing (apt-get for nginx and nchan, without leaving Debian's own nginx service running; pip for
# the venv); a server that cannot be installed here is skipped with a message, the others still run. Builds the
# release server and ssebench. Then for every scenario and run, starts each server in turn, fresh, on 127.0.0.1
# (ports COMPARE_PORT, default 3991, to +3), runs ssebench against it and stops it (TERM, then KILL of every one of
# its processes), also when this script exits for any reason. Every run is bounded: ssebench has hard caps and its
# own deadline, and is wrapped in `timeout`. Before each run it waits (at most COMPARE_QUIET_WAIT, 120 s) for the
# rest of the machine to use under COMPARE_QUIET_CORES (0.3) cores, as bench.sh does.
#
# Results go to COMPARE_OUT (default target/compare/<UTC time>/): the JSON of every run
# (<scenario>.<server>.<n>.json), each server's log, the one-line summaries (summary.txt), the machine and the
# versions (machine.txt) and the tables (table.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
others=$root/bench/others
venv=$root/target/compare/venv
port0=${COMPARE_PORT:-3991}
runs=${COMPARE_RUNS:-1}
out=${COMPARE_OUT:-$root/target/compare/$(date -u +%Y%m%dT%H%M%SZ)}
hearth_args=${COMPARE_HEARTH_ARGS---in-memory}
read -ra servers <<<"${COMPARE_SERVERS:-hearth nchan node python}"
quiet_cores=${COMPARE_QUIET_CORES:-0.3}
quiet_wait=${COMPARE_QUIET_WAIT:-120}
token="compare-$RANDOM$RANDOM$RANDOM"
mercure_key="compare-mercure-$RANDOM$RANDOM$RANDOM"

# name|ssebench arguments, one per line of bench/scenarios (shared by bench.sh and compare.sh)
mapfile -t scenarios < <(grep -v -e '^#' -e '^$' "$root/bench/scenarios")
# Run only when named: does each server work with ssebench at all (no loss, latencies parsed)?
checks=(
  "smoke|--subscribers 200 --rate 10 --duration 5"
  "smoke-idle|--idle --subscribers 500 --duration 5"
)

# The Python server's packages, every one pinned (aiohttp's own dependencies too), so reruns compare like with like.
python_pins=(
  aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 attrs==26.1.0 frozenlist==1.8.0 idna==3.20
  multidict==7.2.1 propcache==0.5.4 typing_extensions==4.16.0 yarl==1.25.1 uvloop==0.23.0
)
nchan_module=/usr/lib/nginx/modules/ngx_nchan_module.so

log() { printf '\033[1mcompare:\033[0m %s\n' "$*" >&2; }

selected=("$@")
entry_of() { # entry_of <name>: the "name|arguments" line of a scenario or check
  printf '%s\n' "${scenarios[@]}" "${checks[@]}" | grep -m1 "^$1|"
}
for s in "${selected[@]}"; do
  entry_of "$s" >/dev/null || { log "unknown scenario $s (known: $(printf '%s\n' "${scenarios[@]}" "${checks[@]}" | cut -d'|' -f1 | xargs))"; exit 2; }
done
[ "${#selected[@]}" -gt 0 ] || mapfile -t selected < <(printf '%s\n' "${scenarios[@]}" | cut -d'|' -f1)
for s in "${servers[@]}"; do
  case $s in hearth | mercure | nchan | node | python) ;; *) log "unknown server $s (known: hearth mercure nchan node python)"; exit 2 ;; esac
done

command -v curl >/dev/null || { log "curl is needed to wait for the servers"; exit 2; }

# --- installing what is missing; each returns non-zero (with a message) when its server cannot run here ---------

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "apt-get install $* needs root and apt-get, which this machine does not offer"
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; }
}

policy_made= # a policy-rc.d this script made, removed after the install or on exit
trap '[ -z "$policy_made" ] || rm -f "$policy_made"' EXIT
trap 'exit 130' INT TERM
install_nchan() {
  if command -v nginx >/dev/null && [ -f "$nchan_module" ]; then return 0; fi
  log "installing nginx and its nchan module (Debian's packages)"
  # Debian's nginx package starts its own service (port 80) when installed. A policy-rc.d that answers 101
  # ("not allowed") prevents that; containers usually have one already, and one made here is removed again.
  local policy=/usr/sbin/policy-rc.d ok=0
  if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
    printf '#!/bin/sh\n# made by scripts/compare.sh for the length of an install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    policy_made=$policy
  fi
  local before=
  [ -s /run/nginx.pid ] && before=$(cat /run/nginx.pid)
  apt_install nginx libnginx-mod-nchan || ok=$?
  if [ -n "$policy_made" ]; then rm -f "$policy_made"; policy_made=; fi
  # Should a service have started anyway (no policy honoured), stop it: this script runs its own nginx.
  local after=
  [ -s /run/nginx.pid ] && after=$(cat /run/nginx.pid)
  if [ -n "$after" ] && [ "$after" != "$before" ] && kill -0 "$after" 2>/dev/null; then
    log "stopping the nginx service the package started (pid $after)"
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
      systemctl stop nginx || true
    else
      kill -QUIT "$after" 2>/dev/null || true
    fi
  fi
  if [ "$ok" -ne 0 ] || ! command -v nginx >/dev/null || [ ! -f "$nchan_module" ]; then
    log "SKIPPING nchan: needs nginx on PATH and $nchan_module, which apt-get install -y nginx libnginx-mod-nchan did not provide here"
    return 1
  fi
}

install_node() {
  if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 18 ]; then return 0; fi
  log "SKIPPING node: no node 18 or later on PATH (the machine's node 20 is expected)"
  return 1
}

install_python() {
  local check
  check="import importlib.metadata as m, sys; sys.exit(any(m.version(p.split('==')[0]) != p.split('==')[1] for p in sys.argv[1:]))"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" "${python_pins[@]}" 2>/dev/null; then return 0; fi
  log "installing ${python_pins[*]} into $venv"
  if ! python3 -m venv "$venv" >&2; then
    log "SKIPPING python: python3 cannot make a venv here (Debian: apt-get install -y python3-venv)"
    return 1
  fi
  if ! "$venv/bin/pip" install -q --disable-pip-version-check "${python_pins[@]}" >&2; then
    log "SKIPPING python: pip could not install ${python_pins[*]}"
    return 1
  fi
}

available=()
for s in "${servers[@]}"; do
  case $s in
    hearth) available+=(hearth) ;;
    mercure) available+=(mercure) ;;
    nchan) if install_nchan; then available+=(nchan); fi ;;
    node) if install_node; then available+=(node); fi ;;
    python) if install_python; then available+=(python); fi ;;
  esac
done
[ "${#available[@]}" -gt 0 ] || { log "no server to run"; exit 1; }

log "building the release server and ssebench"
(cd "$root" && cargo build --release -p server -p ssebench)
# Run copies: the machine is shared, and a rebuild of target/release mid-run (a neighbour's cargo build) would
# otherwise swap or truncate the binaries under a starting run.
bin_dir=$(mktemp -d)
cp "$root/target/release/server" "$root/target/release/ssebench" "$bin_dir/"
server_bin=$bin_dir/server
bench_bin=$bin_dir/ssebench

# The idle scenario holds ~18,000 sockets in the server and in ssebench: raise this shell's soft limit to the hard
# one (20,000 on these machines) for the servers to inherit; ssebench raises its own.
ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)

mkdir -p "$out"
version_of() { # one line per server: what ran
  case $1 in
    hearth) echo "hearth: $(hearth_commit "$root"), flags: --no-simulator $hearth_args" ;;
    mercure) echo "mercure: the hearth server above, through /.well-known/mercure, JWT subscribers, private updates" ;;
    nchan) echo "nchan: $(nginx -v 2>&1 | sed 's/^nginx version: //'), Debian nginx $(dpkg-query -W -f='${Version}' nginx 2>/dev/null || echo '?'), libnginx-mod-nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo '?'), $(nproc) workers" ;;
    node) echo "node: $(node --version), node:http" ;;
    python) echo "python: $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])'), ${python_pins[*]}" ;;
  esac
}
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for s in "${available[@]}"; do version_of "$s"; done
  echo "skipped: $(comm -23 <(printf '%s\n' "${servers[@]}" | sort) <(printf '%s\n' "${available[@]}" | sort) | xargs)"
  describe_machine
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# --- one server at a time ---------------------------------------------------------------------------------------

server_main=    # the process started (nginx: the master)
server_pids=()  # every process measured and stopped (nginx: the master and its workers)
scratch=        # the server's throwaway directory (Hearth's data, nginx's prefix)
server_log=
stop_server() {
  if [ -n "$server_main" ]; then
    kill -TERM "$server_main" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_main" 2>/dev/null || break; sleep 0.1; done
    local pid
    for pid in "$server_main" "${server_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait "$server_main" 2>/dev/null || true
  fi
  server_main=
  server_pids=()
  if [ -n "$scratch" ]; then
    [ -f "$scratch/error.log" ] && [ -n "$server_log" ] && cat "$scratch/error.log" >>"$server_log"
    rm -rf "$scratch"
  fi
  scratch=
}
cleanup() {
  stop_server
  rm -rf "$bin_dir"
  if [ -n "$policy_made" ]; then rm -f "$policy_made"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_of() { # port_of <server>
  case $1 in hearth) echo "$port0" ;; mercure) echo $((port0 + 4)) ;; nchan) echo $((port0 + 1)) ;; node) echo $((port0 + 2)) ;; python) echo $((port0 + 3)) ;; esac
}

start_server() { # start_server <server> <log file>: sets server_main and server_pids, or returns 1
  local port
  port=$(port_of "$1")
  server_log=$2
  case $1 in
    hearth | mercure)
      scratch=$(mktemp -d)
      # From the workspace root, where the server finds its Leptos settings; the dashboard is not exercised here.
      # shellcheck disable=SC2086 # extra server flags are meant to split
      (cd "$root" && exec env HEARTH_MERCURE_PUBLISHER_JWT_KEY="$mercure_key" LEPTOS_SITE_ADDR="127.0.0.1:$port" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$scratch" \
        HEARTH_MAX_SUBSCRIBERS=19500 HEARTH_MAX_CONNECTIONS_PER_CLIENT=0 HEARTH_MAX_STREAMS_PER_CLIENT=0 HEARTH_LOG=warn "$server_bin" --no-simulator $hearth_args) >"$2" 2>&1 &
      ;;
    nchan)
      scratch=$(mktemp -d)
      chmod 755 "$scratch" # nginx's workers run as nobody
      sed -e "s|@PREFIX@|$scratch|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$(nproc)|g" \
        -e "s|@NOFILE@|$nofile|g" -e "s|@CONNECTIONS@|$((nofile - 500))|g" "$others/nchan.conf" >"$scratch/nginx.conf"
      nginx -p "$scratch" -c "$scratch/nginx.conf" >"$2" 2>&1 &
      ;;
    node) node "$others/node-sse.mjs" "$port" >"$2" 2>&1 & ;;
    python) "$venv/bin/python" "$others/python_sse.py" "$port" >"$2" 2>&1 & ;;
  esac
  server_main=$!
  server_pids=("$server_main")
  for _ in $(seq 100); do
    # Any HTTP answer means it listens (only Hearth has /healthz; the others answer 404).
    if curl -sS -m 1 -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
      if [ "$1" = nchan ]; then
        local workers
        for _ in $(seq 50); do
          mapfile -t workers < <(pgrep -P "$server_main")
          [ "${#workers[@]}" -ge "$(nproc)" ] && break
          sleep 0.1
        done
        server_pids+=("${workers[@]}")
      fi
      return 0
    fi
    kill -0 "$server_main" 2>/dev/null || break
    sleep 0.1
  done
  log "$1 did not start; its log:"
  cat "$2" "${scratch:+$scratch/error.log}" >&2 2>/dev/null || true
  stop_server
  return 1
}


: >"$out/summary.txt"
for name in "${selected[@]}"; do
  entry=$(entry_of "$name")
  args=${entry#*|}
  for n in $(seq "$runs"); do
    for server in "${available[@]}"; do
      wait_quiet "$quiet_cores" "$quiet_wait" # the machine is shared: a neighbour's build would show up as latency (see other_processes_cores)
      start_server "$server" "$out/$name.$server.$n.log" || { log "$name run $n: $server skipped"; continue; }
      base="http://127.0.0.1:$(port_of "$server")"
      extra=(--subscribe-url "$base/eventstream" --publish-url "$base/message")
      [ "$server" = hearth ] && extra+=(--publish-header "Authorization: Bearer $token")
      [ "$server" = mercure ] && mapfile -t extra < <(mercure_args "$base" "$mercure_key")
      log "$name run $n/$runs, $server (pids ${server_pids[*]}): ssebench $args"
      # shellcheck disable=SC2086 # the scenario's arguments are meant to split
      timeout --signal=TERM --kill-after=10 900 "$bench_bin" $args "${extra[@]}" \
        --server-pid "$(IFS=,; echo "${server_pids[*]}")" --label "$name:$server" \
        >"$out/$name.$server.$n.json" 2>>"$out/summary.txt" ||
        log "$name run $n against $server failed, exit $? (see $out/$name.$server.$n.json and summary.txt)"
      tail -n 1 "$out/summary.txt" >&2
      stop_server
      sleep 2 # let the sockets of the previous run drain
    done
  done
done

# The tables: medians per server and Hearth's ratio to each other server (ssebench reads back what it wrote).
"$bench_bin" report "$out" "${selected[@]}" >"$out/table.md"
cat "$out/table.md" >&2
log "results in $out"
