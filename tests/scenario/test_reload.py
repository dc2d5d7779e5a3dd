"""Reload on SIGHUP (README "Reload (SIGHUP)"): the file is read again; unchanged services keep
their connections, removed or changed ones close theirs (WebSocket 1001, TCP FIN), new ones
listen, addresses no longer used close; a file or a change that cannot be applied is refused
with a log line per reason and the running config stays. One gateway per test; the test
rewrites the gateway's config file and sends SIGHUP itself (os.kill, so that a gateway that dies
still fails the test). Addresses: 127.0.81.x."""

import os
import re
import signal
import socket
import threading
import time
import unittest
import urllib.request

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import (OP_TEXT, Closed, RawConnection, connection_refused, open_websocket,
                  upgrade_request)

RELOAD_TIMEOUT_S = 10.0
DONE = re.compile(r"reload: done: (\d+) service\(s\) kept, (\d+) stopped, (\d+) started")
STILL = "reload: still serving the running config"
OUTCOME = re.compile(r"reload: done: |reload: still serving the running config")


def ws(name, host, port, path, **kw):
    return service_xml(name, f"ws://{host}:{port}{path}", **kw)


def tcp(name, host, port):
    return service_xml(name, f"tcp://{host}:{port}", allow_origin=None)


def reformatted(text):
    """The same document with other indentation, blank lines and comments."""
    lines = ["<!-- reformatted: nothing but whitespace and comments changed -->"]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("<?xml"):
            lines.insert(0, stripped)
            continue
        lines.append("\t" + stripped + "   ")
        if stripped == "<service>":
            lines.append("   <!-- a service -->")
        lines.append("")
    return "\n".join(lines) + "\n"


class ReloadCase(GatewayTestCase):
    """Helpers: reload(), websocket echo and HTTP checks."""

    def reload(self, text=None):
        """Writes text (when given) to the gateway's config file, sends SIGHUP and waits for the
        outcome: (the 'reload: done' match or None, the log written since the signal)."""
        if text is not None:
            self.gateway.config_path.write_text(text)
        start = self.gateway.log_size()
        os.kill(self.gateway.pid, signal.SIGHUP)
        line = self.gateway.wait_for_log(OUTCOME, RELOAD_TIMEOUT_S, start=start)
        self.assertIsNotNone(line, "no reload outcome logged within 10 s\n"
                             + self.gateway.describe_log(start))
        self.assertTrue(self.gateway.alive(), "postern died at the reload\n"
                        + self.gateway.describe_log(start))
        excerpt = self.gateway.log_text()[start:]
        self.assertIn(f"reload: SIGHUP received, reading {self.gateway.config_path}", excerpt)
        return DONE.search(line), excerpt

    def reload_done(self, text, kept, stopped, started):
        done, excerpt = self.reload(text)
        self.assertIsNotNone(done, "the reload was refused\n" + excerpt)
        self.assertEqual(tuple(int(g) for g in done.groups()), (kept, stopped, started), excerpt)
        self.assertNotIn("reload refused", excerpt)
        return excerpt

    def reload_refused(self, text):
        """The reload is refused: returns the 'reload refused: ...' texts in order."""
        done, excerpt = self.reload(text)
        self.assertIsNone(done, "the reload was applied\n" + excerpt)
        self.assertIn(STILL, excerpt)
        reasons = [line.split("reload refused: ", 1)[1] for line in excerpt.splitlines()
                   if "reload refused: " in line]
        self.assertTrue(reasons, "no 'reload refused' line\n" + excerpt)
        for line in excerpt.splitlines():
            if "reload refused" in line or STILL in line:
                self.assertRegex(line, r"Z ERROR +main ")
        return reasons

    def ws_open(self, host, port, path):
        return open_websocket(self, host, port, path)

    def echo(self, conn, text):
        conn.send_frame(OP_TEXT, text.encode())
        opcode, payload, _ = conn.read_message()
        self.assertEqual((opcode, payload), (OP_TEXT, text.encode()))

    def echo_new(self, host, port, path, text="hello"):
        conn = self.ws_open(host, port, path)
        self.echo(conn, text)
        conn.close()

    def upgrade_status(self, host, port, path):
        with RawConnection(host, port) as conn:
            return conn.request(upgrade_request(path, f"{host}:{port}")).status

    def expect_going_away(self, conn):
        frame = conn.expect_close(self, 1001, timeout=5)
        self.assertEqual(frame.payload[2:], b"gateway stopping")

    def tcp_echo(self, sock, data):
        sock.sendall(data)
        got = b""
        while len(got) < len(data):
            piece = sock.recv(65536)   # the socket's timeout bounds it
            self.assertTrue(piece, "EOF before the echo")
            got += piece
        self.assertEqual(got, data)


class NumberedEchoes(threading.Thread):
    """Sends "n <i>" on a WebSocket echo connection and reads each echo before the next, until
    stopped; records how many came back in order and the first problem."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn = conn
        self.count = 0
        self.problem = None
        self.stop_at = None   # the count to reach, set by finish()
        self._stopping = threading.Event()

    def run(self):
        try:
            i = 0
            while not (self._stopping.is_set() and (self.stop_at is None or i >= self.stop_at)):
                text = f"n {i}".encode()
                self.conn.send_frame(OP_TEXT, text)
                opcode, payload, _ = self.conn.read_message(timeout=5)
                if (opcode, payload) != (OP_TEXT, text):
                    self.problem = f"message {i}: got {opcode:#x} {payload[:60]!r}"
                    return
                i += 1
                self.count = i
                time.sleep(0.002)
        except (AssertionError, Closed, TimeoutError, OSError) as error:
            self.problem = f"after {self.count} echoes: {type(error).__name__}: {error}"

    def finish(self, more):
        """Stops after `more` further echoes (bounded: 10 s)."""
        self.stop_at = self.count + more
        self._stopping.set()
        self.join(timeout=10)


# ---- services added and removed --------------------------------------------------------------

H1 = "127.0.81.1"
ADD_REMOVE = gateway_xml(ws("Kept", H1, 8000, "/kept"),
                         ws("Removed", H1, 8000, "/removed"),
                         ws("Alone", H1, 8001, "/alone"),
                         tcp("Gone TCP", H1, 8003))
ADD_REMOVE_NEXT = gateway_xml(ws("Kept", H1, 8000, "/kept"),
                              ws("Added", H1, 8002, "/added"))


class AddAndRemove(ReloadCase):
    config = ADD_REMOVE

    def test_kept_client_echoes_throughout_while_services_come_and_go(self):
        kept = self.ws_open(H1, 8000, "/kept")
        removed = self.ws_open(H1, 8000, "/removed")
        alone = self.ws_open(H1, 8001, "/alone")
        gone_tcp = socket.create_connection((H1, 8003), timeout=5)
        self.addCleanup(gone_tcp.close)
        self.echo(removed, "before")
        self.echo(alone, "before")
        self.tcp_echo(gone_tcp, b"before")
        self.assertTrue(connection_refused(H1, 8002), "8002 listens before the reload")

        numbered = NumberedEchoes(kept)
        numbered.start()
        deadline = time.monotonic() + 5
        while numbered.count < 20 and numbered.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertGreaterEqual(numbered.count, 20, numbered.problem)
        before = numbered.count
        self.reload_done(ADD_REMOVE_NEXT, kept=1, stopped=3, started=1)
        self.assertGreater(numbered.count, before, "the kept client made no progress over the reload")

        # The stopped services' clients finish as at a stop: close 1001, or a FIN.
        self.expect_going_away(removed)
        self.expect_going_away(alone)
        self.assertEqual(gone_tcp.recv(100), b"", "the tcp client got bytes instead of a FIN")
        self.assertTrue(connection_refused(H1, 8003), "port 8003 still accepts after the reload")
        # The new service answers; the removed path is unknown on the port that stays; the
        # port only the removed service used is closed.
        self.echo_new(H1, 8002, "/added", "new service")
        self.assertEqual(self.upgrade_status(H1, 8000, "/removed"), 404)
        self.assertTrue(connection_refused(H1, 8001), "port 8001 still accepts after the reload")
        self.echo_new(H1, 8000, "/kept", "new client of the kept service")

        numbered.finish(more=20)
        self.assertIsNone(numbered.problem)
        self.assertFalse(numbered.is_alive(), "the numbered echoes did not finish")
        self.assertGreaterEqual(numbered.count, before + 20)
        kept.send_frame(OP_TEXT, b"last")
        self.assertEqual(kept.read_message()[:2], (OP_TEXT, b"last"))

    def test_reload_back_restores_the_removed_services(self):
        kept = self.ws_open(H1, 8000, "/kept")
        self.reload_done(ADD_REMOVE_NEXT, kept=1, stopped=3, started=1)
        self.reload_done(ADD_REMOVE, kept=1, stopped=1, started=3)
        self.echo(kept, "still the first client")
        self.echo_new(H1, 8000, "/removed")
        self.echo_new(H1, 8001, "/alone")
        with socket.create_connection((H1, 8003), timeout=5) as again:
            self.tcp_echo(again, b"back")
        self.assertTrue(connection_refused(H1, 8002), "port 8002 still accepts")


# ---- refused files ---------------------------------------------------------------------------

H2 = "127.0.81.2"
TWO = gateway_xml(ws("WebSocket echo", H2, 8000, "/echo"), tcp("TCP echo", H2, 8001))


class RefusedFiles(ReloadCase):
    config = TWO

    def assert_still_serving(self, conn, sock):
        self.echo(conn, "still here")
        self.tcp_echo(sock, b"tcp still here")
        self.echo_new(H2, 8000, "/echo")
        with socket.create_connection((H2, 8001), timeout=5) as fresh:
            fresh.settimeout(5)
            self.tcp_echo(fresh, b"fresh")

    def test_malformed_then_unknown_element_then_a_good_file(self):
        conn = self.ws_open(H2, 8000, "/echo")
        sock = socket.create_connection((H2, 8001), timeout=5)
        self.addCleanup(sock.close)
        self.tcp_echo(sock, b"before")
        path = self.gateway.config_path

        # Not well-formed: a mismatched end tag.
        lines = TWO.splitlines()
        broken_at = next(i for i, line in enumerate(lines) if "</service>" in line)
        lines[broken_at] = lines[broken_at].replace("</service>", "</servce>")
        reasons = self.reload_refused("\n".join(lines) + "\n")
        # expat places a mismatched end tag at its name, just after "</".
        column = lines[broken_at].index("</servce>") + 3
        self.assertEqual(len(reasons), 1, reasons)
        self.assertEqual(reasons[0], f"{path}:{broken_at + 1}:{column}: error: XML is not well-formed: "
                         "mismatched tag")
        self.assert_still_serving(conn, sock)

        # Well-formed, but an element postern does not know.
        lines = TWO.splitlines()
        at = next(i for i, line in enumerate(lines) if "<type>echo</type>" in line)
        lines.insert(at, "    <frobnicate>1</frobnicate>")
        reasons = self.reload_refused("\n".join(lines) + "\n")
        self.assertEqual(len(reasons), 1, reasons)
        self.assertTrue(reasons[0].startswith(f"{path}:{at + 1}:5: error: "), reasons)
        self.assertIn("frobnicate", reasons[0])
        self.assert_still_serving(conn, sock)

        # A file that is gone.
        os.rename(path, f"{path}.away")
        reasons = self.reload_refused(None)
        self.assertTrue(reasons[0].startswith(str(path)), reasons)
        os.rename(f"{path}.away", path)
        self.assert_still_serving(conn, sock)

        # A later good file applies.
        self.reload_done(gateway_xml(ws("WebSocket echo", H2, 8000, "/echo"), tcp("TCP echo", H2, 8001),
                                     ws("Later", H2, 8002, "/later")), kept=2, stopped=0, started=1)
        self.echo_new(H2, 8002, "/later")
        self.assert_still_serving(conn, sock)


# ---- whitespace and comments -----------------------------------------------------------------

H3 = "127.0.81.3"
THREE = gateway_xml(ws("A", H3, 8000, "/a"), ws("B", H3, 8000, "/b"), tcp("T", H3, 8001))


class NoChange(ReloadCase):
    config = THREE

    def test_whitespace_and_comments_keep_every_connection(self):
        a = self.ws_open(H3, 8000, "/a")
        b = self.ws_open(H3, 8000, "/b")
        t = socket.create_connection((H3, 8001), timeout=5)
        self.addCleanup(t.close)
        self.tcp_echo(t, b"before")
        for _ in range(2):
            self.reload_done(reformatted(THREE), kept=3, stopped=0, started=0)
            self.reload_done(THREE, kept=3, stopped=0, started=0)
        self.echo(a, "a after")
        self.echo(b, "b after")
        self.tcp_echo(t, b"t after")
        self.echo_new(H3, 8000, "/a")

    def test_a_client_kept_by_one_reload_is_closed_when_a_later_one_removes_its_service(self):
        a = self.ws_open(H3, 8000, "/a")
        t = socket.create_connection((H3, 8001), timeout=5)
        self.addCleanup(t.close)
        t.settimeout(5)
        self.reload_done(reformatted(THREE), kept=3, stopped=0, started=0)
        self.echo(a, "kept once")
        self.tcp_echo(t, b"kept once")
        self.reload_done(gateway_xml(ws("B", H3, 8000, "/b")), kept=1, stopped=2, started=0)
        self.assertEqual(self.upgrade_status(H3, 8000, "/a"), 404)
        self.assertTrue(connection_refused(H3, 8001), "port 8001 still accepts")
        # Both clients came in before the first reload and were kept by it; the second reload
        # removes their services: they finish as at a stop, like clients that came in later.
        problems = []
        try:
            t.settimeout(3)
            rest = t.recv(100)
            if rest != b"":
                problems.append(f"the tcp client got {rest!r} instead of a FIN")
        except socket.timeout:
            problems.append("the tcp client of the removed service 'T' got no FIN within 3 s")
        try:
            frame = a.read_frame(timeout=3)
            if frame.opcode != 0x8 or frame.close_code != 1001:
                problems.append(f"the ws client of the removed service 'A' got {frame!r}, not close 1001")
        except TimeoutError:
            problems.append("the ws client of the removed service 'A' got no close within 3 s")
        except Closed as error:
            problems.append(f"the ws client of the removed service 'A' got no close frame ({error})")
        self.assertEqual(problems, [])


# ---- a changed service -----------------------------------------------------------------------

H4 = "127.0.81.4"


def four(timed_properties=None, timed_options=None):
    return gateway_xml(ws("Steady", H4, 8000, "/steady"),
                       ws("Timed", H4, 8000, "/timed", properties=timed_properties,
                          accept_options=timed_options))


class ChangedService(ReloadCase):
    config = four({"send.timeout": "30 seconds"})

    def test_a_changed_property_restarts_the_service(self):
        steady = self.ws_open(H4, 8000, "/steady")
        old = self.ws_open(H4, 8000, "/timed")
        self.echo(old, "old")
        self.reload_done(four({"send.timeout": "31 seconds"}), kept=1, stopped=1, started=1)
        self.expect_going_away(old)
        new = self.ws_open(H4, 8000, "/timed")
        self.echo(new, "new")
        self.echo(steady, "steady")

        # The restarted service runs its new definition: with an inactivity timeout of 2 s an
        # idle client is pinged at 1 s and closed with 1001 at 2 s; the steady one is not.
        self.reload_done(four({"send.timeout": "31 seconds"}, {"ws.inactivity.timeout": "2 seconds"}),
                         kept=1, stopped=1, started=1)
        self.expect_going_away(new)
        idle = self.ws_open(H4, 8000, "/timed")
        started = time.monotonic()
        ping = idle.read_frame(timeout=5)
        self.assertEqual(ping.opcode, 0x9, f"expected a ping, got {ping!r}")
        idle.expect_close(self, 1001, timeout=5)
        self.assertGreater(time.monotonic() - started, 1.5)
        self.echo(steady, "steady after 2 s")


# ---- refused changes -------------------------------------------------------------------------

H5 = "127.0.81.5"
FIVE = gateway_xml(ws("Echo", H5, 8000, "/echo"))


class RefusedChanges(ReloadCase):
    config = FIVE

    def test_an_added_cluster_is_refused_and_nothing_changes(self):
        conn = self.ws_open(H5, 8000, "/echo")
        cluster = (f"  <cluster><name>c81</name><accept>tcp://{H5}:5941</accept>"
                   f"<connect>udp://239.255.81.1:5941</connect></cluster>\n")
        text = gateway_xml(ws("Echo", H5, 8000, "/echo"), ws("New", H5, 8002, "/new"))
        text = text.replace("</gateway-config>", cluster + "</gateway-config>")
        reasons = self.reload_refused(text)
        self.assertEqual(reasons, ["<cluster> or <reactor> changed: restart postern to apply that"])
        self.assertNotIn("cluster:", self.gateway.log_text())
        self.echo(conn, "untouched")
        self.assertTrue(connection_refused(H5, 8002), "the refused config's new service listens")
        self.echo_new(H5, 8000, "/echo")

    def test_an_address_in_use_by_another_process_is_refused(self):
        conn = self.ws_open(H5, 8000, "/echo")
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(holder.close)
        # SO_REUSEADDR lets postern bind once this socket is closed, whatever TIME_WAIT is
        # left; it never lets a second socket bind a listening address.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((H5, 8003))
        holder.listen(4)
        holder.settimeout(5)
        text = gateway_xml(ws("Echo", H5, 8000, "/echo"), ws("Other", H5, 8002, "/other"),
                           ws("Taken", H5, 8003, "/taken"))
        reasons = self.reload_refused(text)
        self.assertEqual(len(reasons), 1, reasons)
        self.assertTrue(reasons[0].startswith(f"cannot listen on {H5}:8003"), reasons)
        self.echo(conn, "untouched")
        self.assertTrue(connection_refused(H5, 8002), "a service of the refused config listens")
        # The address is still the other process's alone.
        with socket.create_connection((H5, 8003), timeout=5):
            accepted, _ = holder.accept()
        accepted.close()
        holder.close()
        # Once it is free the same file applies.
        self.reload_done(None, kept=1, stopped=0, started=2)
        self.echo_new(H5, 8003, "/taken")
        self.echo_new(H5, 8002, "/other")
        self.echo(conn, "still untouched")


H9 = "127.0.81.9"


class RoutedByTheNewConfig(ReloadCase):
    config = gateway_xml(ws("Stays", H9, 8000, "/stays"), ws("Goes", H9, 8000, "/goes"))

    def test_a_client_still_sending_its_head_is_routed_by_the_config_that_runs_now(self):
        early = RawConnection(H9, 8000, timeout=5)
        self.addCleanup(early.close)
        request = upgrade_request("/goes", f"{H9}:8000").encode()
        early.sock.sendall(request[:20])                 # connected before the reload, head unfinished
        self.reload_done(gateway_xml(ws("Stays", H9, 8000, "/stays")), kept=1, stopped=1, started=0)
        early.sock.sendall(request[20:])
        resp = early.read_response_head(timeout=5)
        self.assertEqual(resp.status, 404, "a removed service served a client after the reload")
        self.echo_new(H9, 8000, "/stays")

    def test_a_management_service_added_by_a_reload_answers(self):
        management = service_xml("management", f"http://{H9}:8081/", type_="management", allow_origin=None)
        self.reload_done(gateway_xml(ws("Stays", H9, 8000, "/stays"), ws("Goes", H9, 8000, "/goes"), management),
                         kept=2, stopped=0, started=1)
        with urllib.request.urlopen(f"http://{H9}:8081/health", timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"ready\n")
        with urllib.request.urlopen(f"http://{H9}:8081/metrics", timeout=5) as r:
            self.assertIn(b'postern_connections_total{service="Stays",reactor="0"}', r.read())


# ---- services fixed at start -----------------------------------------------------------------

H8 = "127.0.81.8"
BALANCE_URI = "ws://balance.example:8000/app"


def balanced_pair(member_properties=None):
    bind = {"tcp.bind": f"{H8}:8000"}
    balancer = service_xml("Balancer", BALANCE_URI, type_="balancer", accept_options=bind)
    member = service_xml("Member", f"ws://{H8}:8000/app", accept_options=bind, properties=member_properties)
    member = member.replace("    <type>", f"    <balance>{BALANCE_URI}</balance>\n    <type>", 1)
    return [balancer, member]


class FixedServices(ReloadCase):
    config = gateway_xml(*balanced_pair(), ws("Plain", H8, 8001, "/plain"))

    def through_the_balancer(self):
        with RawConnection(H8, 8000) as conn:
            resp = conn.request(upgrade_request("/app", "balance.example:8000"))
            self.assertEqual(resp.status, 101, resp.raw)
            self.echo(conn, "balanced")

    def test_a_balancer_pair_stays_while_other_services_change_and_refuses_to_change(self):
        client = self.ws_open(H8, 8000, "/app")
        self.reload_done(gateway_xml(*balanced_pair(), ws("Plain", H8, 8001, "/plain2")),
                         kept=2, stopped=1, started=1)
        self.through_the_balancer()
        self.echo(client, "member client kept")
        self.echo_new(H8, 8001, "/plain2")
        reasons = self.reload_refused(gateway_xml(*balanced_pair({"send.timeout": "5 s"}),
                                                  ws("Plain", H8, 8001, "/plain2")))
        self.assertIn("service 'Member' takes part in the cluster or the reverse links: changing or "
                      "removing it needs a restart", reasons)
        self.assertTrue(all("'Member'" in r for r in reasons), reasons)
        reasons = self.reload_refused(gateway_xml(ws("Plain", H8, 8001, "/plain2")))
        self.assertEqual(sorted(reasons), [
            f"service '{name}' takes part in the cluster or the reverse links: changing or removing it "
            "needs a restart" for name in ("Balancer", "Member")])
        self.through_the_balancer()
        self.echo(client, "member client still kept")
        self.echo_new(H8, 8001, "/plain2")


# ---- a tcp stream over reloads ---------------------------------------------------------------

H6 = "127.0.81.6"
SIX = gateway_xml(tcp("Stream", H6, 8001), ws("Other", H6, 8000, "/other"))


class TcpStream(ReloadCase):
    config = SIX

    def test_a_kept_tcp_stream_continues_byte_exact(self):
        data = os.urandom(6 * 1024 * 1024)
        sock = socket.create_connection((H6, 8001), timeout=10)
        self.addCleanup(sock.close)
        received = bytearray()
        errors = []
        writer_done = threading.Event()

        def writer():
            try:
                view = memoryview(data)
                for i in range(0, len(view), 16 * 1024):
                    sock.sendall(view[i:i + 16 * 1024])
                    time.sleep(0.002)
                sock.shutdown(socket.SHUT_WR)
            except OSError as error:
                errors.append(error)
            writer_done.set()

        def reader():
            try:
                while len(received) <= len(data):
                    piece = sock.recv(1 << 16)
                    if not piece:
                        return
                    received.extend(piece)
            except OSError as error:
                errors.append(error)

        threads = [threading.Thread(target=writer, daemon=True), threading.Thread(target=reader, daemon=True)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while len(received) < 256 * 1024 and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertGreater(len(received), 0, "no echo before the reloads")
        self.reload_done(reformatted(SIX), kept=2, stopped=0, started=0)
        self.reload_done(gateway_xml(tcp("Stream", H6, 8001)), kept=1, stopped=1, started=0)
        self.reload_done(gateway_xml(tcp("Stream", H6, 8001), ws("Added", H6, 8002, "/added")),
                         kept=1, stopped=0, started=1)
        during = len(received)
        for t in threads:
            t.join(timeout=30)
        self.assertFalse(any(t.is_alive() for t in threads), "the stream did not end within 30 s")
        self.assertEqual(errors, [])
        self.assertTrue(writer_done.is_set())
        self.assertLess(during, len(data), "the stream ended before the reloads: the test proves nothing")
        self.assertEqual(len(received), len(data))
        self.assertEqual(bytes(received), data)


# ---- metrics ---------------------------------------------------------------------------------

H7 = "127.0.81.7"


def seven(*more):
    return gateway_xml(service_xml("management", f"http://{H7}:8081/", type_="management", allow_origin=None),
                       ws("Counted", H7, 8000, "/counted"), *more)


class Metrics(ReloadCase):
    config = seven()

    def total(self, service):
        with urllib.request.urlopen(f"http://{H7}:8081/metrics", timeout=5) as response:
            self.assertEqual(response.status, 200)
            text = response.read().decode()
        pattern = re.compile(r'^postern_connections_total\{service="' + re.escape(service)
                             + r'",reactor="\d+"\} (\d+)$', re.M)
        values = pattern.findall(text)
        self.assertTrue(values, f"no postern_connections_total for {service}\n{text}")
        return sum(int(v) for v in values)

    def test_a_kept_service_keeps_counting_across_reloads(self):
        for _ in range(3):
            self.echo_new(H7, 8000, "/counted")
        self.assertEqual(self.total("Counted"), 3)
        self.reload_done(seven(ws("Added", H7, 8002, "/added")), kept=2, stopped=0, started=1)
        self.assertEqual(self.total("Counted"), 3)
        for _ in range(2):
            self.echo_new(H7, 8000, "/counted")
        self.echo_new(H7, 8002, "/added")
        self.assertEqual(self.total("Counted"), 5)
        self.assertEqual(self.total("Added"), 1)
        self.reload_done(seven(), kept=2, stopped=1, started=0)
        self.echo_new(H7, 8000, "/counted")
        self.assertEqual(self.total("Counted"), 6)


if __name__ == "__main__":
    unittest.main()
