# bench-lib.sh: the functions scripts/bench-peers.sh and scripts/bench-reverse.sh share.
# Sourced, never run. The sourcing script sets before it sources:
#   bench_prog   the name its messages start with ("bench-peers")
#   root         the top of the work tree
# and, before it calls the functions that use them:
#   bench_logs       the folder the servers' logs go to
#   bench_log_hint   where its messages say the logs are ("logs in /tmp/...")
#   started          the array of PIDs it has started and must stop (see stop_all)
#   nice_level, load_bin, postern_bin, do_build, repeat, duration, warmup, rows_arg
# shellcheck shell=bash
# shellcheck disable=SC2154  # the variables above belong to the sourcing script

# die MESSAGE: prints it on stderr after the script's name, then exits 1.
die() { echo "$bench_prog: $*" >&2; exit 1; }
# note MESSAGE: prints it on stderr after the script's name.
note() { echo "$bench_prog: $*" >&2; }

# check_run_options: the options both scripts take, checked; dies naming the first one that is
# not valid. Splits rows_arg (SIZE/CONNECTIONS/IN_FLIGHT,...) into the array rows; an empty
# nice_level becomes -10 as root, else 0.
check_run_options() {
  local r
  [[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "--repeat: '$repeat' is not a whole number above 0"
  [[ "$duration" =~ ^[1-9][0-9]*$ ]] || die "--duration: '$duration' is not a whole number of seconds above 0"
  [[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup: '$warmup' is not a whole number of seconds"
  IFS=, read -r -a rows <<<"$rows_arg"
  for r in "${rows[@]}"; do
    [[ "$r" =~ ^[0-9]+/[1-9][0-9]*/[1-9][0-9]*$ ]] || die "--rows: '$r' is not SIZE/CONNECTIONS/IN_FLIGHT"
  done
  if [ -z "$nice_level" ]; then
    if [ "$(id -u)" -eq 0 ]; then nice_level=-10; else nice_level=0; fi
  fi
  [[ "$nice_level" =~ ^-?[0-9]+$ ]] || die "--nice: '$nice_level' is not a whole number"
}

# find_binaries: sets postern_bin and load_bin (default build/postern, build/postern-load) and
# builds them with make first when either was not given and do_build is 1. Dies when either is
# not an executable.
find_binaries() {
  if { [ -z "$postern_bin" ] || [ -z "$load_bin" ]; } && [ "$do_build" = 1 ]; then
    note "building build/postern and build/postern-load (make all load)"
    make -C "$root" -s all load >&2 || die "make all load failed"
  fi
  [ -n "$postern_bin" ] || postern_bin="$root/build/postern"
  [ -n "$load_bin" ] || load_bin="$root/build/postern-load"
  [ -x "$postern_bin" ] || die "no postern binary at $postern_bin"
  [ -x "$load_bin" ] || die "no load generator at $load_bin (make load)"
}

# stop_all: every PID in started gets SIGTERM, up to 5 s to exit, then SIGKILL; started is
# emptied. Stops nothing it did not start.
stop_all() {
  local pid _ alive
  [ ${#started[@]} -gt 0 ] || return 0
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid in "${started[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  started=()
}

# forget PID: a process that has been waited for is no longer ours to stop.
forget() {
  local keep=() pid
  for pid in "${started[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  started=("${keep[@]}")
}

# start_server NAME CPU COMMAND...: runs COMMAND at nice_level on CPU, its output in
# bench_logs/NAME.log; records its PID in pid_of[NAME] (an associative array of the sourcing
# script) and in started.
start_server() {
  local name=$1 cpu=$2
  shift 2
  nice -n "$nice_level" taskset -c "$cpu" "$@" >"$bench_logs/$name.log" 2>&1 </dev/null &
  # shellcheck disable=SC2004,SC2034  # pid_of is the sourcing script's associative array
  pid_of[$name]=$!
  started+=("$!")
}

# refuse_taken HOST:PORT...: dies when something already listens on any of them, so that a run
# never measures somebody else's listener.
refuse_taken() {
  local hp
  for hp in "$@"; do
    if (exec 3<>"/dev/tcp/${hp%:*}/${hp#*:}") 2>/dev/null; then
      die "something already listens on $hp: stop it first"
    fi
  done
}

# wait_port HOST PORT PID NAME: the listener accepts within 10 s, and the process still runs;
# dies otherwise.
wait_port() {
  local host=$1 port=$2 pid=$3 name=$4 _
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || die "$name exited before listening on $host:$port ($bench_log_hint)"
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$name does not listen on $host:$port after 10 s ($bench_log_hint)"
}

# established HOST PORT: server-side connections established on that local listener.
established() { ss -Htn state established "( sport = :$2 )" src "$1" 2>/dev/null | wc -l; }

# wait_established HOST PORT N PID TRIES: 0 once at least N connections are established on the
# listener; 1 when PID exits first or after TRIES checks 0.1 s apart.
wait_established() {
  local host=$1 port=$2 n=$3 pid=$4 tries=$5 _
  for _ in $(seq "$tries"); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(established "$host" "$port")" -ge "$n" ] && return 0
    sleep 0.1
  done
  return 1
}

# url_host_port URL: "HOST PORT" of a tcp:// or ws:// URL with an explicit port.
url_host_port() {
  local host=${1#*://}
  host=${host%%/*}
  echo "${host%:*} ${host#*:}"
}

# start_load BOUND URL CONNECTIONS IN_FLIGHT SIZE DURATION JSON ERR: one closed-loop run of
# postern-load (one thread, on CPU 0, at nice_level, warmup seconds of warmup, DURATION seconds
# measured) in the background, killed after BOUND seconds; its --json object goes to JSON, its
# stderr to ERR. Sets load_pid and records it in started.
start_load() {
  local bound=$1 url=$2 conns=$3 inflight=$4 size=$5 dur=$6 json=$7 err=$8
  timeout --kill-after=5 "$bound" nice -n "$nice_level" taskset -c 0 "$load_bin" --url "$url" \
    --connections "$conns" --in-flight "$inflight" --size "$size" --duration "${dur}s" \
    --warmup "${warmup}s" --threads 1 --cpus 0 --json >"$json" 2>"$err" </dev/null &
  load_pid=$!
  started+=("$load_pid")
}

# json_field FILE NAME: one numeric or string field of postern-load's --json object.
json_field() {
  /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v)' "$1" "$2"
}

# cpu_ticks PID...: "utime stime" (fields 14 and 15 of /proc/PID/stat), each summed over the
# processes, in clock ticks; a process that is gone counts 0. The kernel charges a tick to the
# process it interrupts, softirq work done in the process's context included.
cpu_ticks() {
  local user=0 sys=0 pid line rest f
  for pid in "$@"; do
    line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${line##*) }
    read -r -a f <<<"$rest"
    user=$((user + f[11]))
    sys=$((sys + f[12]))
  done
  echo "$user $sys"
}

# ticks_of PID: utime + stime of one process in clock ticks (0 when it is gone).
ticks_of() {
  local user sys
  read -r user sys <<<"$(cpu_ticks "$1")"
  echo $((user + sys))
}

# cpu_busy: "busy0 busy1", the jiffies CPU 0 and CPU 1 spent neither idle nor waiting for I/O
# (user, nice, system, irq, softirq, steal of /proc/stat): the server's own time plus whatever
# else ran there, interrupts and softirqs included.
cpu_busy() {
  awk '$1 == "cpu0" { b0 = $2 + $3 + $4 + $7 + $8 + $9 }
       $1 == "cpu1" { b1 = $2 + $3 + $4 + $7 + $8 + $9 }
       END { print b0, b1 }' /proc/stat
}

# reactor_xml CPU: a postern <reactor> element, one thread on CPU.
reactor_xml() { printf '  <reactor><threads>1</threads><cpus>%s</cpus></reactor>\n' "$1"; }
# The start of every postern config the scripts write.
# shellcheck disable=SC2034  # used by the sourcing scripts
xml_head='<?xml version="1.0" encoding="UTF-8"?>
<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">'
