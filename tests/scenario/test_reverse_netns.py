"""Reverse connectivity across a real firewall (issue 6, item 5, last bullet): the seed's client,
DMZ and trusted networks as network namespaces made by scripts/netns-topology.sh, joined by
veth, with an nftables rule in the internal namespace that drops every new inbound connection.

    client ns  10.231.1.2 ── 10.231.1.1  dmz ns: dmz1 (config/ha-loopback/dmz1.xml), balancer
                                         and 'DMZ App1' on :8443, backplane 10.231.2.1:1443
                             10.231.1.3          dmz2 (dmz2.xml), the same on 10.231.1.3:8443,
                                         backplane 10.231.2.3:1443; dmz1 and dmz2 form one
                                         cluster (multicast in the dmz namespace)
                             10.231.2.1 ── 10.231.2.2  internal ns: internal1 (internal1.xml),
                             10.231.2.3          which dials socks+ssl://gateway.example.com:1443,
                                         internal2 (internal2.xml), which dials
                                         socks+ssl://dmz2.example.com:1443, and the TCP echo
                                         backend (backend.xml) on 127.0.3.1:3101

The whole HA topology of config/ha-loopback, with the configs unmodified (only their properties
set with -D). gateway.example.com resolves to DMZ 1, and dmz1.example.com and dmz2.example.com to
each member, through the namespaces' /etc/netns hosts files, so the client verifies the DMZ's
certificate, a balancer verifies the other member's when it splices a client there, and each
internal gateway verifies its member's on its reverse links, by the names in their SANs. What a
user would see, asserted:

- Clients in the client namespace are served through the whole path (balancer → DMZ App1 →
  parked reverse link → internal gateway → backend): 101, and every numbered, checksummed record
  comes back intact and in order; the internal gateway names each client by its own address
  (10.231.1.2), which only the second BIND reply carried there.
- The firewall is real while the reverse links are parked: a TCP listener in the internal
  namespace accepts a connection from inside its namespace, but a connect to it from the DMZ
  namespace times out (dropped, not refused) and the nftables drop counter grows; the DMZ cannot
  reach the internal gateway's side of the backplane at all, and every TCP connection between
  DMZ and internal is one the DMZ accepted on its backplane port (the DMZ dialed none). The
  client namespace has no route to the internal network.
- The pairs fail over as units behind the firewall: clients through either balancer are served
  by both pairs; internal gateway 2 killed → every new client lands on pair 1; DMZ 1 killed too
  → DMZ 2's balancer answers 503; internal 2 back → DMZ 2 serves them; DMZ 1 back → both serve.
- Silently dead links are noticed and replaced (test_slow_): a partition between DMZ and
  internal network (nftables in the DMZ namespace drops every packet either way, so neither end
  sees a FIN or a reset) makes the DMZ drop its parked links by TCP keep-alive (10 s idle, then
  3 probes 5 s apart) and stop being ready; once the partition heals, the internal gateway's
  retries park new links and clients are served again.

Skips with the reason when it cannot run here: not root, no `ip` or `nft`, `ip netns add` or
nftables refused. Processes run by `scripts/netns-topology.sh exec NS build/postern ...` (the
script and `ip netns exec` exec in place, so the PID is postern's) with POSTERN_LOG_LEVEL=debug
and POSTERN_BACKEND passed through; each test stops them by PID and removes the namespaces in
its cleanups, also when setting up failed half way.
"""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import zlib
from pathlib import Path

from harness import REPO, SANITIZER_MARKERS, postern_bin, require_test_pki

TOPOLOGY = REPO / "scripts" / "netns-topology.sh"
CONFIGS = REPO / "config" / "ha-loopback"
HOST = "gateway.example.com"
PORT = 8443
BACKPLANE_PORT = 1443
CLIENT_IP, DMZ_FRONT_IP, DMZ_BACK_IP, INTERNAL_IP = "10.231.1.2", "10.231.1.1", "10.231.2.1", "10.231.2.2"
DMZ2_FRONT_IP, DMZ2_BACK_IP = "10.231.1.3", "10.231.2.3"
SERVED_LINE = "proxied to tcp://127.0.3.1:3101"   # an internal gateway's log, per client it serves
GOSSIP_S = 0.6                                     # readiness reaches the other balancer
PROBE_PORT = 4099
PARKED = re.compile(r"service 'DMZ App1': ready, \d+ reverse link\(s\) parked")
READY_TIMEOUT_S = 10.0
PARK_TIMEOUT_S = 10.0
BALANCER_TRIES = 30            # x 0.1 s: readiness is gossiped every 200 ms
STOP_TIMEOUT_S = 10.0
CONNECT_PROBE_S = 2.0
KEEPALIVE_NOTICE_S = 45.0      # keep-alive: 10 s idle + 3 probes x 5 s (25 s), plus slack          # a dropped SYN is retried by the kernel; 2 s is a clear timeout
CLIENT_TIMEOUT_S = 60
CLIENTS = 3
RECORDS = 200

# Runs in the client namespace: argv = ca.pem, host, port, path; stdin = the records, one a
# line, each sent as one text message. The echo is a byte stream behind the internal gateway
# (its backend speaks TCP), so it is reassembled until as many bytes came back as were sent.
# Prints one JSON line: the status line of the upgrade response and the echo (base64), or the
# error that stopped it.
CLIENT_CODE = r"""
import base64, json, sys
sys.path.insert(0, sys.argv[5])
from wire import OP_TEXT, RawConnection, client_ssl_context, upgrade_request
ca, host, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
records = sys.stdin.buffer.read().splitlines(keepends=True)
total = sum(len(r) for r in records)
out = {"status": None, "echo": ""}
received = b""
try:
    conn = RawConnection(host, port, timeout=10, ssl_context=client_ssl_context(ca), server_hostname=host)
    resp = conn.request(upgrade_request(path, f"{host}:{port}"))
    out["status"] = resp.status
    if resp.status == 101:
        for r in records:
            conn.send_frame(OP_TEXT, r)
        for _ in range(100 * len(records)):
            if len(received) >= total:
                break
            received += conn.read_message(timeout=10)[1]
    else:
        out["raw"] = resp.raw.decode("latin-1")
    conn.close()
except Exception as e:
    out["error"] = f"{type(e).__name__}: {e}"
out["echo"] = base64.b64encode(received).decode()
print(json.dumps(out))
"""

# Runs in the client namespace: asks the balancer for an upgrade every 0.1 s until it answers 101
# (the DMZ's readiness reaches its balancer table with the next cluster tick) or argv[6] tries
# were made; prints the last status (or error). argv[7], when given, is the name to verify and
# send as Host (default: the host connected to).
WAIT_SERVED_CODE = r"""
import sys, time
sys.path.insert(0, sys.argv[5])
from wire import RawConnection, client_ssl_context, upgrade_request
ca, host, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
name = sys.argv[7] if len(sys.argv) > 7 else host
last = None
for _ in range(int(sys.argv[6])):
    try:
        with RawConnection(host, port, timeout=5, ssl_context=client_ssl_context(ca), server_hostname=name) as conn:
            last = conn.request(upgrade_request(path, f"{name}:{port}")).status
    except Exception as e:
        last = f"{type(e).__name__}: {e}"
    if last == 101:
        break
    time.sleep(0.1)
print(last)
"""

# Runs in the client namespace: for each line "next" on stdin, one more client to the address
# argv[2], verifying the name argv[3] and sending it as Host: the upgrade, then one text message,
# echoed back (possibly in pieces: the backend is a byte stream); prints one JSON line [status,
# what went wrong or ""]. Every client stays connected (so the members' loads count it) until
# stdin closes.
CLIENTS_CODE = r"""
import json, sys
sys.path.insert(0, sys.argv[6])
from wire import OP_TEXT, RawConnection, client_ssl_context, upgrade_request
ca, address, name, port, path = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
conns = []
for i, command in enumerate(sys.stdin):
    try:
        conn = RawConnection(address, port, timeout=10, ssl_context=client_ssl_context(ca), server_hostname=name)
        conns.append(conn)
        resp = conn.request(upgrade_request(path, f"{name}:{port}"))
        if resp.status != 101:
            out = [resp.status, "refused"]
        else:
            payload = f"client {i} through {address}".encode()
            conn.send_frame(OP_TEXT, payload)
            got = b""
            while len(got) < len(payload):
                got += conn.read_message(timeout=10)[1]
            out = [101, "" if got == payload else f"wrong echo {got!r}"]
    except Exception as e:
        out = [None, f"{type(e).__name__}: {e}"]
    print(json.dumps(out), flush=True)
for conn in conns:
    conn.close()
"""

# Runs in a namespace: connects to argv[1]:argv[2] within argv[3] s; prints connected, refused,
# timeout, unreachable or the error.
CONNECT_CODE = r"""
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("connected")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("unreachable" if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else f"error {e}")
"""

# Runs in the internal namespace: listens on argv[1]:argv[2], says so, accepts whatever comes
# until stdin closes or 60 s pass.
LISTEN_CODE = r"""
import select, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
print("listening", flush=True)
for _ in range(600):
    ready, _, _ = select.select([s, sys.stdin], [], [], 0.1)
    if sys.stdin in ready:
        break
    if s in ready:
        s.accept()[0].close()
"""

_support = {}


def namespace_support():
    """None when namespaces, veth and nftables can be used here, else why not (cached)."""
    if "reason" in _support:
        return _support["reason"]
    reason = None
    probe = f"pstn{os.getpid()}-probe"
    if os.geteuid() != 0:
        reason = "network namespaces need root"
    elif shutil.which("ip") is None:
        reason = "ip (iproute2) not installed"
    elif shutil.which("nft") is None:
        reason = "nft not found on PATH (scripts/deps.sh installs nftables)"
    else:
        made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
        if made.returncode != 0:
            reason = f"ip netns add is not permitted here: {made.stderr.strip()}"
        else:
            try:
                nft = subprocess.run(["ip", "netns", "exec", probe, "nft", "add", "table", "inet", "probe"],
                                     capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
                if nft.returncode != 0:
                    reason = f"nftables is not usable in a network namespace: {nft.stderr.strip()}"
            finally:
                subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30,
                               stdin=subprocess.DEVNULL)
    _support["reason"] = reason
    return reason


def records_for(client):
    """RECORDS numbered lines of 1 to ~4 KiB, each with the CRC-32 of its body."""
    out = []
    for i in range(RECORDS):
        body = (f"client {client} record {i} " * (1 + (i * 37) % 150)).encode()
        out.append(b"%06d %08x %s\n" % (i, zlib.crc32(body), body))
    return out


class NsProcess:
    """One postern process inside a namespace, logging to dir/name.log."""

    def __init__(self, name, namespace, config, defines, directory, env):
        self.name, self.namespace = name, namespace
        self.log_path = directory / f"{name}.log"
        cmd = [str(TOPOLOGY), "exec", namespace, str(postern_bin()), "-c", str(CONFIGS / config)]
        for key, value in defines.items():
            cmd += ["-D", f"{key}={value}"]
        self.command = cmd
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout):
        """The first log line matching pattern (str: contained; or a regex) within timeout s,
        None if none (or the process exited first)."""
        match = pattern.search if isinstance(pattern, re.Pattern) else (lambda line: pattern in line)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            for line in text[:text.rfind("\n") + 1].splitlines():
                if match(line):
                    return line
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def stop(self):
        """SIGTERM by PID, wait; SIGKILL after STOP_TIMEOUT_S. Returns the problems seen."""
        problems = []
        if self.proc.poll() is not None:
            problems.append(f"{self.name} exited by itself with status {self.proc.returncode}")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
                if not self.log().rstrip().endswith(" main stopped"):
                    problems.append(f"{self.name}: no clean stop after SIGTERM")
            except subprocess.TimeoutExpired:
                problems.append(f"{self.name} still ran {STOP_TIMEOUT_S:.0f} s after SIGTERM; killed")
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        if any(marker in self.log() for marker in SANITIZER_MARKERS):
            problems.append(f"{self.name} wrote a sanitizer report")
        return problems


class ReverseNetns(unittest.TestCase):
    """setUp brings up the namespaces and the three processes; cleanups undo it, in reverse."""

    def setUp(self):
        reason = namespace_support()
        if reason:
            self.skipTest(reason)
        if not TOPOLOGY.is_file():
            self.skipTest(f"{TOPOLOGY} missing")
        self.pki = require_test_pki()
        self.gateway_log_excerpt = None
        self.processes = []
        self.prefix = f"pstn{os.getpid()}"
        self.env = dict(os.environ, NETNS_PREFIX=self.prefix, POSTERN_LOG_LEVEL="debug")
        self.dir = Path(tempfile.mkdtemp(prefix="postern-reverse-netns-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        # Registered before `up`: down removes whatever a failed up left.
        self.addCleanup(self.topology, "down")
        self.topology("up")
        self.addCleanup(self.stop_processes)

        self.backend = self.start("backend", "internal", "backend.xml", {"pki.dir": self.pki})
        self.dmz = self.start_dmz(1)
        self.dmz2 = self.start_dmz(2)
        self.internal = self.start_internal(1)
        self.internal2 = self.start_internal(2)
        for dmz, internal in ((self.dmz, self.internal), (self.dmz2, self.internal2)):
            self.assertIsNotNone(dmz.wait_log(PARKED, PARK_TIMEOUT_S),
                                 f"{dmz.name}: no reverse link parked within {PARK_TIMEOUT_S:.0f} s\n"
                                 + dmz.log()[-6000:] + f"\n==== {internal.name} ====\n" + internal.log()[-6000:])
        status = self.ns_python("client", WAIT_SERVED_CODE, self.pki / "ca.pem", HOST, PORT, "/app1",
                                REPO / "tests" / "scenario", BALANCER_TRIES)
        self.assertEqual(status, "101", f"the balancer never offered the ready member: last answer {status}")

    def start_dmz(self, n):
        front, back = (DMZ_FRONT_IP, DMZ_BACK_IP) if n == 1 else (DMZ2_FRONT_IP, DMZ2_BACK_IP)
        return self.start(f"dmz{n}", "dmz", f"dmz{n}.xml", {
            "pki.dir": self.pki,
            "gateway.ip.address": front,
            "dmz.cluster.frontplane.hostname": f"dmz{n}.example.com",   # its name, in its certificate
            "dmz.cluster.backplane.hostname": back,
        })

    def start_internal(self, n):
        return self.start(f"internal{n}", "internal", f"internal{n}.xml", {
            "pki.dir": self.pki,
            # Its DMZ member's name, as that member's certificate says.
            "dmz.cluster.backplane.hostname": HOST if n == 1 else "dmz2.example.com",
            "backend.address": "127.0.3.1:3101",
        })

    # ---- helpers ----

    def topology(self, command):
        done = subprocess.run([str(TOPOLOGY), command], capture_output=True, text=True, timeout=60,
                              env=self.env, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise AssertionError(f"{TOPOLOGY.name} {command} failed with status {done.returncode}\n"
                                 f"{done.stdout}{done.stderr}")

    def start(self, name, namespace, config, defines):
        p = NsProcess(name, namespace, config, defines, self.dir, self.env)
        self.processes.append(p)
        if p.wait_log("postern ready", READY_TIMEOUT_S) is None:
            raise AssertionError(f"{name} not ready within {READY_TIMEOUT_S:.0f} s (status "
                                 f"{p.proc.poll()})\ncommand: {' '.join(p.command)}\n{p.log()[-6000:]}")
        return p

    def stop_processes(self):
        problems = []
        for p in reversed(self.processes):
            problems += p.stop()
        self.gateway_log_excerpt = "\n".join(f"==== {p.name}.log ====\n{p.log()[-6000:]}"
                                             for p in self.processes)
        if problems:
            self.fail("\n".join(problems))

    def ns_python(self, namespace, code, *args, stdin=None, timeout=CLIENT_TIMEOUT_S):
        """Runs /usr/bin/python3 -c code args in namespace; returns its stripped stdout."""
        done = subprocess.run([str(TOPOLOGY), "exec", namespace, "/usr/bin/python3", "-c", code, *map(str, args)],
                              input=stdin, capture_output=True, timeout=timeout, env=self.env)
        self.assertEqual(done.returncode, 0, f"python in {namespace} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode().strip()

    def connect_from(self, namespace, address, port):
        return self.ns_python(namespace, CONNECT_CODE, address, port, CONNECT_PROBE_S)

    def dropped_count(self):
        """Packets the internal namespace's new-inbound rule has dropped."""
        done = subprocess.run([str(TOPOLOGY), "exec", "internal", "nft", "list", "chain", "inet",
                               "postern_guard", "input"], capture_output=True, text=True, timeout=30,
                              env=self.env, stdin=subprocess.DEVNULL)
        self.assertEqual(done.returncode, 0, done.stderr)
        found = re.search(r"ct state new counter packets (\d+) bytes \d+ drop", done.stdout)
        self.assertIsNotNone(found, f"no new-inbound drop rule in the internal namespace:\n{done.stdout}")
        return int(found.group(1))

    def tcp_peers(self, namespace):
        """(local, peer) address:port pairs of the established TCP connections in namespace."""
        done = subprocess.run([str(TOPOLOGY), "exec", namespace, "ss", "-Htn", "state", "established"],
                              capture_output=True, text=True, timeout=30, env=self.env, stdin=subprocess.DEVNULL)
        self.assertEqual(done.returncode, 0, done.stderr)
        return [tuple(line.split()[-2:]) for line in done.stdout.splitlines() if line.strip()]

    def serve_clients(self, count):
        """count clients at once in the client namespace, through the balancer: asserts 101 and
        every record echoed intact and in order."""
        sent = {c: records_for(c) for c in range(count)}
        clients = {c: subprocess.Popen([str(TOPOLOGY), "exec", "client", "/usr/bin/python3", "-c", CLIENT_CODE,
                                        str(self.pki / "ca.pem"), HOST, str(PORT), "/app1",
                                        str(REPO / "tests" / "scenario")],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env=self.env)
                   for c in sent}
        results = {}
        try:
            for c, proc in clients.items():
                out, err = proc.communicate(b"".join(sent[c]), timeout=CLIENT_TIMEOUT_S)
                self.assertEqual(proc.returncode, 0, f"client {c} failed: {err.decode(errors='replace')}")
                results[c] = json.loads(out.decode().strip().splitlines()[-1])
        finally:
            for proc in clients.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(STOP_TIMEOUT_S)
        for c, result in results.items():
            self.assertEqual(result["status"], 101, f"client {c}: upgrade not accepted: {result}")
            self.assertNotIn("error", result, f"client {c}: {result.get('error')}")
            echo = base64.b64decode(result["echo"])
            expected = b"".join(sent[c])
            self.assertEqual(len(echo), len(expected), f"client {c}: {len(echo)} bytes echoed of {len(expected)}")
            lines = echo.splitlines(keepends=True)
            self.assertEqual(len(lines), RECORDS, f"client {c}: records echoed")
            for i, (got, want) in enumerate(zip(lines, sent[c])):
                self.assertEqual(got, want, f"client {c}: record {i} differs")

    # ---- tests ----

    def clients(self, via, count, each=None):
        """count clients in the client namespace through the balancer at via (an address; the
        name they verify is gateway.example.com), one after the other, each kept connected until
        all are done; each(result) runs after each client. Returns [status, problem] per client."""
        proc = subprocess.Popen([str(TOPOLOGY), "exec", "client", "/usr/bin/python3", "-c", CLIENTS_CODE,
                                 str(self.pki / "ca.pem"), via, HOST, str(PORT), "/app1",
                                 str(REPO / "tests" / "scenario")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        results = []
        try:
            for _ in range(count):
                proc.stdin.write(b"next\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                self.assertTrue(line, f"the client process through {via} ended early")
                results.append(json.loads(line))
                if each:
                    each(results[-1])
        finally:
            _, err = proc.communicate(b"", timeout=CLIENT_TIMEOUT_S)
        self.assertEqual(proc.returncode, 0, f"clients through {via} failed: {err.decode(errors='replace')}")
        return results

    def pairs_of(self, via, count, what):
        """The pair (1 or 2) whose internal gateway served each of count clients through via (as
        clients() connects them): asserts 101 and each echo, and that one internal gateway, and
        only one, logged one more client served."""
        internals = {1: self.internal, 2: self.internal2}
        pairs = []
        before = {n: p.log().count(SERVED_LINE) for n, p in internals.items()}

        def which(result):
            self.assertEqual(result, [101, ""], f"{what}: a client through {via}")
            grown = {}
            for _ in range(100):    # the line was written before the echo; allow the file a moment
                grown = {n: p.log().count(SERVED_LINE) - before[n] for n, p in internals.items()}
                if sum(grown.values()) >= 1:
                    break
                time.sleep(0.02)
            self.assertEqual(sorted(grown.values()), [0, 1], f"{what}: one more '{SERVED_LINE}' in one internal "
                                                             f"log expected, got {grown}")
            pairs.append(1 if grown[1] else 2)
            before.update({n: p.log().count(SERVED_LINE) for n, p in internals.items()})

        self.clients(via, count, which)
        return pairs

    def test_pairs_fail_over_as_units_behind_the_firewall(self):
        # Both pairs serve, through either balancer (two random choices spread the clients), once
        # each member's readiness has reached the other with the next heartbeats.
        time.sleep(2 * GOSSIP_S)
        for via in (DMZ_FRONT_IP, DMZ2_FRONT_IP):
            pairs = self.pairs_of(via, 12, "all up")
            self.assertEqual(set(pairs), {1, 2}, f"through {via}: pairs {pairs} served 12 clients\n"
                             + "\n".join(line for p in (self.dmz, self.dmz2) for line in p.log().splitlines()
                                         if "cluster" in line or "ready" in line or "balance" in line or "10.231.1.2" in line))

        # Internal 2 dies: DMZ 2 is not ready at once, and every new client lands on pair 1.
        mark = len(self.dmz2.log())
        self.internal2.proc.kill()
        self.internal2.proc.wait(STOP_TIMEOUT_S)
        self.processes.remove(self.internal2)
        not_ready = None
        for _ in range(50):
            not_ready = "service 'DMZ App1': not ready" in self.dmz2.log()[mark:]
            if not_ready:
                break
            time.sleep(0.02)
        self.assertTrue(not_ready, "dmz2 still ready 1 s after its internal gateway was killed:\n"
                        + self.dmz2.log()[mark:][-4000:])
        time.sleep(GOSSIP_S)
        for via in (DMZ_FRONT_IP, DMZ2_FRONT_IP):
            self.assertEqual(self.pairs_of(via, 6, "internal 2 killed"), [1] * 6, f"through {via}")

        # DMZ 1 dies too: no pair can serve; DMZ 2's balancer says so.
        mark = len(self.dmz2.log())
        self.dmz.proc.kill()
        self.dmz.proc.wait(STOP_TIMEOUT_S)
        self.processes.remove(self.dmz)
        self.assertIsNotNone(self.dmz2.wait_log("cluster: member tcp://10.231.1.1:5941 failed", 2.0),
                             "dmz2 did not drop dmz1 within 2 s:\n" + self.dmz2.log()[mark:][-4000:])
        results = self.clients(DMZ2_FRONT_IP, 1)
        self.assertEqual(results[0][0], 503, f"DMZ 1 and internal 2 killed: {results}")

        # Internal 2 back: DMZ 2 serves every client through it.
        self.internal2 = self.start_internal(2)
        self.assertIsNotNone(self.dmz2.wait_log(PARKED, PARK_TIMEOUT_S), "internal2 parked no link again")
        status = self.ns_python("client", WAIT_SERVED_CODE, self.pki / "ca.pem", DMZ2_FRONT_IP, PORT, "/app1",
                                REPO / "tests" / "scenario", BALANCER_TRIES, HOST)
        self.assertEqual(status, "101", f"DMZ 2's balancer did not offer its member again: {status}")
        self.assertEqual(self.pairs_of(DMZ2_FRONT_IP, 6, "internal 2 back"), [2] * 6)

        # DMZ 1 back (internal 1 redials it): both pairs serve again.
        self.dmz = self.start_dmz(1)
        self.assertIsNotNone(self.dmz.wait_log(PARKED, PARK_TIMEOUT_S), "internal1 parked no link at the new dmz1")
        self.assertIsNotNone(self.dmz2.wait_log("cluster: member tcp://10.231.1.1:5941 joined", 5.0))
        time.sleep(GOSSIP_S)
        pairs = self.pairs_of(DMZ_FRONT_IP, 12, "both back")
        self.assertEqual(set(pairs), {1, 2}, f"after both came back: pairs {pairs}")

    def test_clients_served_through_firewall(self):
        """Clients in the client namespace are echoed through DMZ, reverse link and backend."""
        self.serve_clients(CLIENTS)
        # The internal gateway knows each client by its own address, from the second BIND reply.
        # setUp's readiness probe claimed one link before them (a 503 claims none); the claim is
        # logged on the internal side, possibly a moment after the client's echo.
        # The balancer spreads the clients over both pairs: the claims are counted in both logs.
        pattern = re.compile(r"reverse link for \S+ claimed by client (\S+)")
        for _ in range(100):
            claimed = pattern.findall(self.internal.log()) + pattern.findall(self.internal2.log())
            if len(claimed) >= 1 + CLIENTS:
                break
            time.sleep(0.02)
        self.assertEqual(len(claimed), 1 + CLIENTS, f"links claimed in internal1.log and internal2.log: {claimed}")
        for peer in claimed:
            self.assertTrue(peer.startswith(f"{CLIENT_IP}:"), f"an internal gateway named the client {peer}, "
                                                              f"not {CLIENT_IP}")

    def partition(self, on):
        """Drops every packet between the DMZ and the internal network, in the DMZ namespace."""
        ruleset = ("table inet postern_partition {\n"
                   "  chain input { type filter hook input priority -10; ip saddr 10.231.2.0/24 drop; }\n"
                   "  chain output { type filter hook output priority -10; ip daddr 10.231.2.0/24 drop; }\n"
                   "}\n") if on else "delete table inet postern_partition\n"
        done = subprocess.run([str(TOPOLOGY), "exec", "dmz", "nft", "-f", "-"], input=ruleset, capture_output=True,
                              text=True, timeout=30, env=self.env)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_slow_silently_dead_links_are_noticed_and_replaced(self):
        mark = len(self.dmz.log())
        self.partition(True)
        partitioned = time.monotonic()
        dropped = re.compile(r"parked link from 10\.231\.2\.2:\d+ for \S+ dropped: ")
        not_ready = re.compile(r"service 'DMZ App1': not ready, no reverse link parked")
        for _ in range(int(KEEPALIVE_NOTICE_S / 0.1)):
            text = self.dmz.log()[mark:]
            if dropped.search(text) and not_ready.search(text):
                break
            time.sleep(0.1)
        took = time.monotonic() - partitioned
        text = self.dmz.log()[mark:]
        self.assertIsNotNone(dropped.search(text), f"no parked link dropped within {took:.0f} s:\n{text[-4000:]}")
        self.assertIsNotNone(not_ready.search(text), f"DMZ App1 still ready after {took:.0f} s:\n{text[-4000:]}")
        self.assertGreater(took, 9.0, "links dropped before any keep-alive could have failed")
        mark = len(self.dmz.log())
        self.partition(False)
        ready = None
        for _ in range(100):
            ready = PARKED.search(self.dmz.log()[mark:])
            if ready:
                break
            time.sleep(0.1)
        self.assertIsNotNone(ready, "no link parked again within 10 s after the partition healed:\n"
                             + self.dmz.log()[mark:][-4000:] + "\n==== internal1 ====\n" + self.internal.log()[-4000:])
        status = self.ns_python("client", WAIT_SERVED_CODE, self.pki / "ca.pem", HOST, PORT, "/app1",
                                REPO / "tests" / "scenario", BALANCER_TRIES)
        self.assertEqual(status, "101", f"not served again after the partition: {status}")
        self.serve_clients(1)

    def test_nothing_dials_into_internal(self):
        """With links parked, a new connection into the internal namespace is dropped."""
        self.assertIsNotNone(self.internal.wait_log("reverse links to socks+ssl://gateway.example.com:1443", 1),
                             "internal1 logged no parked reverse links")
        listener = subprocess.Popen([str(TOPOLOGY), "exec", "internal", "/usr/bin/python3", "-c", LISTEN_CODE,
                                     INTERNAL_IP, str(PROBE_PORT)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
        try:
            self.assertEqual(listener.stdout.readline().strip(), b"listening", "probe listener did not start")
            # The listener is real: inside its own namespace it accepts.
            self.assertEqual(self.connect_from("internal", INTERNAL_IP, PROBE_PORT), "connected")
            dropped = self.dropped_count()
            # From the DMZ it is not even refused: the SYN is dropped and the connect times out.
            self.assertEqual(self.connect_from("dmz", INTERNAL_IP, PROBE_PORT), "timeout",
                             "a connection from the DMZ into the internal namespace was not dropped")
            self.assertGreater(self.dropped_count(), dropped, "the nftables drop counter did not move")
            # Nor can the DMZ open the backplane's other direction (the internal side's port 1443).
            self.assertEqual(self.connect_from("dmz", INTERNAL_IP, BACKPLANE_PORT), "timeout")
            # The client network has no route into the internal network at all.
            self.assertEqual(self.connect_from("client", INTERNAL_IP, PROBE_PORT), "unreachable")
        finally:
            listener.stdin.close()
            try:
                listener.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                listener.kill()
                listener.wait(STOP_TIMEOUT_S)
            listener.stdout.close()
        # Every DMZ ↔ internal connection is one the internal side dialed to the backplane port.
        links = [(local, peer) for local, peer in self.tcp_peers("dmz") if peer.startswith(f"{INTERNAL_IP}:")]
        self.assertGreaterEqual(len(links), 1, "no reverse link between DMZ and internal namespaces")
        backplanes = {f"{DMZ_BACK_IP}:{BACKPLANE_PORT}", f"{DMZ2_BACK_IP}:{BACKPLANE_PORT}"}
        self.assertEqual({local for local, _ in links}, backplanes, "not both DMZ members have links parked")
        for local, peer in links:
            self.assertIn(local, backplanes, f"a DMZ connection {local} → {peer} is not on a backplane port: "
                          "the DMZ dialed it")
        for local, peer in self.tcp_peers("internal"):
            if peer.startswith("10.231."):
                self.assertIn(peer, backplanes, f"an internal connection {local} ← {peer} was not dialed to a backplane")
        # And a client is still served after the probes.
        self.serve_clients(1)


if __name__ == "__main__":
    unittest.main()
