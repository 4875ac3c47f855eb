# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/compare.sh: what both need to describe the machine and to run on it.

# The machine a result was measured on, one fact a line.
describe_machine() {
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
  echo "kernel: $(uname -r)"
  echo "open files (hard): $(ulimit -Hn)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# hearth_commit <repository root>: the commit the server was built from, marked when the server's own code (server/,
# or the SSE wire format in sse/) has local changes; the load tool (bench/ssebench) does not count.
hearth_commit() {
  echo "$(git -C "$1" rev-parse --short HEAD)$(git -C "$1" diff --quiet HEAD -- server sse || echo ' (server/ modified)')"
}

# The machine is shared, and a neighbour's build would show up as latency, so each run first waits for the rest of
# the machine to quieten down.
#
# wait_quiet <cores> <max seconds>: returns once everything running used under <cores> cores over 3 s, or after
# <max seconds> (then says so on stderr and returns anyway; every result also records what others used).
wait_quiet() {
  local quiet_cores=$1 quiet_wait=$2 start=$SECONDS a b busy
  while :; do
    read -ra a </proc/stat; sleep 3; read -ra b </proc/stat
    # user nice system irq softirq steal, in USER_HZ ticks (100 a second) over 3 s
    busy=$(((b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])))
    awk -v b="$busy" -v t="$quiet_cores" 'BEGIN { exit !(b / 300 < t) }' && return 0
    if [ $((SECONDS - start)) -ge "$quiet_wait" ]; then
      printf 'the machine is still busy (%s cores); running anyway\n' "$(awk -v b="$busy" 'BEGIN { printf "%.2f", b / 300 }')" >&2
      return 0
    fi
  done
}

# jwt_hs256 <key> <claims JSON>: a compact JWS of the claims, HS256 with the key (for Mercure runs; the standard
# library's hmac, so nothing is installed for it).
jwt_hs256() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
body = b64(json.dumps(json.loads(sys.argv[2]), separators=(",", ":")).encode())
mac = hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(mac)}")
PY
}

# The Mercure form of a run (scripts/compare.sh's `mercure` server): subscribers on /.well-known/mercure with a
# token whose subscribe claim is a URI template, every update private to it, published by form with a publisher's
# token. mercure_args <base URL> <key>: the ssebench arguments.
mercure_args() {
  local base=$1 key=$2 enc="https%3A%2F%2Fbench.example%2Ffeed" # https://bench.example/feed
  local sub pub
  sub=$(jwt_hs256 "$key" '{"mercure":{"subscribe":["https://bench.example/{id}"]}}')
  pub=$(jwt_hs256 "$key" '{"mercure":{"publish":["https://bench.example/{id}"]}}')
  printf '%s\n' --subscribe-url "$base/.well-known/mercure?topic=$enc" \
    --subscribe-header "Authorization: Bearer $sub" \
    --publish-url "$base/.well-known/mercure" \
    --publish-header "Authorization: Bearer $pub" \
    --publish-header "Content-Type: application/x-www-form-urlencoded" \
    --publish-body "topic=$enc&private=on&data={seq}+{sent}"
}
