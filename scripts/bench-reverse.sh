#!/usr/bin/env bash
# bench-reverse.sh: the cost of the reverse path (issue 6, item 6; results in docs/BENCHMARKS.md,
# "Reverse path (issue 6)"). One run measures, for the same client and the same backend:
#
#   direct      client -> backend                                      ws://127.0.52.2:8000/echo
#   proxy       client -> one postern ws->ws proxy -> backend          ws://127.0.52.1:8100/echo
#   reverse     client -> DMZ postern (proxy, connect-options socks.mode reverse,
#               http.transport socks://127.0.52.3:1452) -> reverse link -> internal postern
#               (accept-options socks.mode reverse, connect ws://backend) -> backend
#                                                                      ws://127.0.52.3:8200/echo
#   reverse-tls the same over socks+ssl://localhost:15252 (mutual TLS with build/test-pki:
#               dmz1.pem / internal1.pem, ca.pem; ssl.verify-client required on the DMZ)
#                                                                      ws://127.0.52.4:8200/echo
#
# The backend is postern's ws echo (one reactor). The client is build/postern-load, closed loop,
# every echo checked. The client always speaks plain ws:// to the first hop, so the rows differ
# only in the hops behind it.
#
# CPU layout (2 cores): CPU 0 runs the load generator, the backend and this script; CPU 1 runs
# every gateway (proxy, DMZ, internal; one reactor each). In the reverse rows both the DMZ and
# the internal gateway share CPU 1, so msgs/s there is what one core carrying both hops gives.
# Gateways not in use in a run sit idle (parked links only).
#
# Each configuration runs --repeat times; within a repetition the paths run one after another
# and their order rotates between repetitions. Reported: medians; ratios are taken within each
# repetition, then their median. CPU per message of each postern process: utime + stime from
# /proc/PID/stat over the measured window (0.5 s inside each end), divided by the messages
# echoed in that interval.
#
# Writes into build/bench-reverse/ (--out): configs/*.xml (the generated configs, and what
# postern --check says of each), reverse-<date>-runs.csv (every measurement), reverse-<date>.md
# (the table), reverse-<date>-meta.txt. Every process it starts is stopped by PID on exit,
# error or signal included.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-reverse.sh [options]
  --repeat N        repetitions (default 3); medians are reported
  --duration S      measured window of each load run, whole seconds (default 5)
  --warmup S        traffic before the window, whole seconds (default 1)
  --rows LIST       SIZE/CONNECTIONS/IN_FLIGHT, comma separated
                    (default 4096/100/8,64/100/8,4096/100/1,64/100/1)
  --paths LIST      any of direct,proxy,reverse,reverse-tls (default: all)
  --prepared N      the internal gateways' prepared.connection.count (default 32)
  --out DIR         output folder (default build/bench-reverse)
  --postern BIN     postern binary (default build/postern, built with make)
  --load BIN        load generator (default build/postern-load, built with make load)
  --nice N          niceness of every process started (default -10 as root, else 0)
  --no-build        do not run make
  -h, --help        this text
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repeat=3
duration=5
warmup=1
rows_arg="4096/100/8,64/100/8,4096/100/1,64/100/1"
paths_arg="direct,proxy,reverse,reverse-tls"
prepared=32
out_dir="$root/build/bench-reverse"
postern_bin=""
load_bin=""
nice_level=""
do_build=1

bench_prog=bench-reverse
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat=${2:?--repeat needs a value}; shift ;;
    --duration) duration=${2:?--duration needs a value}; shift ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift ;;
    --rows) rows_arg=${2:?--rows needs a value}; shift ;;
    --paths) paths_arg=${2:?--paths needs a value}; shift ;;
    --prepared) prepared=${2:?--prepared needs a value}; shift ;;
    --out) out_dir=${2:?--out needs a value}; shift ;;
    --postern) postern_bin=${2:?--postern needs a value}; shift ;;
    --load) load_bin=${2:?--load needs a value}; shift ;;
    --nice) nice_level=${2:?--nice needs a value}; shift ;;
    --no-build) do_build=0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
  shift
done

check_run_options
[[ "$prepared" =~ ^[1-9][0-9]*$ ]] || die "--prepared: '$prepared' is not a whole number above 0"
IFS=, read -r -a paths <<<"$paths_arg"
for p in "${paths[@]}"; do
  case "$p" in direct|proxy|reverse|reverse-tls) ;; *) die "--paths: unknown path '$p'" ;; esac
done
[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs (CPU 0: load and backend, CPU 1: the gateways)"
for tool in taskset ss timeout; do command -v "$tool" >/dev/null 2>&1 || die "needs $tool"; done
[ -x /usr/bin/python3 ] || die "needs /usr/bin/python3"

# ---------------------------------------------------------------------------------------------
# Binaries and the test PKI.

find_binaries
pki="$root/build/test-pki"
"$root/scripts/make-test-pki.sh" "$pki" >/dev/null || die "scripts/make-test-pki.sh $pki failed"

# ---------------------------------------------------------------------------------------------
# Processes: every one started is recorded and stopped by PID on exit.

taskset -cp 0 $$ >/dev/null
mkdir -p "$out_dir/configs" || die "cannot create $out_dir"
out_dir=$(cd "$out_dir" && pwd)
cfg="$out_dir/configs"
stamp=$(date +%Y-%m-%d-%H%M%S)
base="$out_dir/reverse-$stamp"
logs="$out_dir/logs-$stamp"
mkdir -p "$logs"
bench_logs=$logs
bench_log_hint="log in $logs"
tree_rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')
started=()

cleanup() {
  local rc=$?
  stop_all
  [ "$rc" -eq 0 ] || note "exit status $rc; gateway and load logs in $logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_links HOST PORT N PID NAME: at least N links established on the backplane within 15 s.
wait_links() {
  local host=$1 port=$2 n=$3 pid=$4 name=$5
  wait_established "$host" "$port" "$n" "$pid" 150 && return 0
  kill -0 "$pid" 2>/dev/null || die "$name exited (log in $logs)"
  die "$name: fewer than $n reverse links parked on $host:$port after 15 s (log in $logs)"
}

refuse_taken 127.0.52.1:8100 127.0.52.2:8000 127.0.52.3:8200 127.0.52.3:1452 127.0.52.4:8200 127.0.0.1:15252

# ---------------------------------------------------------------------------------------------
# Configs (kept in $cfg).

security_xml() {  # IDENTITY.pem
  printf '  <security>\n    <keystore><type>PEM</type><file>%s</file></keystore>\n' "$pki/$1"
  printf '    <truststore><type>PEM</type><file>%s</file></truststore>\n  </security>\n' "$pki/ca.pem"
}

cat >"$cfg/backend.xml" <<EOF
$xml_head
  <!-- The backend of every path: postern's ws echo, one reactor on CPU 0. -->
  <service>
    <name>backend echo</name>
    <accept>ws://127.0.52.2:8000/echo</accept>
    <type>echo</type>
  </service>
$(reactor_xml 0)
</gateway-config>
EOF

cat >"$cfg/proxy.xml" <<EOF
$xml_head
  <!-- Path "proxy": one ws -> ws proxy, one reactor on CPU 1. -->
  <service>
    <name>ws proxy</name>
    <accept>ws://127.0.52.1:8100/echo</accept>
    <connect>ws://127.0.52.2:8000/echo</connect>
    <type>proxy</type>
  </service>
$(reactor_xml 1)
</gateway-config>
EOF

# dmz_xml NAME ACCEPT_HOST LOGICAL TRANSPORT [SECURITY]
dmz_xml() {
  local tls_option=""
  [ -z "${5:-}" ] || tls_option="      <ssl.verify-client>required</ssl.verify-client>"
  cat <<EOF
$xml_head
  <!-- DMZ gateway: accepts clients, hands each to a reverse link parked by the internal
       gateway on its backplane ($4). Never dials anything. One reactor on CPU 1. -->
  <service>
    <name>$1</name>
    <accept>ws://$2:8200/echo</accept>
    <connect>$3</connect>
    <type>proxy</type>
    <connect-options>
      <http.transport>$4</http.transport>
      <socks.mode>reverse</socks.mode>
      <socks.timeout>10 seconds</socks.timeout>
$tls_option
    </connect-options>
  </service>
${5:-}
$(reactor_xml 1)
</gateway-config>
EOF
}

# internal_xml NAME LOGICAL TRANSPORT [SECURITY]
internal_xml() {
  cat <<EOF
$xml_head
  <!-- Internal gateway: opens no listener; dials $3 and keeps $prepared links parked there,
       serves each claimed link as an accepted client and proxies it to the backend.
       One reactor on CPU 1. -->
  <service>
    <name>$1</name>
    <accept>$2</accept>
    <connect>ws://127.0.52.2:8000/echo</connect>
    <type>proxy</type>
    <properties>
      <prepared.connection.count>$prepared</prepared.connection.count>
    </properties>
    <accept-options>
      <http.transport>$3</http.transport>
      <socks.mode>reverse</socks.mode>
      <socks.retry.maximum.interval>1 second</socks.retry.maximum.interval>
    </accept-options>
  </service>
${4:-}
$(reactor_xml 1)
</gateway-config>
EOF
}

dmz_xml "DMZ echo" 127.0.52.3 ws://app.internal:8300/echo socks://127.0.52.3:1452 >"$cfg/dmz.xml"
internal_xml "Internal echo" ws://app.internal:8300/echo socks://127.0.52.3:1452 >"$cfg/internal.xml"
# TLS: the backplane name must be in dmz1.pem's SANs (localhost, 127.0.1.x): localhost = 127.0.0.1.
dmz_xml "DMZ echo tls" 127.0.52.4 ws://app-tls.internal:8300/echo socks+ssl://localhost:15252 \
  "$(security_xml dmz1.pem)" >"$cfg/dmz-tls.xml"
internal_xml "Internal echo tls" ws://app-tls.internal:8300/echo socks+ssl://localhost:15252 \
  "$(security_xml internal1.pem)" >"$cfg/internal-tls.xml"

for c in backend proxy dmz internal dmz-tls internal-tls; do
  "$postern_bin" --check -c "$cfg/$c.xml" >"$cfg/$c.check" 2>&1 ||
    die "postern refuses $cfg/$c.xml: $(cat "$cfg/$c.check")"
done

# ---------------------------------------------------------------------------------------------
# Start.

need_path() { local p; for p in "${paths[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
declare -A pid_of
start_gateway() {  # NAME CPU: postern with the config $cfg/NAME.xml
  start_server "$1" "$2" "$postern_bin" --access-log off -c "$cfg/$1.xml"
}
start_gateway backend 0
wait_port 127.0.52.2 8000 "${pid_of[backend]}" "backend"
if need_path proxy; then
  start_gateway proxy 1
  wait_port 127.0.52.1 8100 "${pid_of[proxy]}" "proxy"
fi
if need_path reverse; then
  start_gateway dmz 1
  wait_port 127.0.52.3 8200 "${pid_of[dmz]}" "DMZ"
  start_gateway internal 1
  wait_links 127.0.52.3 1452 "$prepared" "${pid_of[internal]}" "internal"
fi
if need_path reverse-tls; then
  start_gateway dmz-tls 1
  wait_port 127.0.52.4 8200 "${pid_of[dmz-tls]}" "DMZ (tls)"
  start_gateway internal-tls 1
  wait_links 127.0.0.1 15252 "$prepared" "${pid_of[internal-tls]}" "internal (tls)"
fi

url_of() {
  case "$1" in
    direct) echo "ws://127.0.52.2:8000/echo" ;;
    proxy) echo "ws://127.0.52.1:8100/echo" ;;
    reverse) echo "ws://127.0.52.3:8200/echo" ;;
    reverse-tls) echo "ws://127.0.52.4:8200/echo" ;;
  esac
}
# The postern processes whose CPU is read in every run, in this order: backend, first hop, second hop.
procs_of() {
  case "$1" in
    direct) echo "backend" ;;
    proxy) echo "backend proxy" ;;
    reverse) echo "backend dmz internal" ;;
    reverse-tls) echo "backend dmz-tls internal-tls" ;;
  esac
}
backplane_of() {
  case "$1" in
    reverse) echo "127.0.52.3 1452" ;;
    reverse-tls) echo "127.0.0.1 15252" ;;
    *) echo "" ;;
  esac
}
clk_tck=$(getconf CLK_TCK)

runs="$base-runs.csv"
echo "rep,size,connections,in_flight,path,msgs_per_s,p50_us,p99_us,backend_cpu_us,hop1_cpu_us,hop2_cpu_us,cpu0_busy_percent,cpu1_busy_percent,client_cpu_percent,errors" >"$runs"

measure() {  # PATH SIZE CONNS IN_FLIGHT REP
  local path=$1 size=$2 conns=$3 inflight=$4 rep=$5
  local url host port json err load_pid i up=0 rc=0 names=() pids=() n t0 t1 b0 b1 c0=() c1=()
  url=$(url_of "$path")
  read -r host port <<<"$(url_host_port "$url")"
  json="$logs/run-$rep-$size-$conns-$inflight-$path.json"
  err="${json%.json}.err"
  read -r -a names <<<"$(procs_of "$path")"
  for n in "${names[@]}"; do pids+=("${pid_of[$n]}"); done
  start_load $((warmup + duration + 60)) "$url" "$conns" "$inflight" "$size" "$duration" "$json" "$err"
  if wait_established "$host" "$port" "$conns" "$load_pid" 300; then up=1; fi
  if [ "$up" = 1 ]; then
    sleep "$(awk -v w="$warmup" 'BEGIN { print w + 0.5 }')"
    t0=$EPOCHREALTIME; b0=$(cpu_busy)
    for n in "${pids[@]}"; do c0+=("$(ticks_of "$n")"); done
    sleep "$((duration - 1))"
    t1=$EPOCHREALTIME; b1=$(cpu_busy)
    for n in "${pids[@]}"; do c1+=("$(ticks_of "$n")"); done
  fi
  wait "$load_pid" || rc=$?
  forget "$load_pid"
  if [ "$rc" -ne 0 ] || [ ! -s "$json" ] || [ "$up" = 0 ]; then
    note "$path $size B/$conns/$inflight rep $rep: the load run failed (status $rc, all connections up: $up); see $err"
    echo "$rep,$size,$conns,$inflight,$path,,,,,,,,,,failed" >>"$runs"
    sleep 1
    return 0
  fi
  /usr/bin/python3 - "$json" "$t0" "$t1" "$clk_tck" "${c0[*]}" "${c1[*]}" "$b0" "$b1" \
    "$rep" "$size" "$conns" "$inflight" "$path" >>"$runs" <<'EOF'
import json, sys
path, t0, t1, tck = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
c0, c1 = [int(x) for x in sys.argv[5].split()], [int(x) for x in sys.argv[6].split()]
b0, b1 = [int(x) for x in sys.argv[7].split()], [int(x) for x in sys.argv[8].split()]
rep, size, conns, inflight, name = sys.argv[9:14]
r = json.load(open(path))
wall = t1 - t0
msgs = r["msgs_per_s"] * wall
per = [((b - a) / tck) * 1e6 / msgs if msgs > 0 else float("nan") for a, b in zip(c0, c1)]
per += [""] * (3 - len(per))
busy = [100 * (b - a) / tck / wall for a, b in zip(b0, b1)]
cell = lambda v: "" if v == "" else f"{v:.3f}"
print(f'{rep},{size},{conns},{inflight},{name},{r["msgs_per_s"]:.1f},{r["p50_us"]:.1f},{r["p99_us"]:.1f},'
      f'{cell(per[0])},{cell(per[1])},{cell(per[2])},{busy[0]:.1f},{busy[1]:.1f},{r["client_cpu_percent"]:.1f},{r["errors"]}')
EOF
  tail -1 "$runs" | awk -F, '{ printf "bench-reverse: rep %s %5s B %s conns %s in flight %-11s %9s msgs/s p50 %7s p99 %7s us; cpu-us/msg backend %s hop1 %s hop2 %s; cpu0 %s %% cpu1 %s %%; errors %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15 }' >&2
  # Let the closes finish and, for the reverse paths, the links be parked again.
  local bp
  bp=$(backplane_of "$path")
  if [ -n "$bp" ]; then
    for i in $(seq 100); do
      # shellcheck disable=SC2086
      [ "$(established $bp)" -le "$prepared" ] && break
      sleep 0.1
    done
  fi
  sleep 0.5
}

note "$((repeat * ${#rows[@]} * ${#paths[@]})) load runs of ${warmup} s + ${duration} s; output in $out_dir"
for rep in $(seq "$repeat"); do
  order=()
  for i in "${!paths[@]}"; do order+=("${paths[$(((i + rep - 1) % ${#paths[@]}))]}"); done
  for r in "${rows[@]}"; do
    IFS=/ read -r size conns inflight <<<"$r"
    for p in "${order[@]}"; do measure "$p" "$size" "$conns" "$inflight" "$rep"; done
  done
done

# Anything the gateways logged about links waited for or refused.
for n in dmz internal dmz-tls internal-tls; do
  [ -n "${pid_of[$n]:-}" ] || continue
  kill -0 "${pid_of[$n]}" 2>/dev/null || note "$n is no longer running (log in $logs/$n.log)"
done
stop_all

# ---------------------------------------------------------------------------------------------
# Report.

versions="$("$postern_bin" --version 2>/dev/null || echo 'postern ?') (work tree $tree_rev)"
command_line="scripts/bench-reverse.sh --repeat $repeat --duration $duration --warmup $warmup --rows $rows_arg --paths $paths_arg --prepared $prepared --nice $nice_level"
printf 'repeat=%s\nversions=%s\ncommand=%s\nmachine=%s\nloadavg_at_end=%s\n' "$repeat" "$versions" \
  "$command_line" "$(nproc --all) CPUs, $(uname -r)" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$base-meta.txt"

/usr/bin/python3 - "$runs" "$base.md" "$repeat" "$versions" "$command_line" <<'EOF'
import csv, math, statistics, sys
runs_path, out, repeat, versions, command_line = sys.argv[1:6]
order = ["direct", "proxy", "reverse", "reverse-tls"]
names = {"direct": "(a) client → backend", "proxy": "(b) client → proxy → backend",
         "reverse": "(c) client → DMZ → socks:// link → internal → backend",
         "reverse-tls": "(c′) the same over socks+ssl:// (mutual TLS)"}
cols = ["msgs_per_s", "p50_us", "p99_us", "backend_cpu_us", "hop1_cpu_us", "hop2_cpu_us",
        "cpu0_busy_percent", "cpu1_busy_percent"]
rows, by, failed, errors = [], {}, {}, {}
for r in csv.DictReader(open(runs_path)):
    key = (int(r["size"]), int(r["connections"]), int(r["in_flight"]))
    if key not in rows:
        rows.append(key)
    if r["errors"] == "failed":
        failed[(key, r["path"])] = failed.get((key, r["path"]), 0) + 1
        continue
    errors[(key, r["path"])] = errors.get((key, r["path"]), 0) + int(r["errors"])
    v = {c: (float(r[c]) if r[c] != "" else None) for c in cols}
    v["gw"] = (v["hop1_cpu_us"] or 0) + (v["hop2_cpu_us"] or 0) if v["hop1_cpu_us"] is not None else None
    by.setdefault((key, r["path"]), {})[r["rep"]] = v

def med(key, p, c):
    xs = [v[c] for v in by.get((key, p), {}).values() if v[c] is not None and not math.isnan(v[c])]
    return statistics.median(xs) if xs else None

def ratio(key, a, b, c):
    A, B = by.get((key, a), {}), by.get((key, b), {})
    rs = [A[r][c] / B[r][c] for r in A if r in B and A[r][c] is not None and B[r][c]]
    return f"{statistics.median(rs):.2f}×" if rs else "—"

def f(v, d):
    return "—" if v is None else f"{v:,.{d}f}"

def label(key):
    s, c, i = key
    return f"{'4 KiB' if s == 4096 else str(s) + ' B'}, {c} conns, {i} in flight"

md = ["| row | path | msgs/s | p50 µs | p99 µs | gateway CPU-µs/msg | backend CPU-µs/msg | "
      "msgs/s ÷ (a) | msgs/s ÷ (b) | p99 ÷ (a) | p99 ÷ (b) | gateway CPU/msg ÷ (b) | CPU 1 / CPU 0 busy % |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for key in rows:
    for p in order:
        if (key, p) not in by and (key, p) not in failed:
            continue
        name = names[p]
        if (key, p) in failed:
            name += f" ({failed[(key, p)]} runs failed)"
        if errors.get((key, p)):
            name += f" ({errors[(key, p)]} errors)"
        h1, h2, gw = med(key, p, "hop1_cpu_us"), med(key, p, "hop2_cpu_us"), med(key, p, "gw")
        if p == "direct":
            gcell = "—"
        elif p == "proxy":
            gcell = f(h1, 2)
        else:
            gcell = f"{f(h1, 2)} + {f(h2, 2)} = {f(gw, 2)}"
        md.append(f"| {label(key)} | {name} | {f(med(key, p, 'msgs_per_s'), 0)} | {f(med(key, p, 'p50_us'), 0)} | "
                  f"{f(med(key, p, 'p99_us'), 0)} | {gcell} | {f(med(key, p, 'backend_cpu_us'), 2)} | "
                  f"{'—' if p == 'direct' else ratio(key, p, 'direct', 'msgs_per_s')} | "
                  f"{ratio(key, p, 'proxy', 'msgs_per_s') if p.startswith('reverse') else '—'} | "
                  f"{'—' if p == 'direct' else ratio(key, p, 'direct', 'p99_us')} | "
                  f"{ratio(key, p, 'proxy', 'p99_us') if p.startswith('reverse') else '—'} | "
                  f"{ratio(key, p, 'proxy', 'gw') if p.startswith('reverse') else '—'} | "
                  f"{f(med(key, p, 'cpu1_busy_percent'), 0)} / {f(med(key, p, 'cpu0_busy_percent'), 0)} |")
legend = ["",
          f"Medians of {repeat} repetition(s), each column on its own; ratios within each repetition, then "
          "their median. Gateway CPU-µs/msg: utime + stime of the gateway process(es) over the measured window "
          "÷ messages echoed in it (reverse rows: DMZ + internal). CPU 1 runs every gateway, CPU 0 the load "
          "generator and the backend.", "", f"Versions: {versions}.", "", f"Command: `{command_line}`"]
open(out, "w").write("\n".join(md + legend) + "\n")
EOF

echo
cat "$base.md"
echo
echo "written: $base.md $runs $base-meta.txt; configs in $cfg; logs in $logs"
