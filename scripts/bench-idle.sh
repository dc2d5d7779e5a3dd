#!/usr/bin/env bash
# Memory per idle connection (issue 4, item 6): the gateway's RSS growth per idle WebSocket
# connection on its echo service (ws, then wss) and through its ws -> ws proxy, each measured
# on a fresh gateway process. Addresses 127.0.61.x only; stops what it started, by PID.
#   scripts/bench-idle.sh [WS_COUNT=10000] [WSS_COUNT=5000] [PROXY_COUNT=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
ws_n=${1:-10000}
wss_n=${2:-5000}
proxy_n=${3:-5000}
make -s build/postern
scripts/make-test-pki.sh build/test-pki >/dev/null
pki=$PWD/build/test-pki
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

cat >"$tmp/gateway.xml" <<XML
<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">
  <service><name>ws echo</name><accept>ws://127.0.61.1:8000/echo</accept><type>echo</type></service>
  <service><name>wss echo</name><accept>wss://localhost:8443/echo</accept><type>echo</type>
    <accept-options><tcp.bind>127.0.0.1:8443</tcp.bind></accept-options></service>
  <service><name>proxy</name><accept>ws://127.0.61.1:8100/echo</accept><connect>ws://127.0.61.2:8000/echo</connect>
    <type>proxy</type></service>
  <security><keystore><type>PEM</type><file>$pki/server.pem</file></keystore>
    <truststore><type>PEM</type><file>$pki/ca.pem</file></truststore></security>
</gateway-config>
XML
cat >"$tmp/backend.xml" <<XML
<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">
  <service><name>backend echo</name><accept>ws://127.0.61.2:8000/echo</accept><type>echo</type></service>
</gateway-config>
XML

start() {  # start CONFIG LOG: starts postern, waits until it is ready, sets $started
  build/postern --access-log off -c "$1" 2>"$2" &
  started=$!
  pids+=("$started")
  for _ in $(seq 100); do grep -q 'postern ready' "$2" && return 0; sleep 0.1; done
  echo "postern did not start:" >&2; cat "$2" >&2; exit 1
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

start "$tmp/backend.xml" "$tmp/backend.log"
measure() {  # measure URL N [extra args]
  start "$tmp/gateway.xml" "$tmp/gateway.log"
  /usr/bin/python3 scripts/idle_connections.py "$started" "$@"
  stop "$started"
}
measure ws://127.0.61.1:8000/echo "$ws_n"
measure wss://localhost:8443/echo "$wss_n" --ca "$pki/ca.pem"
measure ws://127.0.61.1:8100/echo "$proxy_n"
