#!/usr/bin/env bash
# ha-loopback.sh — the seed's HA topology on one host (config/ha-loopback, DESIGN §1 and §5):
# two DMZ members in one cluster with a balancer each, two internal gateways that dial out to
# their DMZ member and keep reverse links parked there, and a TCP echo backend.
#
#   scripts/ha-loopback.sh run   [DIR]            start all five, print how to reach them, and
#                                                 stop them on Ctrl-C (what `make run-ha` does)
#   scripts/ha-loopback.sh start [DIR] [NAME...]  start them (or only NAMEs) in the background,
#                                                 wait until each logs "postern ready"
#   scripts/ha-loopback.sh stop  [DIR] [NAME...]  SIGTERM the processes `start` recorded in DIR
#                                                 (by PID, nothing else), wait for them to exit
#   NAME: backend dmz1 dmz2 internal1 internal2
#
# DIR (default build/ha-loopback) receives NAME.log and NAME.pid. The test PKI (certificates for
# gateway.example.com, the DMZ members and the internal gateways, and the cluster key) is made
# by scripts/make-test-pki.sh into build/test-pki. POSTERN_BIN overrides build/postern;
# HA_CONFIG_DIR overrides config/ha-loopback.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${POSTERN_BIN:-$repo/build/postern}
configs=${HA_CONFIG_DIR:-$repo/config/ha-loopback}
pki=$repo/build/test-pki
all=(backend internal1 internal2 dmz1 dmz2)

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd=$1; shift
dir=$repo/build/ha-loopback
if [ $# -ge 1 ] && [[ $1 == */* || $1 == . ]]; then dir=$1; shift; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for n in "${names[@]}"; do
  [[ " ${all[*]} " == *" $n "* ]] || { echo "$0: unknown process '$n' (one of: ${all[*]})" >&2; exit 2; }
done

start_one() {
  local n=$1 pidfile=$dir/$1.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$n already running (pid $(cat "$pidfile"))"
    return
  fi
  : >"$dir/$n.log"
  "$bin" -c "$configs/$n.xml" -D "pki.dir=$pki" >>"$dir/$n.log" 2>&1 &
  echo $! >"$pidfile"
}

wait_ready() {
  local n=$1 deadline=$((SECONDS + 10))
  until grep -q 'postern ready' "$dir/$n.log"; do
    if ! kill -0 "$(cat "$dir/$n.pid")" 2>/dev/null; then
      echo "$0: $n exited; its log:" >&2
      cat "$dir/$n.log" >&2
      return 1
    fi
    [ $SECONDS -lt $deadline ] || { echo "$0: $n not ready after 10 s; see $dir/$n.log" >&2; return 1; }
    sleep 0.05
  done
  echo "$n ready (pid $(cat "$dir/$n.pid"), log $dir/$n.log)"
}

stop_one() {
  local n=$1 pidfile=$dir/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  # Exited (a zombie no longer counts: nothing may reap it soon once this shell has gone).
  for _ in $(seq 100); do
    case $(ps -o stat= -p "$pid" 2>/dev/null) in ''|Z*) echo "$n stopped"; return 0 ;; esac
    sleep 0.05
  done
  echo "$0: $n (pid $pid) still running after 10 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  [ -x "$bin" ] || { echo "$0: $bin not found (run make)" >&2; exit 1; }
  mkdir -p "$dir"
  "$repo/scripts/make-test-pki.sh" "$pki" >/dev/null
  for n in "${names[@]}"; do start_one "$n"; done
  for n in "${names[@]}"; do wait_ready "$n" || { for m in "${names[@]}"; do stop_one "$m"; done; exit 1; }; done
  # A DMZ member serves once its internal gateway has parked a reverse link there.
  for n in "${names[@]}"; do
    case $n in dmz*) ;; *) continue ;; esac
    local deadline=$((SECONDS + 10))
    until grep -q 'reverse link(s) parked' "$dir/$n.log"; do
      [ $SECONDS -lt $deadline ] || { echo "$n: no reverse link parked yet (is internal${n#dmz} running?)"; break; }
      sleep 0.05
    done
  done
  # Readiness reaches the balancers with the next heartbeats (every 200 ms).
  sleep 0.5
}

case $cmd in
  start) start ;;
  stop) for n in "${names[@]}"; do stop_one "$n"; done ;;
  run)
    start
    trap 'for n in "${names[@]}"; do stop_one "$n"; done; exit 0' INT TERM
    cat <<EOF

The HA topology runs. Clients reach wss://gateway.example.com:8443/app1 through the balancer
of either DMZ member (127.0.1.1 or 127.0.1.2), trusting $pki/ca.pem:
  scripts/ws-client.py wss://gateway.example.com:8443/app1 --at 127.0.1.1 --ca $pki/ca.pem --count 3
Kill an internal gateway to watch its DMZ member leave the balancers' choice:
  kill \$(cat $dir/internal2.pid)        # and bring it back: $0 start $dir internal2
Ctrl-C stops everything.
EOF
    while :; do sleep 1; done
    ;;
  *) usage ;;
esac
