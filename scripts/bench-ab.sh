#!/usr/bin/env bash
# bench-ab.sh: two postern builds side by side on one row, for a change to the data path
# (docs/BENCHMARKS.md, "Improvements"). Faster and narrower than bench-peers.sh: no peers, one
# size, the runs of A and B interleaved, medians at the end.
#
#   scripts/bench-ab.sh [options] A-BINARY B-BINARY
#     --mode echo|proxy   echo: the ws echo of the binary under test; proxy: its ws -> ws proxy
#                         in front of build/postern's ws echo (default proxy)
#     --size BYTES        message size (default 4096)
#     --connections N     (default 100)     --in-flight N   (default 8)
#     --repeat N          runs of each binary (default 3)   --duration S   (default 5)
#     --load BIN          load generator (default build/postern-load)
#
# Layout: the server under test alone on CPU 1 with one reactor; the load generator (and the
# proxy's backend) on CPU 0; 127.0.59.x only. Each run prints msgs/s (the load generator's count)
# and the server's CPU-µs per message (its utime + stime from /proc over the middle 3 s of the
# window, divided by the messages echoed in those 3 s at the run's rate). Every process it starts
# is stopped by PID; each load run is bounded by timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=proxy size=4096 conns=100 inflight=8 repeat=3 duration=5 load=build/postern-load
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --in-flight) inflight=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "bench-ab: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
a=$1 b=$2
[[ $mode == echo || $mode == proxy ]] || { echo "bench-ab: --mode echo or proxy" >&2; exit 2; }
[[ $duration =~ ^[0-9]+$ && $duration -ge 4 ]] || { echo "bench-ab: --duration: at least 4 s" >&2; exit 2; }
for f in "$a" "$b" "$load" build/postern; do [ -x "$f" ] || { echo "bench-ab: $f is not an executable" >&2; exit 1; }; done

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

config() {  # NAME ACCEPT CONNECT CPU: a one-reactor config
  local type=echo connect=""
  if [ -n "$3" ]; then type=proxy; connect="<connect>$3</connect>"; fi
  cat >"$tmp/$1.xml" <<XML
<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">
  <service><name>$1</name><accept>$2</accept>$connect<type>$type</type></service>
  <reactor><threads>1</threads><cpus>$4</cpus></reactor>
</gateway-config>
XML
}
start() {  # BIN CONFIG: starts it, waits until ready; sets $started
  "$1" --access-log off -c "$tmp/$2.xml" 2>"$tmp/$2.log" &
  started=$!
  pids+=("$started")
  for _ in $(seq 100); do grep -q 'postern ready' "$tmp/$2.log" && return 0; sleep 0.05; done
  echo "bench-ab: $1 -c $2 did not start:" >&2; cat "$tmp/$2.log" >&2; exit 1
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

url=ws://127.0.59.1:8000/echo
config backend ws://127.0.59.2:8000/echo "" 0
if [ "$mode" = proxy ]; then
  config server "$url" ws://127.0.59.2:8000/echo 1
  start build/postern backend
else
  config server "$url" "" 1
fi
hz=$(getconf CLK_TCK)

run() {  # BIN: one run; prints "msgs/s cpu-us/msg"
  local pid lp t0 t1 rate
  start "$1" server
  pid=$started
  timeout $((duration + 30)) taskset -c 0 "$load" --url "$url" --connections "$conns" --in-flight "$inflight" \
    --size "$size" --duration "$duration" --warmup 1 --json >"$tmp/load.json" 2>/dev/null &
  lp=$!
  sleep $((1 + (duration - 3) / 2)).5
  t0=$(ticks "$pid"); sleep 3; t1=$(ticks "$pid")
  wait "$lp"
  stop "$pid"
  rate=$(/usr/bin/python3 -c "import json; print(json.load(open('$tmp/load.json'))['msgs_per_s'])")
  awk -v r="$rate" -v d="$((t1 - t0))" -v hz="$hz" 'BEGIN { printf "%.0f %.3f\n", r, d / hz * 1e6 / (r * 3) }'
}

declare -A results
for i in $(seq "$repeat"); do
  for which in A B; do
    bin=$a; [ "$which" = B ] && bin=$b
    out=$(run "$bin")
    results[$which]+="$out"$'\n'
    echo "run $i $which  $(awk '{printf "%10.0f msgs/s  %6.3f cpu-us/msg", $1, $2}' <<<"$out")"
  done
done
for which in A B; do
  bin=$a; [ "$which" = B ] && bin=$b
  printf '%s' "${results[$which]}" | sort -n -k1 | awk -v w="$which" -v b="$bin" \
    '{ r[NR] = $1 } END { printf "median %s msgs/s %.0f", w, r[int((NR + 1) / 2)] }'
  printf '%s' "${results[$which]}" | sort -n -k2 | awk -v b="$bin" \
    '{ c[NR] = $2 } END { printf "  cpu-us/msg %.3f  (%s)\n", c[int((NR + 1) / 2)], b }'
done
