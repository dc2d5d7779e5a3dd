"""The HA topology of config/ha-loopback with reverse connectivity (issue 6, item 5), driven by
real clients: two DMZ members (127.0.1.1, 127.0.1.2) with a balancer and the 'DMZ App1' proxy
in reverse mode each, two internal gateways that dial out to their DMZ member's backplane
(:1443, socks+ssl, client certificates required), and a TCP echo backend (127.0.3.1:3101), all
started and stopped by scripts/ha-loopback.sh (processes of its own, by PID file).

- Failover as a unit: all up → clients through either balancer are served and both pairs
  serve; SIGKILL internal 2 → DMZ 2 logs "not ready" and every new client through either
  balancer lands on pair 1; SIGKILL DMZ 1 → DMZ 2's balancer answers 503 (no member is ready);
  restart internal 2 → every client through DMZ 2 lands on pair 2; restart DMZ 1 → both pairs
  serve again.
- 10,000 numbered, checksummed records of 1 byte to 64 KiB on 10 concurrent connections (5
  through each balancer), each echoed record in order and identical to what was sent.
- A link without a client certificate, or with one of a foreign CA, is refused before any SOCKS
  byte and the DMZ logs it; a valid certificate but a BIND for a URI no service connects to
  gets reply 2 (not allowed); a valid BIND gets reply 0 (parked).
- No link: DMZ 1 without its internal gateway answers a client of its own service 503 after
  about socks.timeout (2 s), and its balancer answers 503 at once.
- SIGTERM of an internal gateway closes its clients (no hang), new clients avoid its DMZ
  member; restarted, the member is ready again and serves.

Which pair served a client is told from the internal gateways' logs at debug level (the
processes inherit POSTERN_LOG_LEVEL=debug from this test): every client served through internal
gateway N adds one line "... proxied to tcp://127.0.3.1:3101" to internalN.log. Messages travel
as a TCP byte stream behind the internal gateway, so the echo may come back in other message
boundaries: clients reassemble bytes.
"""

import asyncio
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest
import zlib
from pathlib import Path

from harness import REPO, SANITIZER_MARKERS, require_test_pki
from wire import (OP_CLOSE, OP_TEXT, Closed, RawConnection, client_ssl_context, run_async,
                  upgrade_request, ws_connect)

SCRIPT = REPO / "scripts" / "ha-loopback.sh"
NAMES = ("backend", "internal1", "internal2", "dmz1", "dmz2")
DMZ = {"dmz1": "127.0.1.1", "dmz2": "127.0.1.2"}
PORT = 8443
BACKPLANE_PORT = 1443
HOST = "gateway.example.com"
LOGICAL_URI = f"wss://{HOST}:{PORT}/app1"
SERVED_LINE = "proxied to tcp://127.0.3.1:3101"
NOT_READY = "service 'DMZ App1': not ready"
READY = re.compile(r"service 'DMZ App1': ready, \d+ reverse link\(s\) parked")
GOSSIP_S = 0.6            # readiness reaches the other balancer with the next heartbeats (200 ms)
EVENT_WAIT_S = 5.0        # a log line that must follow an action
MAX_ATTEMPTS = 40         # clients tried before a pair is declared never chosen
SCRIPT_TIMEOUT_S = 60


class Topology:
    """The five processes of scripts/ha-loopback.sh in a temp dir of their own."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="postern-reverse-ha-"))
        self.env = dict(os.environ, POSTERN_LOG_LEVEL="debug")
        self.started = set()       # names started and not yet stopped or killed
        self.problems = []         # sanitizer reports and unexpected deaths, kept across restarts

    def script(self, command, *names):
        done = subprocess.run([str(SCRIPT), command, str(self.dir), *names], capture_output=True,
                              text=True, timeout=SCRIPT_TIMEOUT_S, env=self.env,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise AssertionError(f"{SCRIPT.name} {command} {' '.join(names)} failed with status "
                                 f"{done.returncode}\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, *names):
        for n in names:
            self.check_log(n)      # the script truncates the log of a process it starts
        self.script("start", *names)
        self.started.update(names)

    def pid(self, name):
        return int((self.dir / f"{name}.pid").read_text())

    def alive(self, name):
        try:
            pid = self.pid(name)
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return False

    def kill(self, name, signum):
        """Sends signum to the process `start` recorded and waits (10 s) until it is gone; after
        SIGTERM its log must end with postern's "stopped" line."""
        pid = self.pid(name)
        os.kill(pid, signum)
        if not self.wait_gone(name, 10):
            raise AssertionError(f"{name} (pid {pid}) still runs 10 s after signal {signum}")
        (self.dir / f"{name}.pid").unlink()
        self.started.discard(name)
        self.check_log(name, stopped=signum == signal.SIGTERM)

    def wait_gone(self, name, timeout):
        deadline = time.monotonic() + timeout
        while self.alive(name):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop_all(self):
        """SIGTERM to every process still recorded, all at once (by PID; the script stops them
        one after the other and waits for init to reap each), then the script's stop for any
        that did not exit within 10 s."""
        running = []
        for n in NAMES:
            if not (self.dir / f"{n}.pid").exists():
                continue
            if not self.alive(n):
                if n in self.started:
                    self.problems.append(f"{n} died during the test\n{self.log(n)[-8000:]}")
                (self.dir / f"{n}.pid").unlink()
                continue
            os.kill(self.pid(n), signal.SIGTERM)
            running.append(n)
        for n in running:
            if self.wait_gone(n, 10):
                (self.dir / f"{n}.pid").unlink()
                self.check_log(n, stopped=True)
            else:
                self.problems.append(f"{n} did not exit within 10 s of SIGTERM\n{self.log(n)[-8000:]}")
        self.script("stop", *NAMES)
        self.started.clear()

    def log(self, name):
        try:
            return (self.dir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self, name):
        try:
            return (self.dir / f"{name}.log").stat().st_size
        except FileNotFoundError:
            return 0

    def check_log(self, name, stopped=False):
        """Records a sanitizer report in name's log; with stopped, also a log that does not end
        with the line of a clean stop (the process is not this test's child: no exit status)."""
        text = self.log(name)
        if any(marker in text for marker in SANITIZER_MARKERS):
            self.problems.append(f"{name} wrote a sanitizer report\n{text[-20000:]}")
        if stopped and not text.rstrip().endswith(" main stopped"):
            self.problems.append(f"{name}: no clean stop after SIGTERM\n{text[-8000:]}")

    def wait_log(self, name, pattern, timeout, start=0):
        """The first whole log line at or after byte offset start matching pattern (str: must
        occur in the line; or a compiled regex), waiting up to timeout s; None if none."""
        match = pattern.search if isinstance(pattern, re.Pattern) else (lambda line: pattern in line)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log(name)[start:]
            for line in text[:text.rfind("\n") + 1].splitlines():
                if match(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def served_count(self, n):
        return self.log(f"internal{n}").count(SERVED_LINE)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class ReverseHaCase(unittest.TestCase):
    """Starts nothing itself: each test starts the processes it needs; tearDown stops all."""

    def setUp(self):
        if not SCRIPT.is_file():
            self.skipTest(f"{SCRIPT} missing")
        self.pki = require_test_pki()
        self.tls = client_ssl_context(self.pki / "ca.pem")
        self.topology = Topology()
        self.clients = []
        self.gateway_log_excerpt = None

    def tearDown(self):
        for conn in self.clients:
            conn.close()
        t = self.topology
        try:
            t.stop_all()
        finally:
            self.gateway_log_excerpt = "\n".join(f"==== {n}.log ====\n{t.log(n)[-6000:]}" for n in NAMES)
            problems = t.problems
            t.cleanup()
        if problems:
            self.fail("\n".join(problems))

    # ---- helpers ----

    def assert_log(self, name, pattern, timeout=EVENT_WAIT_S, start=0):
        line = self.topology.wait_log(name, pattern, timeout, start)
        self.assertIsNotNone(line, f"{name}: no log line {pattern!r} within {timeout} s\n"
                                   + self.topology.log(name)[start:][-8000:])
        return line

    def connect(self, address, host_header=f"{HOST}:{PORT}", server_hostname=HOST):
        """A TLS connection to address:8443 that sent the upgrade; returns (conn, response)."""
        conn = RawConnection(address, PORT, ssl_context=self.tls, server_hostname=server_hostname)
        self.clients.append(conn)
        return conn, conn.request(upgrade_request("/app1", host_header))

    def echo(self, conn, payload, what):
        conn.send_frame(OP_TEXT, payload)
        received = b""
        try:
            for _ in range(64):     # a proxy to a TCP backend may split the echo into messages
                received += conn.read_message()[1]
                if len(received) >= len(payload):
                    break
        except (Closed, TimeoutError) as error:
            self.fail(f"{what}: no echo ({error}); got {received!r}")
        self.assertEqual(received, payload, f"{what}: wrong echo")

    def client(self, via, what):
        """A client through the balancer at via: asserts 101 and the echo, keeps the connection
        open, and returns the pair (1 or 2) whose internal gateway served it."""
        before = {n: self.topology.served_count(n) for n in (1, 2)}
        conn, resp = self.connect(via)
        self.assertEqual(resp.status, 101, f"{what}: upgrade through {via}'s balancer refused: {resp.raw!r}")
        self.echo(conn, f"{what} via {via}".encode(), f"{what} through {via}")
        for _ in range(100):        # the line was written before the echo; allow the file a moment
            grown = {n: self.topology.served_count(n) - before[n] for n in (1, 2)}
            if sum(grown.values()) >= 1:
                break
            time.sleep(0.02)
        self.assertEqual(sorted(grown.values()), [0, 1],
                         f"{what}: expected one new '{SERVED_LINE}' line in one internal log, got {grown}")
        return 1 if grown[1] else 2

    def clients_all_on(self, pair, count, what):
        for n in range(count):
            for via in DMZ.values():
                self.assertEqual(self.client(via, f"{what} {n}"), pair,
                                 f"{what} {n}: a client through {via} did not land on pair {pair}")

    def clients_until(self, via, pair, what):
        landed = []
        for n in range(MAX_ATTEMPTS):
            landed.append(self.client(via, f"{what} {n}"))
            if landed[-1] == pair:
                return
        self.fail(f"{what}: none of {MAX_ATTEMPTS} clients through {via} landed on pair {pair}: "
                  f"{ {p: landed.count(p) for p in (1, 2)} }")

    def refused_503(self, address, what, host_header=f"{HOST}:{PORT}", server_hostname=HOST, timeout=10):
        started = time.monotonic()
        conn = RawConnection(address, PORT, ssl_context=self.tls, server_hostname=server_hostname)
        self.clients.append(conn)
        resp = conn.request(upgrade_request("/app1", host_header), timeout=timeout)
        elapsed = time.monotonic() - started
        self.assertEqual(resp.status, 503, f"{what}: expected 503, got {resp.raw!r}")
        return resp, elapsed

    def marks(self, *names):
        return {n: self.topology.log_size(n) for n in names}


class ReverseHaFailover(ReverseHaCase):
    def test_pairs_fail_over_as_units_and_serve_again_after_restart(self):
        t = self.topology
        t.start(*NAMES)
        # All five up: both balancers serve, and each pair serves (local member first).
        self.clients_until(DMZ["dmz1"], 1, "all up")
        self.clients_until(DMZ["dmz2"], 2, "all up")

        # Internal 2 dies: DMZ 2's parked links close, it is not ready, nobody sends clients there.
        # Within the failure timeout (1.5 s): the links end at once (EOF), the empty pool's
        # 500 ms grace passes, and the next heartbeats tell the other balancer.
        mark = t.log_size("dmz2")
        t.kill("internal2", signal.SIGKILL)
        self.assert_log("dmz2", NOT_READY, timeout=1.0, start=mark)
        time.sleep(GOSSIP_S)
        self.clients_all_on(1, 8, "internal 2 killed")

        # DMZ 1 dies too: no pair can serve; DMZ 2's balancer says so at once.
        mark = t.log_size("dmz2")
        t.kill("dmz1", signal.SIGKILL)
        # The failure timeout (1.5 s) after its last heartbeat, noticed at the next tick (200 ms).
        self.assert_log("dmz2", "cluster: member tcp://127.0.1.1:5941 failed", timeout=2.0, start=mark)
        resp, elapsed = self.refused_503(DMZ["dmz2"], "DMZ 1 and internal 2 killed")
        self.assertTrue(resp.header("Retry-After"), f"503 without Retry-After: {resp.raw!r}")
        self.assertLess(elapsed, 1.5, "the balancer with no ready member did not answer at once")

        # Internal 2 back: its DMZ member is ready again and serves every client through it.
        mark = t.log_size("dmz2")
        t.start("internal2")
        self.assert_log("dmz2", READY, start=mark)
        time.sleep(GOSSIP_S)
        for n in range(8):
            self.assertEqual(self.client(DMZ["dmz2"], f"internal 2 back {n}"), 2)

        # DMZ 1 back (internal 1 redials it within its 1 s retry maximum): both pairs serve.
        mark = t.log_size("dmz2")
        t.start("dmz1")
        self.assert_log("dmz2", "cluster: member tcp://127.0.1.1:5941 joined", start=mark)
        self.assert_log("dmz1", READY)
        time.sleep(GOSSIP_S)
        self.clients_until(DMZ["dmz1"], 1, "both back")
        self.clients_until(DMZ["dmz2"], 1, "both back")   # DMZ 2 carries more clients now


def record(number, payload):
    """number (4 bytes), payload length (4 bytes), payload, CRC-32 of all that (4 bytes)."""
    head = struct.pack("!II", number, len(payload)) + payload
    return head + struct.pack("!I", zlib.crc32(head))


class ReverseHaData(ReverseHaCase):
    CONNECTIONS = 10
    PER_CONNECTION = 1000
    MAX_PAYLOAD = 64 * 1024

    def payload_sizes(self, rng):
        sizes = [1, 2, 125, 126, 127, 65535, self.MAX_PAYLOAD]   # frame-length edges, at both ends
        while len(sizes) < self.PER_CONNECTION:
            sizes.append(min(self.MAX_PAYLOAD, int(2 ** rng.uniform(0, 16))))
        return sizes

    def test_ten_thousand_checksummed_messages_arrive_in_order_and_intact(self):
        t = self.topology
        t.start(*NAMES)
        before = {n: t.served_count(n) for n in (1, 2)}
        errors = []

        async def one(index):
            via = list(DMZ.values())[index % 2]
            rng = random.Random(index)
            sizes = self.payload_sizes(rng)
            sent = []
            ws = await ws_connect(LOGICAL_URI, ssl=self.tls, host=via, port=PORT,
                                  server_hostname=HOST, max_size=1 << 20)
            try:
                async def writer():
                    for number, size in enumerate(sizes):
                        data = record(number, rng.randbytes(size))
                        sent.append(data)
                        await ws.send(data)

                async def reader():
                    pending = b""
                    for number in range(len(sizes)):
                        while len(pending) < 8:
                            pending += (await recv_any(ws))
                        got_number, length = struct.unpack("!II", pending[:8])
                        if got_number != number:
                            raise AssertionError(f"connection {index} via {via}: record {got_number} "
                                                 f"came where {number} was expected")
                        while len(pending) < 12 + length:
                            pending += (await recv_any(ws))
                        data, pending = pending[:12 + length], pending[12 + length:]
                        crc = struct.unpack("!I", data[-4:])[0]
                        if crc != zlib.crc32(data[:-4]) or data != sent[number]:
                            raise AssertionError(f"connection {index} via {via}: record {number} "
                                                 f"({length} bytes) damaged")
                    if pending:
                        raise AssertionError(f"connection {index}: {len(pending)} bytes after the last record")

                await asyncio.gather(writer(), reader())
            except Exception as error:    # noqa: BLE001 - collected, asserted below
                errors.append(f"{type(error).__name__}: {error}")
            finally:
                await ws.close()

        async def recv_any(ws):
            message = await asyncio.wait_for(ws.recv(), 10)
            return message.encode() if isinstance(message, str) else message

        async def main():
            await asyncio.gather(*(one(i) for i in range(self.CONNECTIONS)))

        run_async(main(), timeout=120)
        self.assertEqual(errors, [], "connections failed")
        grown = {n: t.served_count(n) - before[n] for n in (1, 2)}
        self.assertEqual(sum(grown.values()), self.CONNECTIONS,
                         f"expected {self.CONNECTIONS} clients served by the internal gateways, got {grown}")


class ReverseHaLinks(ReverseHaCase):
    """Links to DMZ 1's backplane opened by the test itself, as an internal gateway would."""

    def backplane(self, certfile=None):
        context = client_ssl_context(self.pki / "ca.pem", certfile)
        sock = socket.create_connection((DMZ["dmz1"], BACKPLANE_PORT), timeout=5)
        self.addCleanup(sock.close)
        local = "%s:%d" % sock.getsockname()
        return context.wrap_socket(sock, server_hostname=DMZ["dmz1"]), local

    def bind_request(self, uri=LOGICAL_URI, port=PORT):
        name = uri.encode()
        return b"\x05\x01\x00" + b"\x05\x02\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port)

    def read_upto(self, sock, n, timeout=5):
        """Up to n bytes, fewer when the peer closes; raises nothing on TLS alerts or resets
        (returns what came before)."""
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < n and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(n - len(data))
            except socket.timeout:
                break
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False

    def assert_refused_without_socks(self, certfile, what):
        mark = self.topology.log_size("dmz1")
        try:
            tls, local = self.backplane(certfile)
        except (ssl.SSLError, ConnectionResetError) as error:
            # TLS 1.2 or an early alert: the handshake itself failed.
            self.assert_log("dmz1", "link from", start=mark)
            return str(error)
        try:
            tls.sendall(self.bind_request())
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        data, closed = self.read_upto(tls, 2)
        self.assertEqual(data, b"", f"{what}: the DMZ sent SOCKS bytes to an unauthenticated link")
        self.assertTrue(closed, f"{what}: the DMZ did not close the link within 5 s")
        line = self.assert_log("dmz1", f"link from {local} refused", start=mark)
        return line

    def test_links_without_a_valid_certificate_or_for_an_unknown_uri_are_refused(self):
        t = self.topology
        t.start("backend", "internal1", "dmz1")

        with self.subTest("no client certificate"):
            self.assert_refused_without_socks(None, "no client certificate")
        with self.subTest("a certificate of a foreign CA"):
            self.assert_refused_without_socks(self.pki / "foreign-client.pem", "foreign CA")

        with self.subTest("valid certificate, BIND for a URI no service connects to"):
            mark = t.log_size("dmz1")
            tls, local = self.backplane(self.pki / "internal1.pem")
            tls.sendall(self.bind_request(f"wss://{HOST}:{PORT}/nothing-here"))
            data, _ = self.read_upto(tls, 4)
            self.assertEqual(data[:2], b"\x05\x00", f"method choice: {data!r}")
            self.assertEqual(data[2:4], b"\x05\x02", f"expected reply 2 (not allowed): {data!r}")
            self.assert_log("dmz1", re.compile(rf"link from {re.escape(local)} refused: .*nothing-here"), start=mark)
            rest, closed = self.read_upto(tls, 1 << 16)
            self.assertTrue(closed, "the refused link was not closed")

        with self.subTest("valid certificate, BIND for the logical URI: parked"):
            mark = t.log_size("dmz1")
            tls, local = self.backplane(self.pki / "internal1.pem")
            tls.sendall(self.bind_request())
            data, closed = self.read_upto(tls, 4)
            self.assertEqual(data, b"\x05\x00\x05\x00", f"expected method 0 and reply 0: {data!r}")
            self.assertFalse(closed)
            self.assert_log("dmz1", f"link from {local} parked for {LOGICAL_URI}", start=mark)
            tls.close()
            self.assert_log("dmz1", re.compile(rf"parked link from {re.escape(local)} .*dropped"), start=mark)

    def test_no_link_gives_503_after_socks_timeout_and_at_once_through_the_balancer(self):
        t = self.topology
        t.start("backend", "internal1", "dmz1")
        mark = t.log_size("dmz1")
        t.kill("internal1", signal.SIGTERM)
        self.assert_log("dmz1", NOT_READY, start=mark)
        time.sleep(GOSSIP_S)

        member = f"127.0.1.1:{PORT}"
        resp, elapsed = self.refused_503(DMZ["dmz1"], "the member's own service", host_header=member,
                                         server_hostname=DMZ["dmz1"])
        self.assertGreater(elapsed, 1.7, "503 long before socks.timeout (2 s)")
        self.assertLess(elapsed, 4.0, "503 long after socks.timeout (2 s)")
        self.assert_log("dmz1", re.compile(r"no reverse link for \S+ within socks\.timeout"), start=mark)

        mark = t.log_size("dmz1")
        resp, elapsed = self.refused_503(DMZ["dmz1"], "the balancer")
        self.assertLess(elapsed, 1.0, "the balancer with no ready member did not answer at once")
        self.assertTrue(resp.header("Retry-After"), f"503 without Retry-After: {resp.raw!r}")
        self.assert_log("dmz1", "refused: 503 service 'Balancer for DMZ App1': no ready member", start=mark)


class ReverseHaRestart(ReverseHaCase):
    def test_sigterm_of_an_internal_gateway_closes_its_clients_and_its_return_serves_again(self):
        t = self.topology
        t.start(*NAMES)
        # Clients of DMZ 1's own service: they are served through internal 1.
        member = f"127.0.1.1:{PORT}"
        conns = []
        for n in range(4):
            before = t.served_count(1)
            conn, resp = self.connect(DMZ["dmz1"], host_header=member, server_hostname=DMZ["dmz1"])
            self.assertEqual(resp.status, 101, f"client {n}: {resp.raw!r}")
            self.echo(conn, f"before the restart {n}".encode(), f"client {n}")
            self.assertEqual(t.served_count(1), before + 1, f"client {n} was not served through internal 1")
            conns.append(conn)

        mark = t.log_size("dmz1")
        started = time.monotonic()
        t.kill("internal1", signal.SIGTERM)
        for n, conn in enumerate(conns):
            # The internal gateway runs the WebSocket end of these clients: stopping, it says
            # 1001 (going away) over the link, and the DMZ passes the frame on.
            try:
                frame = conn.read_frame(timeout=max(0.1, 12 - (time.monotonic() - started)))
            except Closed:
                self.fail(f"client {n}: the connection was cut without a close frame")
            except TimeoutError:
                self.fail(f"client {n} got no close within 12 s of SIGTERM to internal 1 (a hang)")
            self.assertEqual(frame.opcode, OP_CLOSE, f"client {n}: expected a close, got {frame!r}")
            self.assertEqual(frame.close_code, 1001, f"client {n}: close {frame.payload!r}")
        self.assert_log("dmz1", NOT_READY, start=mark)
        time.sleep(GOSSIP_S)
        self.clients_all_on(2, 5, "internal 1 stopped")

        mark = t.log_size("dmz1")
        t.start("internal1")
        self.assert_log("dmz1", READY, start=mark)
        time.sleep(GOSSIP_S)
        self.clients_until(DMZ["dmz1"], 1, "internal 1 back")


if __name__ == "__main__":
    unittest.main()
