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
