#!/usr/bin/env bash
# bench-peers.sh: postern side by side with nginx and HAProxy, in one run, on one CPU layout.
#
# What it measures (issue 4, item 3; method in docs/BENCHMARKS.md):
#   ceiling rows   tcp-echo  postern's tcp:// echo, measured directly
#                  ws-echo   postern's ws:// echo, measured directly
#   proxy rows     nginx, haproxy, postern: ws -> ws proxying in front of the same backend,
#                  postern's own ws echo
# for 64 B and 4 KiB messages, 100 and 1,000 connections, 1 and 8 messages in flight.
#
# CPU layout, the same for every row: the load generator (build/postern-load), the backend
# echo and this script on CPU 0; the server under test (proxy, or the echo of a ceiling row)
# alone on CPU 1 with one worker / thread / reactor. Every server listens on 127.0.50.x only.
#
# Each configuration runs --repeat times (default 3); the peers are interleaved within each
# repetition (their order rotates from one repetition to the next) and the report gives the
# median of each column. The server's own CPU time (utime + stime of every process of it, from
# /proc/PID/stat) is read before and after the measured window: CPU-us per message is that
# time divided by the messages echoed in the same interval.
#
# Writes build/bench/peers-<date>.md (table), .csv (the same, machine-readable), -runs.csv
# (every single measurement) and .png (gnuplot chart); prints the table at the end.
#
# nginx-light, haproxy and gnuplot-nox are installed with apt-get when missing, never started or
# enabled as system services: each proxy runs in the foreground, from a config written into a
# temporary folder, and every process this script starts is stopped by PID when it exits.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-peers.sh [options]
  --quick            smoke run: 100 connections, 8 in flight, 64 B and 4 KiB, --duration 3
                     --warmup 1 --repeat 1 (later options still win)
  --repeat N         repetitions of every configuration (default 3); medians are reported
  --duration S       measured window of each load run, whole seconds (default 10)
  --warmup S         traffic before the window, whole seconds (default 2)
  --rows LIST        configurations as SIZE/CONNECTIONS/IN_FLIGHT, comma separated
                     (default: every combination of 64,4096 / 100,1000 / 1,8)
  --peers LIST       any of tcp-echo,ws-echo,nginx,haproxy,postern (default: all, in this order)
  --strace           after the table, count postern's (and nginx's, HAProxy's) system calls
                     per message with strace -c -f during a 5 s load (first row of --rows),
                     then with perf stat (system calls, io_uring requests and completions)
                     in another 5 s load, where perf is installed
  --out DIR          where the report goes (default build/bench-peers; build/bench is make
                     bench's binary)
  --postern BIN      postern binary (default: build/postern, built with make)
  --load BIN         load generator (default: build/postern-load, built with make load)
  --nginx-buffer B   nginx's proxy_buffer_size (default 16k, HAProxy's default tune.bufsize;
                     nginx's own default is one page, 4k, which splits every 4 KiB frame in two
                     reads); 'default' leaves nginx's default
  --nice N           niceness of every process started (default -10 as root, else 0), so that
                     other work on a shared machine disturbs the measurements less
  --no-build         do not run make; use the binaries as they are
  --report RUNS      only render the report again from a saved BASE-runs.csv and its
                     BASE-meta.txt: rewrites BASE.md, BASE.csv and BASE.png, measures nothing
  --no-install       do not apt-get install missing packages; fail if one is missing
  -h, --help         this text
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repeat=3
duration=10
warmup=2
rows_arg=""
peers_arg="tcp-echo,ws-echo,nginx,haproxy,postern"
do_strace=0
out_dir="$root/build/bench-peers"
postern_bin=""
load_bin=""
do_build=1
do_install=1
report_from=""
nice_level=""
nginx_buffer=16k

bench_prog=bench-peers
# shellcheck source=scripts/bench-lib.sh
source "$root/scripts/bench-lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) rows_arg="64/100/8,4096/100/8"; duration=3; warmup=1; repeat=1 ;;
    --repeat) repeat=${2:?--repeat needs a value}; shift ;;
    --duration) duration=${2:?--duration needs a value}; shift ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift ;;
    --rows) rows_arg=${2:?--rows needs a value}; shift ;;
    --peers) peers_arg=${2:?--peers needs a value}; shift ;;
    --strace) do_strace=1 ;;
    --out) out_dir=${2:?--out needs a value}; shift ;;
    --postern) postern_bin=${2:?--postern needs a value}; shift ;;
    --load) load_bin=${2:?--load needs a value}; shift ;;
    --nginx-buffer) nginx_buffer=${2:?--nginx-buffer needs a value}; shift ;;
    --nice) nice_level=${2:?--nice needs a value}; shift ;;
    --no-build) do_build=0 ;;
    --no-install) do_install=0 ;;
    --report) report_from=${2:?--report needs a value}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
  shift
done

[ -n "$rows_arg" ] || rows_arg="64/100/1,64/100/8,64/1000/1,64/1000/8,4096/100/1,4096/100/8,4096/1000/1,4096/1000/8"
check_run_options
IFS=, read -r -a peers <<<"$peers_arg"
for p in "${peers[@]}"; do
  case "$p" in tcp-echo|ws-echo|nginx|haproxy|postern) ;; *) die "--peers: unknown peer '$p'" ;; esac
done
[[ "$nginx_buffer" =~ ^(default|[1-9][0-9]*[kKmM]?)$ ]] || die "--nginx-buffer: '$nginx_buffer' is not a size such as 16k, nor 'default'"
nginx_buffers=""
if [ "$nginx_buffer" != default ]; then
  nginx_buffers="proxy_buffer_size $nginx_buffer; proxy_buffers 4 $nginx_buffer;"
fi
[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPUs (CPU 0: load and backend, CPU 1: the server under test)"

# render_report BASE: from BASE-runs.csv (every measurement) and BASE-meta.txt (repeat, versions,
# command, machine), writes BASE.md (the table), BASE.csv (the same), BASE.dat and BASE.gp
# (the chart's data and gnuplot script) and BASE.png. Medians per (row, peer); ratios within
# each repetition, then their median.
# (The body is not indented: its here-documents end at column 0.)
render_report() {
local out_base=$1 reps vers cmd machine
reps=$(sed -n 's/^repeat=//p' "$out_base-meta.txt")
vers=$(sed -n 's/^versions=//p' "$out_base-meta.txt")
cmd=$(sed -n 's/^command=//p' "$out_base-meta.txt")
machine=$(sed -n 's/^machine=//p' "$out_base-meta.txt")
/usr/bin/python3 - "$out_base-runs.csv" "$out_base" "$reps" "$vers" "$cmd" "$machine" <<'EOF'
import csv, math, statistics, sys
runs_path, base, repeat, versions, command_line, machine = sys.argv[1:7]
peer_order = ["tcp-echo", "ws-echo", "nginx", "haproxy", "postern"]
names = {"tcp-echo": "tcp echo (ceiling)", "ws-echo": "postern ws echo (ceiling)",
         "nginx": "nginx", "haproxy": "HAProxy", "postern": "postern"}
cols = ["msgs_per_s", "mb_per_s", "p50_us", "p99_us", "cpu_us_per_msg", "server_cpu_percent",
        "server_sys_share_percent", "cpu1_busy_percent", "cpu0_busy_percent", "client_cpu_percent"]
data, failed, errors, rows, by_rep = {}, {}, {}, [], {}
for r in csv.DictReader(open(runs_path)):
    key = (int(r["size"]), int(r["connections"]), int(r["in_flight"]))
    if key not in rows:
        rows.append(key)
    d = data.setdefault(key, {}).setdefault(r["peer"], {c: [] for c in cols})
    if r["errors"] == "failed":
        failed[(key, r["peer"])] = failed.get((key, r["peer"]), 0) + 1
        continue
    errors[(key, r["peer"])] = errors.get((key, r["peer"]), 0) + int(r["errors"])
    by_rep.setdefault((key, r["peer"]), {})[r["rep"]] = {c: float(r[c]) for c in cols}
    for c in cols:
        v = float(r[c])
        if not math.isnan(v):
            d[c].append(v)

def med(key, peer, col):
    v = data.get(key, {}).get(peer, {}).get(col, [])
    return statistics.median(v) if v else None

def label(key):
    size, conns, inflight = key
    return f"{'4 KiB' if size == 4096 else str(size) + ' B'}, {conns} conns, {inflight} in flight"

def fmt(v, digits):
    return "n/a" if v is None else f"{v:,.{digits}f}"

# The ratio of a over b within each repetition (the two ran minutes apart at most, on the same
# machine weather), then the median of those ratios.
def ratio(key, a_peer, b_peer, col):
    a, b = by_rep.get((key, a_peer), {}), by_rep.get((key, b_peer), {})
    rs = [a[r][col] / b[r][col] for r in a if r in b and b[r][col] > 0 and not math.isnan(a[r][col])]
    return f"{statistics.median(rs):.2f}×" if rs else "n/a"

md = ["| row | peer | msgs/s | MB/s | p50 µs | p99 µs | server CPU-µs/msg | msgs/s: postern ÷ peer | "
      "CPU/msg: postern ÷ peer | CPU %: server / CPU 1 / CPU 0 |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
out_csv = [["size", "connections", "in_flight", "peer", "runs"] + cols + ["errors", "postern_msgs_ratio",
                                                                      "postern_cpu_ratio"]]
chart = []
notes = []
for key in rows:
    peers = [p for p in peer_order if p in data[key]]
    for p in peers:
        m = {c: med(key, p, c) for c in cols}
        if p in ("nginx", "haproxy"):
            ref = "postern"
        elif p == "tcp-echo":
            ref = "ws-echo"   # the ceiling line: postern's ws echo against the raw TCP echo
        else:
            ref = None
        mr = ratio(key, ref, p, "msgs_per_s") if ref else "—"
        cr = ratio(key, ref, p, "cpu_us_per_msg") if ref else "—"
        n = len(data[key][p]["msgs_per_s"])
        name = names[p]
        if (key, p) in failed:
            name += f" ({failed[(key, p)]} of {failed[(key, p)] + n} runs failed)"
        if errors.get((key, p), 0):
            name += f" ({errors[(key, p)]} errors)"
        md.append(f"| {label(key)} | {name} | {fmt(m['msgs_per_s'], 0)} | {fmt(m['mb_per_s'], 1)} | "
                  f"{fmt(m['p50_us'], 0)} | {fmt(m['p99_us'], 0)} | {fmt(m['cpu_us_per_msg'], 2)} | {mr} | {cr} | "
                  f"{fmt(m['server_cpu_percent'], 0)} / {fmt(m['cpu1_busy_percent'], 0)} / "
                  f"{fmt(m['cpu0_busy_percent'], 0)} |")
        out_csv.append([*key, p, n] + ["" if m[c] is None else f"{m[c]:.3f}" for c in cols] +
                       [errors.get((key, p), 0), mr.rstrip("×").replace("—", ""), cr.rstrip("×").replace("—", "")])
    chart.append((key, {p: (med(key, p, "msgs_per_s"), med(key, p, "cpu_us_per_msg")) for p in peer_order}))

legend = [
    "",
    f"Medians of {repeat} run(s) per line, each column on its own. Server CPU-µs/msg: user + system CPU "
    "time of the server under test (the proxy; for the ceiling lines the echo itself) over the measured "
    "window, divided by the messages echoed in it. Ratio columns: postern's proxy ÷ that line's peer "
    "(for the tcp echo line: postern's ws echo ÷ the tcp echo), taken within each repetition and then "
    "the median of those; below 1× is better for CPU/msg, above 1× for msgs/s. CPU %: the server's own CPU use; all that CPU 1 (where the server runs alone) and "
    "CPU 0 (load generator and backend) were busy, interrupts, softirqs and other processes included. "
    "CPU 0 near 100 % means the load side was the bottleneck; CPU 1 well above the server's share "
    "means something else ran there or the kernel did work not charged to the server.",
    "",
    f"Machine: {machine}. Versions: {versions}.",
    "",
    f"Command: `{command_line}`",
]
with open(base + ".md", "w") as f:
    f.write("\n".join(md + legend) + "\n")
with open(base + ".csv", "w", newline="") as f:
    csv.writer(f).writerows(out_csv)
with open(base + ".dat", "w") as f:
    f.write("# row " + " ".join(f"{p}_msgs {p}_cpu" for p in peer_order) + "\n")
    for key, vals in chart:
        size, conns, inflight = key
        lab = f'"{"4K" if size == 4096 else str(size) + "B"}/{conns}/{inflight}"'
        cells = []
        for p in peer_order:
            a, b = vals[p]
            cells += ["-" if a is None else f"{a / 1000:.3f}", "-" if b is None else f"{b:.3f}"]
        f.write(lab + " " + " ".join(cells) + "\n")
EOF

local nrows
nrows=$(grep -vc '^#' "$out_base.dat" || true)
cat >"$out_base.gp" <<EOF
set terminal pngcairo size 1200,900 font "sans,10"
set output "$out_base.png"
set datafile missing "-"
set xrange [-0.5:$nrows - 0.5]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top vertical
set xtics nomirror
set multiplot layout 2,1 title "postern, nginx and HAProxy: ws -> ws proxy, one core each (CPU 1); medians of $reps run(s)\nrow: message size / connections / in flight"
set ylabel "thousand msgs/s (higher is better)"
set yrange [0:*]
plot "$out_base.dat" using 2:xtic(1) title "tcp echo (ceiling)" lc rgb "#bbbbbb", \
     "" using 4 title "ws echo (ceiling)" lc rgb "#888888", \
     "" using 6 title "nginx" lc rgb "#2ca02c", \
     "" using 8 title "HAProxy" lc rgb "#1f77b4", \
     "" using 10 title "postern" lc rgb "#d62728"
set ylabel "server CPU-µs per message (lower is better)"
plot "$out_base.dat" using 3:xtic(1) title "tcp echo (ceiling)" lc rgb "#bbbbbb", \
     "" using 5 title "ws echo (ceiling)" lc rgb "#888888", \
     "" using 7 title "nginx" lc rgb "#2ca02c", \
     "" using 9 title "HAProxy" lc rgb "#1f77b4", \
     "" using 11 title "postern" lc rgb "#d62728"
unset multiplot
EOF
if ! gnuplot "$out_base.gp" 2>"$out_base.gnuplot-errors"; then
  sed -i 's/^set terminal pngcairo.*/set terminal png size 1200,900/' "$out_base.gp"
  gnuplot "$out_base.gp" 2>"$out_base.gnuplot-errors" || note "gnuplot failed: $(cat "$out_base.gnuplot-errors")"
fi
rm -f "$out_base.gnuplot-errors"
}

if [ -n "$report_from" ]; then
  [[ "$report_from" == *-runs.csv ]] || die "--report: '$report_from' is not a file named BASE-runs.csv"
  [ -f "$report_from" ] || die "--report: no file $report_from"
  [ -f "${report_from%-runs.csv}-meta.txt" ] || die "--report: ${report_from%-runs.csv}-meta.txt is missing"
  if ! command -v gnuplot >/dev/null 2>&1 || [ ! -x /usr/bin/python3 ]; then
    die "--report needs gnuplot and /usr/bin/python3"
  fi
  render_report "${report_from%-runs.csv}"
  cat "${report_from%-runs.csv}.md"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Packages: installed only when missing, never started or enabled as services.


install_missing() {
  local missing=() p
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
  [ -x /usr/bin/python3 ] || missing+=(python3)
  command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  [ "$do_strace" = 0 ] || command -v strace >/dev/null 2>&1 || missing+=(strace)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$do_install" = 1 ] || die "missing packages: ${missing[*]} (run without --no-install, or apt-get install them)"
  local apt=()
  if [ "$(id -u)" -eq 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo apt-get)
  else
    die "cannot install ${missing[*]} (not root, no password-less sudo): run as root: apt-get install -y ${missing[*]}"
  fi
  note "installing missing Debian packages: ${missing[*]}"
  # A policy-rc.d that answers 101 keeps the packages' maintainer scripts from starting the
  # services (invoke-rc.d(8)); one that is already there is left as it is.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
    printf '#!/bin/sh\n# bench-peers.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local ok=1
  if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${apt[@]}" update -qq >/dev/null 2>&1 || true
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" || ok=0
  fi
  [ "$made_policy" = 0 ] || rm -f "$policy"
  [ "$ok" = 1 ] || die "apt-get could not install: ${missing[*]}"
  # Not enabled at boot either (the packages enable their units when they are installed).
  for p in nginx haproxy; do
    if [[ " ${missing[*]} " == *" $p"* ]]; then
      deb-systemd-helper disable "$p.service" >/dev/null 2>&1 || true
      update-rc.d "$p" disable >/dev/null 2>&1 || true
    fi
  done
  note "packages installed"
}
install_missing

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
haproxy_bin=$(command -v haproxy || echo /usr/sbin/haproxy)

# ---------------------------------------------------------------------------------------------
# Binaries.

find_binaries

# ---------------------------------------------------------------------------------------------
# Processes: every one this script starts is recorded and stopped by PID on exit.

# This script and everything it starts from here on live on CPU 0, away from the server under
# test; each server is then moved explicitly with taskset.
taskset -cp 0 $$ >/dev/null

mkdir -p "$out_dir" || die "cannot create the output folder $out_dir"
out_dir=$(cd "$out_dir" && pwd)
stamp=$(date +%Y-%m-%d-%H%M%S)
base="$out_dir/peers-$stamp"
tree_rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')
tmp=$(mktemp -d /tmp/bench-peers.XXXXXX)
chmod 755 "$tmp"
bench_logs=$tmp
bench_log_hint="logs in $tmp"
started=()

cleanup() {
  local rc=$?
  stop_all
  if [ "$rc" -ne 0 ] && [ -d "$tmp" ]; then
    note "exit status $rc; logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

refuse_taken 127.0.50.1:8100 127.0.50.1:8101 127.0.50.1:8102 127.0.50.2:8000 127.0.50.3:8000 127.0.50.3:8001

# The backend of every proxy row: postern's ws echo, one reactor on CPU 0.
cat >"$tmp/backend.xml" <<EOF
$xml_head
  <service>
    <name>backend echo</name>
    <accept>ws://127.0.50.2:8000/echo</accept>
    <type>echo</type>
  </service>
$(reactor_xml 0)
</gateway-config>
EOF

# The ceiling rows: postern's tcp and ws echo as the server under test, one reactor on CPU 1.
cat >"$tmp/ceiling.xml" <<EOF
$xml_head
  <service>
    <name>ws echo</name>
    <accept>ws://127.0.50.3:8000/echo</accept>
    <type>echo</type>
  </service>
  <service>
    <name>tcp echo</name>
    <accept>tcp://127.0.50.3:8001</accept>
    <type>echo</type>
  </service>
$(reactor_xml 1)
</gateway-config>
EOF

# postern as the ws -> ws proxy under test.
cat >"$tmp/postern-proxy.xml" <<EOF
$xml_head
  <service>
    <name>ws proxy</name>
    <accept>ws://127.0.50.1:8100/echo</accept>
    <connect>ws://127.0.50.2:8000/echo</connect>
    <type>proxy</type>
  </service>
$(reactor_xml 1)
</gateway-config>
EOF

mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
# One worker on CPU 1 (bit mask 10), WebSocket proxying as nginx's documentation gives it.
worker_processes 1;
worker_cpu_affinity 10;
worker_rlimit_nofile 16384;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
  worker_connections 8192;
}
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.50.1:8101 backlog=4096;
    location / {
      proxy_pass http://127.0.50.2:8000;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host \$host;
      proxy_buffering off;
      $nginx_buffers
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
EOF

cat >"$tmp/haproxy.cfg" <<EOF
# One thread on CPU 1; HTTP mode, the upgraded connection runs under 'timeout tunnel'.
global
  nbthread 1
  cpu-map 1/1 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend ws_in
  bind 127.0.50.1:8102
  default_backend ws_echo
backend ws_echo
  server echo 127.0.50.2:8000
EOF

for cfg in backend ceiling postern-proxy; do
  "$postern_bin" --check -c "$tmp/$cfg.xml" >"$tmp/$cfg.check" 2>&1 ||
    die "postern refuses $tmp/$cfg.xml: $(cat "$tmp/$cfg.check")"
done
"$nginx_bin" -t -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx/check" 2>&1 ||
  die "nginx refuses its config: $(cat "$tmp/nginx/check")"
"$haproxy_bin" -c -f "$tmp/haproxy.cfg" >"$tmp/haproxy.check" 2>&1 ||
  die "haproxy refuses its config: $(cat "$tmp/haproxy.check")"

declare -A pid_of

start_server backend 0 "$postern_bin" --access-log off -c "$tmp/backend.xml"
wait_port 127.0.50.2 8000 "${pid_of[backend]}" "postern (backend echo)"
need_peer() {
  local p
  for p in "${peers[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}
if need_peer tcp-echo || need_peer ws-echo; then
  start_server ceiling 1 "$postern_bin" --access-log off -c "$tmp/ceiling.xml"
  wait_port 127.0.50.3 8000 "${pid_of[ceiling]}" "postern (ceiling echo)"
  wait_port 127.0.50.3 8001 "${pid_of[ceiling]}" "postern (ceiling echo)"
fi
if need_peer postern; then
  start_server postern 1 "$postern_bin" --access-log off -c "$tmp/postern-proxy.xml"
  wait_port 127.0.50.1 8100 "${pid_of[postern]}" "postern (proxy)"
fi
if need_peer nginx; then
  start_server nginx 1 "$nginx_bin" -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" -g 'daemon off;'
  wait_port 127.0.50.1 8101 "${pid_of[nginx]}" "nginx"
fi
if need_peer haproxy; then
  start_server haproxy 1 "$haproxy_bin" -f "$tmp/haproxy.cfg" -db
  wait_port 127.0.50.1 8102 "${pid_of[haproxy]}" "haproxy"
fi

# The processes whose CPU time counts for a peer: the server and its children (nginx's worker).
server_of() {
  case "$1" in
    tcp-echo|ws-echo) echo ceiling ;;
    *) echo "$1" ;;
  esac
}
server_pids() {
  local pid=${pid_of[$(server_of "$1")]} t c
  echo "$pid"
  for t in /proc/"$pid"/task/*/children; do
    for c in $(cat "$t" 2>/dev/null || true); do echo "$c"; done
  done
}
url_of() {
  case "$1" in
    tcp-echo) echo "tcp://127.0.50.3:8001" ;;
    ws-echo) echo "ws://127.0.50.3:8000/echo" ;;
    nginx) echo "ws://127.0.50.1:8101/echo" ;;
    haproxy) echo "ws://127.0.50.1:8102/echo" ;;
    postern) echo "ws://127.0.50.1:8100/echo" ;;
  esac
}
clk_tck=$(getconf CLK_TCK)

runs="$tmp/runs.csv"
echo "rep,size,connections,in_flight,peer,msgs_per_s,mb_per_s,p50_us,p99_us,cpu_us_per_msg,server_cpu_percent,server_sys_share_percent,cpu1_busy_percent,cpu0_busy_percent,client_cpu_percent,errors" >"$runs"

# measure PEER SIZE CONNECTIONS IN_FLIGHT REP [DURATION]: one bounded load run; appends a line to
# $runs. The server's CPU is read over [window start + margin, window end - margin], found from
# the moment every connection is established on the listener (the load generator's warmup
# starts then), and divided by msgs/s times the length of that interval.
measure() {
  local peer=$1 size=$2 conns=$3 inflight=$4 rep=$5 dur=${6:-$duration}
  local url host port json err load_pid
  url=$(url_of "$peer")
  read -r host port <<<"$(url_host_port "$url")"
  json="$tmp/run-$rep-$size-$conns-$inflight-$peer.json"
  err="${json%.json}.err"
  start_load $((warmup + dur + 90)) "$url" "$conns" "$inflight" "$size" "$dur" "$json" "$err"
  local up=0
  # Up to 60 s for every connection to be open.
  if wait_established "$host" "$port" "$conns" "$load_pid" 600; then up=1; fi
  local margin t0 t1 c0 c1 pids busy0 busy1
  margin=$(awk -v d="$dur" 'BEGIN { m = d / 10; if (m > 0.5) m = 0.5; print m }')
  mapfile -t pids < <(server_pids "$peer")
  if [ "$up" = 1 ]; then
    sleep "$(awk -v w="$warmup" -v m="$margin" 'BEGIN { print w + m }')"
    t0=$EPOCHREALTIME; c0=$(cpu_ticks "${pids[@]}"); busy0=$(cpu_busy)
    sleep "$(awk -v d="$dur" -v m="$margin" 'BEGIN { print d - 2 * m }')"
    t1=$EPOCHREALTIME; c1=$(cpu_ticks "${pids[@]}"); busy1=$(cpu_busy)
  fi
  local rc=0
  wait "$load_pid" || rc=$?
  forget "$load_pid"
  if [ "$rc" -ne 0 ] || [ ! -s "$json" ] || [ "$up" = 0 ]; then
    note "$peer $size B/$conns/$inflight: the load run failed (status $rc, all connections up: $up)"
    grep -v '^postern-load  *[0-9.]*s ' "$err" | head -8 | sed 's/^/  | /' >&2 || true
    # Kept beside the report: the load generator's output and the server's log.
    mkdir -p "$base-failures"
    cp "$err" "$base-failures/$(basename "$err")"
    cp "$tmp/$(server_of "$peer").log" "$base-failures/$(basename "${err%.err}").server.log" 2>/dev/null || true
    [ "$peer" != nginx ] || cp "$tmp/nginx/error.log" "$base-failures/$(basename "${err%.err}").nginx-error.log" 2>/dev/null || true
    echo "$rep,$size,$conns,$inflight,$peer,,,,,,,,,,,failed" >>"$runs"
    return 0
  fi
  /usr/bin/python3 - "$json" "$t0" "$t1" "$c0" "$c1" "$clk_tck" "$rep" "$size" "$conns" "$inflight" "$peer" \
    "$busy0" "$busy1" >>"$runs" <<'EOF'
import json, sys
path, t0, t1, tck = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[6])
(u0, s0), (u1, s1) = [int(x) for x in sys.argv[4].split()], [int(x) for x in sys.argv[5].split()]
c0, c1 = u0 + s0, u1 + s1
sys_share = 100 * (s1 - s0) / (c1 - c0) if c1 > c0 else float("nan")
rep, size, conns, inflight, peer = sys.argv[7:12]
busy_before, busy_after = [int(x) for x in sys.argv[12].split()], [int(x) for x in sys.argv[13].split()]
busy = [100 * (a - b) / tck / (t1 - t0) for a, b in zip(busy_after, busy_before)]
r = json.load(open(path))
wall = t1 - t0
cpu_s = (c1 - c0) / tck
msgs = r["msgs_per_s"] * wall
cpu_us = cpu_s * 1e6 / msgs if msgs > 0 else float("nan")
print(f'{rep},{size},{conns},{inflight},{peer},{r["msgs_per_s"]:.1f},{r["mb_per_s"]:.3f},{r["p50_us"]:.1f},'
      f'{r["p99_us"]:.1f},{cpu_us:.3f},{100 * cpu_s / wall:.1f},{sys_share:.1f},{busy[1]:.1f},{busy[0]:.1f},'
      f'{r["client_cpu_percent"]:.1f},{r["errors"]}')
EOF
  tail -1 "$runs" | awk -F, '{ printf "bench-peers: rep %s  %5s B %4s conns %s in flight  %-8s  %9s msgs/s  p99 %7s us  %7s cpu-us/msg  (server %s %% (%s %% sys), cpu1 %s %%, cpu0 %s %%, load %s %%, errors %s)\n", $1, $2, $3, $4, $5, $6, $9, $10, $11, $12, $13, $14, $15, $16 }' >&2
  sleep 0.5  # let the closes of this run finish before the next one
}

total=$((repeat * ${#rows[@]} * ${#peers[@]}))
note "$total load runs of ${warmup} s + ${duration} s; results in $out_dir"
for rep in $(seq "$repeat"); do
  # Rotate the peers' order from one repetition to the next.
  order=()
  for i in "${!peers[@]}"; do order+=("${peers[$(((i + rep - 1) % ${#peers[@]}))]}"); done
  for r in "${rows[@]}"; do
    IFS=/ read -r size conns inflight <<<"$r"
    for peer in "${order[@]}"; do
      measure "$peer" "$size" "$conns" "$inflight" "$rep"
    done
  done
done

# ---------------------------------------------------------------------------------------------
# System calls per message (--strace), for the proxies on the first row of --rows: one load run
# per proxy with strace -c -f attached for 5 s of its measured window (strace slows the traced
# process, so its own message count is used), then, where perf is installed, one more with
# perf stat counting system calls and io_uring requests and completions (no slowdown): an
# io_uring request is a receive or send the kernel does without a system call of its own.

# traced_run PEER TOOL OUT: a load run of 5 s on PEER with TOOL (strace or perf) attached to the
# server's processes over the window; prints the messages echoed in that window.
traced_run() {
  local peer=$1 tool=$2 out=$3 url host port json load_pid tool_pid p pids attach=()
  url=$(url_of "$peer")
  read -r host port <<<"$(url_host_port "$url")"
  json="$tmp/$tool-$peer.json"
  start_load $((warmup + 5 + 90)) "$url" "$conns" "$inflight" "$size" 5 "$json" "$tmp/$tool-$peer.err"
  wait_established "$host" "$port" "$conns" "$load_pid" 600 || true
  sleep "$warmup"
  mapfile -t pids < <(server_pids "$peer")
  if [ "$tool" = strace ]; then
    for p in "${pids[@]}"; do attach+=(-p "$p"); done
    timeout --signal=INT --kill-after=5 5 strace -c -f "${attach[@]}" -o "$out" 2>/dev/null &
  else
    timeout --signal=INT --kill-after=5 10 perf stat -x, -o "$out" \
      -e raw_syscalls:sys_enter,io_uring:io_uring_submit_req,io_uring:io_uring_complete \
      -p "$(IFS=,; echo "${pids[*]}")" -- sleep 5 >/dev/null 2>&1 &
  fi
  tool_pid=$!
  started+=("$tool_pid")
  wait "$tool_pid" || true
  wait "$load_pid" || true
  forget "$tool_pid"
  forget "$load_pid"
  [ -s "$json" ] && json_field "$json" messages
}

strace_report=""
if [ "$do_strace" = 1 ]; then
  IFS=/ read -r size conns inflight <<<"${rows[0]}"
  strace_report="$tmp/strace.txt"
  : >"$strace_report"
  for peer in postern nginx haproxy; do
    need_peer "$peer" || continue
    out="$tmp/strace-$peer.out"
    msgs=$(traced_run "$peer" strace "$out" || true)
    if [ -n "$msgs" ] && [ -s "$out" ]; then
      calls=$(awk '$NF == "total" { print $4 }' "$out")
      {
        echo "## $peer: $size B, $conns connections, $inflight in flight, strace -c -f for 5 s"
        echo "messages echoed in the 5 s window: $msgs; system calls traced: ${calls:-?}"
        awk -v m="$msgs" -v c="$calls" 'BEGIN { if (m > 0 && c > 0) printf "system calls per message: %.3f\n", c / m }'
        echo '```'
        cat "$out"
        echo '```'
      } >>"$strace_report"
    else
      echo "## $peer: the strace run failed" >>"$strace_report"
    fi
    sleep 0.5
    if command -v perf >/dev/null 2>&1; then
      out="$tmp/perf-$peer.out"
      msgs=$(traced_run "$peer" perf "$out" || true)
      if [ -n "$msgs" ] && [ -s "$out" ]; then
        awk -F, -v m="$msgs" '
          $3 == "raw_syscalls:sys_enter" { sc = $1 } $3 == "io_uring:io_uring_submit_req" { rq = $1 }
          $3 == "io_uring:io_uring_complete" { cq = $1 }
          END {
            printf "perf stat over 5 s of another run: %d messages; per message: %.3f system calls, ", m, sc / m
            printf "%.3f io_uring requests, %.3f io_uring completions\n\n", rq / m, cq / m
          }' "$out" >>"$strace_report"
      else
        printf 'perf stat run failed\n\n' >>"$strace_report"
      fi
      sleep 0.5
    fi
  done
fi

# ---------------------------------------------------------------------------------------------
# Report: medians per (row, peer), ratios, markdown, csv, chart.

cp "$runs" "$base-runs.csv"

if [ "$postern_bin" = "$root/build/postern" ] && [ "$do_build" = 1 ]; then
  postern_from="built from the work tree at $tree_rev"
else
  postern_from="$postern_bin, built $(date -u -r "$postern_bin" +%Y-%m-%dT%H:%MZ)"
fi
versions="$("$postern_bin" --version 2>/dev/null || echo 'postern ?') ($postern_from), $("$nginx_bin" -v 2>&1 | sed 's/.*version: //'), $("$haproxy_bin" -v 2>/dev/null | awk 'NR == 1 { print "HAProxy " $3 }')"
command_line="scripts/bench-peers.sh --nice $nice_level --nginx-buffer $nginx_buffer --repeat $repeat --duration $duration --warmup $warmup --rows $rows_arg --peers $peers_arg"
[ "$postern_bin" = "$root/build/postern" ] || command_line+=" --postern $postern_bin"
[ "$load_bin" = "$root/build/postern-load" ] || command_line+=" --load $load_bin"
[ "$do_strace" = 0 ] || command_line+=" --strace"

printf 'repeat=%s\nversions=%s\ncommand=%s\nmachine=%s\n' "$repeat" "$versions" "$command_line" \
  "$(nproc --all) CPUs, $(uname -r)" >"$base-meta.txt"
render_report "$base"

if [ -n "$strace_report" ]; then
  cp "$strace_report" "$base-strace.md"
fi
stop_all

echo
cat "$base.md"
echo
echo "written: $base.md $base.csv $base-runs.csv $base-meta.txt $base.png${strace_report:+ $base-strace.md}"
[ ! -d "$base-failures" ] || echo "failed load runs: their output and the server logs are in $base-failures"
