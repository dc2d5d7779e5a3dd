"""Operations: the management service (/metrics in the Prometheus text format, /health) and the
access log, with the real binary and real clients. Addresses 127.0.80.x:

- 127.0.80.1: a ws echo service and a management service (http://127.0.80.1:8001/); after one
  echo session of 5 messages and a close 1000, /metrics counts exactly that session: 5 messages
  each way, one connection, none open, close code 1000 once, and the bytes each way that the
  client sent and received (handshake and frames); a wrong path adds one 404 to the handshake
  failures; every metric has one # HELP and one # TYPE, every line parses, the lag and socket
  gauges exist for each reactor; a session still open is counted open with its traffic so far.
  Port 8010: a management service under /admin on the echo service's listener: POST → 405 with
  Allow, wrong paths → 404, HEAD → the headers without the body, the echo still served.
- 127.0.80.2: a ws → tcp proxy whose backend the test starts and stops (127.0.80.2:9002):
  /health 200 while it is up, 503 once a client found it down, 200 again when it is back; and
  503 within 10 s when the backend goes while no client uses the gateway.
- 127.0.80.3 (DMZ), 127.0.80.4 (internal), 127.0.80.5 (backend): the reverse-link pair of
  test_socks_links with a management service on each: the DMZ's /health is 200 while links are
  parked, and postern_reverse_links counts them on both sides, idle and in use (1 each while a
  client is connected); SIGTERM of the internal gateway
  → the DMZ's /health 503 and no link parked.
- 127.0.80.6: the access log: by default one line per session on standard output (the
  harness's out file), exact for an echo session (client address and port, service, bytes,
  messages, end=close:1000), for a 404 (service=-, end=status:404) and for a client that left
  without a close frame (end=eof); --access-log FILE appends there (created 0640) and nothing
  goes to standard output; --access-log off writes no line anywhere; an unopenable file stops
  the start with a message naming it.
- 127.0.80.7: standard output is a pipe whose reader stalls: the gateway must keep serving.
- 127.0.80.8: only a management service: /health is 503, postern_ready 0, and those answers
  are not counted as handshake failures (a 404 is).
- 127.0.80.9: a standalone balancer over a proxy whose backend comes up late, beside an echo
  under no <balance>: /health is 503 until the balanced proxy is ready, then 200; the
  balancer's decisions are counted ("(none ready)", then "(this member)").
"""

import datetime
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from backends import BackendLoop, TcpEcho, wait_until
from harness import (Gateway, GatewayTestCase, MultiGatewayTestCase, gateway_xml, run_postern,
                     service_xml)
from wire import OP_BINARY, OP_CLOSE, OP_TEXT, Closed, RawConnection, close_payload, upgrade_request

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ECHO_NAME = "WebSocket echo"
BASE_METRICS = (
    "postern_ready", "postern_connections_open", "postern_connections_total", "postern_bytes_total",
    "postern_messages_total", "postern_handshake_failures_total", "postern_close_codes_total",
    "postern_access_log_lines_dropped_total", "postern_connections_refused_at_limit_total", "postern_event_loop_lag_seconds", "postern_open_sockets",
    "postern_balancer_decisions_total", "postern_reverse_links", "postern_reverse_links_claimed_total",
    "postern_reverse_link_dial_failures_total",
)


# ---- HTTP and the exposition format -----------------------------------------------------------

def http_request(host, port, path, method="GET", host_header=None, body=b"", timeout=5.0):
    """One request on a fresh connection; the gateway closes after its answer (Connection:
    close). Returns (status, {lower-case name: value}, body bytes)."""
    with RawConnection(host, port, timeout=timeout) as conn:
        fields = f"Host: {host_header or f'{host}:{port}'}\r\n"
        if body:
            fields += f"Content-Length: {len(body)}\r\n"
        resp = conn.request(f"{method} {path} HTTP/1.1\r\n{fields}\r\n".encode() + body, timeout=timeout)
        rest = conn.read_to_eof(timeout=timeout)
    headers = {}
    for name, value in resp.headers:
        assert name.lower() not in headers, f"header {name} twice: {resp.raw!r}"
        headers[name.lower()] = value
    return resp.status, headers, rest


class Exposition:
    """The Prometheus text format (0.0.4) parsed strictly: every line is `# HELP name text`,
    `# TYPE name counter|gauge` or `name{label="value",...} number`; the samples of a metric
    follow its comments in one block. `errors` lists every line that breaks a rule."""

    SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
    LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)')

    def __init__(self, text):
        self.text = text
        self.samples = []            # (name, {label: value}, float)
        self.help = {}               # name -> count
        self.type = {}               # name -> count
        self.types = {}              # name -> "counter" | "gauge"
        self.errors = []
        if not text.endswith("\n"):
            self.errors.append("the text does not end with a newline")
        finished, current = set(), None
        for line in text[:-1].split("\n") if text.endswith("\n") else text.split("\n"):
            def switch_to(name):
                nonlocal current
                if name != current:
                    if name in finished:
                        self.errors.append(f"{name} is not in one block: {line!r}")
                    if current is not None:
                        finished.add(current)
                    current = name
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                parts = line.split(" ", 3)
                if len(parts) != 4 or not parts[3]:
                    self.errors.append(f"comment without name and text: {line!r}")
                    continue
                name = parts[2]
                switch_to(name)
                if parts[1] == "HELP":
                    self.help[name] = self.help.get(name, 0) + 1
                else:
                    self.type[name] = self.type.get(name, 0) + 1
                    self.types[name] = parts[3]
                    if parts[3] not in ("counter", "gauge"):
                        self.errors.append(f"unknown type: {line!r}")
                    if name not in self.help:
                        self.errors.append(f"# TYPE before # HELP: {line!r}")
                continue
            m = self.SAMPLE.match(line)
            if not m:
                self.errors.append(f"not a sample: {line!r}")
                continue
            name, label_text, value_text = m.groups()
            labels = {}
            if label_text:
                pos = 0
                while pos < len(label_text):
                    lm = self.LABEL.match(label_text, pos)
                    if not lm:
                        self.errors.append(f"bad labels: {line!r}")
                        break
                    raw = lm.group(2)
                    labels[lm.group(1)] = re.sub(r'\\(["\\n])', lambda e: "\n" if e.group(1) == "n" else e.group(1), raw)
                    pos = lm.end()
            try:
                value = float(value_text)
            except ValueError:
                self.errors.append(f"value not a number: {line!r}")
                continue
            if name not in self.types:
                self.errors.append(f"sample before its # TYPE: {line!r}")
            switch_to(name)
            self.samples.append((name, labels, value))

    def matching(self, name, **labels):
        """Samples of name whose labels include these (label=value)."""
        return [(l, v) for n, l, v in self.samples if n == name and all(l.get(k) == w for k, w in labels.items())]

    def value(self, name, **labels):
        """The value of the one sample with exactly these labels (AssertionError otherwise)."""
        found = [v for n, l, v in self.samples if n == name and l == labels]
        assert len(found) == 1, f"{len(found)} samples of {name}{labels}:\n{self.text}"
        return found[0]

    def total(self, name, **labels):
        """The sum over the samples of name whose labels include these (e.g. over reactors)."""
        return sum(v for _, v in self.matching(name, **labels))


def reactor_count(gateway):
    m = re.search(r"postern ready: .* (\d+) reactor\(s\)", gateway.log_text())
    assert m, "no 'postern ready' line with the reactor count:\n" + gateway.log_text()
    return int(m.group(1))


def health(host, port, path="/health"):
    try:
        return http_request(host, port, path, timeout=2)[0]
    except (OSError, TimeoutError, Closed) as error:
        return f"no answer: {error}"


def metrics_of(host, port):
    status, headers, body = http_request(host, port, "/metrics")
    assert status == 200, body
    e = Exposition(body.decode())
    assert not e.errors, e.errors
    return e


def metrics_until(host, port, predicate, timeout=5.0):
    """The first scrape for which predicate(exposition) holds, polling up to timeout s; the
    last one when it never does. A session is counted when the gateway forgets its connection,
    just after the client's FIN: a scrape right after a request may come before that."""
    deadline = time.monotonic() + timeout
    while True:
        e = metrics_of(host, port)
        if predicate(e) or time.monotonic() >= deadline:
            return e
        time.sleep(0.05)


# ---- clients ----------------------------------------------------------------------------------

class CountingConnection(RawConnection):
    """A RawConnection that counts every byte it sends and receives (what the gateway's
    bytes_in and bytes_out must be for this client)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.sent = 0
        self.received = 0

    def send(self, data):
        super().send(data)
        self.sent += len(data)

    def _fill(self, deadline):
        before = len(self.buf)
        try:
            super()._fill(deadline)
        finally:
            self.received += len(self.buf) - before

    def local_address(self):
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"


def echo_session(testcase, host, port, path, messages, close_code=1000, opcode=OP_BINARY):
    """A whole WebSocket session with the echo service, written by hand: upgrade, each message
    sent and its echo read, a close with close_code, the gateway's close read and its TCP close
    awaited. Returns the CountingConnection (closed) with its byte counts and local address."""
    conn = CountingConnection(host, port)
    testcase.addCleanup(conn.close)
    resp = conn.request(upgrade_request(path, f"{host}:{port}"))
    testcase.assertEqual(resp.status, 101, f"upgrade refused: {resp.raw!r}")
    for payload in messages:
        conn.send_frame(opcode, payload)
        got_opcode, got, _ = conn.read_message()
        testcase.assertEqual((got_opcode, got), (opcode, payload))
    conn.send_frame(OP_CLOSE, close_payload(close_code))
    frame = conn.read_frame()
    testcase.assertEqual(frame.opcode, OP_CLOSE, f"expected the close reply, got {frame!r}")
    testcase.assertEqual(frame.close_code, close_code)
    testcase.assertTrue(conn.is_closed_by_peer(5), "the gateway did not close the TCP connection after the close")
    conn.address = conn.local_address()
    conn.close()
    return conn


def refused_request(host, port, path):
    """An upgrade request for a path no service has: (request bytes, response bytes, local
    address); the response must be a 404 and the connection closed by the gateway."""
    request = upgrade_request(path, f"{host}:{port}").encode()
    with RawConnection(host, port) as conn:
        local = "%s:%d" % conn.sock.getsockname()[:2]
        conn.send(request)
        response = conn.read_to_eof()
    assert response.startswith(b"HTTP/1.1 404 "), response
    return request, response, local


# ---- /metrics ---------------------------------------------------------------------------------

MGMT_HOST = "127.0.80.1"
ECHO_PORT, MGMT_PORT = 8000, 8001


class Metrics(GatewayTestCase):
    """One gateway per test: every count starts at zero."""

    config = gateway_xml(
        service_xml(ECHO_NAME, f"ws://{MGMT_HOST}:{ECHO_PORT}/echo"),
        service_xml("ops", f"http://{MGMT_HOST}:{MGMT_PORT}/", type_="management", allow_origin=None))

    def scrape(self):
        status, headers, body = http_request(MGMT_HOST, MGMT_PORT, "/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("content-type"), PROMETHEUS_TYPE)
        self.assertEqual(int(headers.get("content-length", -1)), len(body))
        exposition = Exposition(body.decode("utf-8"))
        self.assertEqual(exposition.errors, [], exposition.text)
        return exposition

    def scrape_until(self, predicate, timeout=5.0):
        """The first scrape for which predicate(exposition) holds, polling up to timeout s;
        the last scrape when it never does (the caller's assertions then say what differs)."""
        deadline = time.monotonic() + timeout
        while True:
            exposition = self.scrape()
            if predicate(exposition) or time.monotonic() >= deadline:
                return exposition
            time.sleep(0.05)

    def test_an_echo_session_is_counted_exactly(self):
        before = self.scrape()
        self.assertEqual(before.total("postern_connections_total", service=ECHO_NAME), 0)
        self.assertEqual(before.matching("postern_close_codes_total"), [])
        payloads = [bytes([n]) * 10 for n in range(5)]
        conn = echo_session(self, MGMT_HOST, ECHO_PORT, "/echo", payloads)
        # The session ends (and is counted) when the gateway forgets the connection, just after
        # its TCP close: poll briefly.
        after = self.scrape_until(lambda e: e.total("postern_connections_open", service=ECHO_NAME) == 0
                                  and e.value("postern_messages_total", service=ECHO_NAME, direction="in") == 5)
        self.assertEqual(after.value("postern_messages_total", service=ECHO_NAME, direction="in"), 5)
        self.assertEqual(after.value("postern_messages_total", service=ECHO_NAME, direction="out"), 5)
        self.assertEqual(after.total("postern_connections_total", service=ECHO_NAME), 1)
        self.assertEqual(after.total("postern_connections_open", service=ECHO_NAME), 0)
        self.assertEqual(after.value("postern_close_codes_total", code="1000"), 1)
        # Bytes: the upgrade request, 5 masked frames of 2+4+10 and the close (2+4+2) in; the
        # 101 response, the echoed frames and the close reply out: exactly what the client saw.
        self.assertGreaterEqual(conn.sent, 5 * 16 + 8)
        self.assertEqual(after.value("postern_bytes_total", service=ECHO_NAME, direction="in"), conn.sent)
        self.assertEqual(after.value("postern_bytes_total", service=ECHO_NAME, direction="out"), conn.received)
        # The scrapes are the management service's sessions, not the echo's; nothing was refused.
        self.assertGreaterEqual(after.total("postern_connections_total", service="ops"), 2)
        self.assertEqual(after.matching("postern_handshake_failures_total"), [])

    def test_an_open_session_is_counted_open_with_its_traffic_so_far(self):
        conn = CountingConnection(MGMT_HOST, ECHO_PORT)
        self.addCleanup(conn.close)
        self.assertEqual(conn.request(upgrade_request("/echo", f"{MGMT_HOST}:{ECHO_PORT}")).status, 101)
        for text in (b"one", b"two"):
            conn.send_frame(OP_TEXT, text)
            self.assertEqual(conn.read_message()[:2], (OP_TEXT, text))
        during = self.scrape()
        self.assertEqual(during.total("postern_connections_open", service=ECHO_NAME), 1)
        self.assertEqual(during.total("postern_connections_total", service=ECHO_NAME), 1)
        self.assertEqual(during.value("postern_messages_total", service=ECHO_NAME, direction="in"), 2)
        self.assertEqual(during.value("postern_messages_total", service=ECHO_NAME, direction="out"), 2)
        self.assertEqual(during.value("postern_bytes_total", service=ECHO_NAME, direction="in"), conn.sent)
        self.assertEqual(during.value("postern_bytes_total", service=ECHO_NAME, direction="out"), conn.received)
        # Its socket and the scrape's are open (on whichever reactors took them).
        self.assertGreaterEqual(during.total("postern_open_sockets"), 2)
        conn.send_frame(OP_CLOSE, close_payload(1001))
        self.assertEqual(conn.read_frame().close_code, 1001)
        self.assertTrue(conn.is_closed_by_peer(5))
        conn.close()   # the gateway closed first and waits (up to 2 s) for this FIN
        after = self.scrape_until(lambda e: e.total("postern_connections_open", service=ECHO_NAME) == 0)
        self.assertEqual(after.total("postern_connections_open", service=ECHO_NAME), 0)
        self.assertEqual(after.value("postern_close_codes_total", code="1001"), 1)
        self.assertEqual(after.matching("postern_close_codes_total", code="1000"), [])
        self.assertEqual(after.value("postern_messages_total", service=ECHO_NAME, direction="in"), 2)

    def test_a_wrong_path_adds_one_404(self):
        before = self.scrape()
        self.assertEqual(before.total("postern_handshake_failures_total", status="404"), 0)
        refused_request(MGMT_HOST, ECHO_PORT, "/nope")
        after = self.scrape_until(lambda e: e.total("postern_handshake_failures_total", status="404") >= 1)
        self.assertEqual(after.value("postern_handshake_failures_total", status="404"), 1)
        self.assertEqual(len(after.matching("postern_handshake_failures_total")), 1, after.text)
        # A refused request belongs to no service.
        self.assertEqual(after.total("postern_connections_total", service=ECHO_NAME), 0)
        refused_request(MGMT_HOST, ECHO_PORT, "/echo/deeper")
        again = self.scrape_until(lambda e: e.total("postern_handshake_failures_total", status="404") >= 2)
        self.assertEqual(again.value("postern_handshake_failures_total", status="404"), 2)

    def test_every_metric_is_described_once_and_every_reactor_reports(self):
        e = self.scrape()
        n = reactor_count(self.gateway)
        for name in BASE_METRICS:
            self.assertEqual(e.help.get(name), 1, f"# HELP of {name}")
            self.assertEqual(e.type.get(name), 1, f"# TYPE of {name}")
        self.assertEqual(sorted(e.type), sorted(BASE_METRICS), "metrics beyond the documented ones (no <cluster>)")
        for name, kind in e.types.items():
            self.assertEqual(kind == "counter", name.endswith("_total"), name)
        reactors = {str(r) for r in range(n)}
        for name in ("postern_event_loop_lag_seconds", "postern_open_sockets"):
            self.assertEqual({l["reactor"] for l, _ in e.matching(name)}, reactors, name)
            self.assertEqual(len(e.matching(name)), n, name)
        for name in ("postern_connections_open", "postern_connections_total"):
            for service in (ECHO_NAME, "ops"):
                self.assertEqual({l["reactor"] for l, _ in e.matching(name, service=service)}, reactors, name)
        for _, lag in e.matching("postern_event_loop_lag_seconds"):
            self.assertTrue(0 <= lag < 2.0, f"event-loop lag {lag} s on an idle gateway")
        self.assertEqual(e.value("postern_ready"), 1)   # an echo service is always ready
        self.assertEqual(e.value("postern_reverse_links", side="dmz", state="idle"), 0)
        self.assertEqual(e.value("postern_reverse_links", side="internal", state="idle"), 0)
        self.assertEqual(e.value("postern_reverse_links", side="dmz", state="in_use"), 0)
        self.assertEqual(e.value("postern_reverse_links", side="internal", state="in_use"), 0)
        self.assertEqual(len(e.matching("postern_reverse_links")), 4)
        self.assertEqual(e.value("postern_connections_refused_at_limit_total"), 0)
        # This scrape is the one connection open: the management service's, on one reactor.
        self.assertEqual(e.total("postern_connections_open", service="ops"), 1)
        self.assertEqual(e.total("postern_connections_open", service=ECHO_NAME), 0)
        # The health answer agrees with postern_ready.
        status, headers, body = http_request(MGMT_HOST, MGMT_PORT, "/health")
        self.assertEqual((status, body), (200, b"ready\n"))


ADMIN_PORT = 8010


class ManagementRequests(GatewayTestCase):
    """A management service under /admin on the echo service's own listener."""

    shared_gateway = True
    config = gateway_xml(
        service_xml(ECHO_NAME, f"ws://{MGMT_HOST}:{ADMIN_PORT}/echo"),
        service_xml("ops", f"http://{MGMT_HOST}:{ADMIN_PORT}/admin", type_="management", allow_origin=None))

    def test_post_gets_405_with_allow(self):
        for path in ("/admin/metrics", "/admin/health"):
            status, headers, body = http_request(MGMT_HOST, ADMIN_PORT, path, method="POST", body=b"x=1")
            self.assertEqual(status, 405, f"POST {path}: {body!r}")
            self.assertEqual(headers.get("allow"), "GET, HEAD", path)
            self.assertEqual(int(headers.get("content-length", -1)), len(body))
            self.assertNotIn(b"postern_", body)

    def test_wrong_paths_get_404(self):
        for path in ("/nope", "/admin", "/admin/", "/metrics", "/health", "/admin/metrics/x"):
            status, _, body = http_request(MGMT_HOST, ADMIN_PORT, path)
            self.assertEqual(status, 404, f"GET {path}: {body!r}")

    def test_get_and_head(self):
        status, headers, body = http_request(MGMT_HOST, ADMIN_PORT, "/admin/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], PROMETHEUS_TYPE)
        self.assertEqual(int(headers["content-length"]), len(body))
        self.assertEqual(Exposition(body.decode()).errors, [])
        status, headers, body = http_request(MGMT_HOST, ADMIN_PORT, "/admin/metrics", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], PROMETHEUS_TYPE)
        self.assertGreater(int(headers["content-length"]), 1000)
        self.assertEqual(body, b"", "HEAD must not carry a body")
        status, headers, body = http_request(MGMT_HOST, ADMIN_PORT, "/admin/health")
        self.assertEqual((status, body), (200, b"ready\n"))
        self.assertEqual(int(headers["content-length"]), 6)
        # A query string does not change the route (scrapers may add one).
        self.assertEqual(http_request(MGMT_HOST, ADMIN_PORT, "/admin/health?probe=1")[0], 200)

    def test_the_echo_service_still_serves_on_the_shared_listener(self):
        conn = echo_session(self, MGMT_HOST, ADMIN_PORT, "/echo", [b"shared"], opcode=OP_TEXT)
        self.assertGreater(conn.received, 0)


class HealthAnswers(GatewayTestCase):
    """A gateway with only a management service: nothing it serves can be ready."""

    config = gateway_xml(service_xml("ops", "http://127.0.80.8:8001/", type_="management", allow_origin=None))

    def test_not_ready_is_503_and_is_not_a_handshake_failure(self):
        for _ in range(3):
            status, headers, body = http_request("127.0.80.8", 8001, "/health")
            self.assertEqual((status, body), (503, b"not ready\n"))
            self.assertEqual(int(headers["content-length"]), len(body))
        self.assertEqual(http_request("127.0.80.8", 8001, "/nope")[0], 404)
        e = metrics_until("127.0.80.8", 8001, lambda e: e.total("postern_handshake_failures_total", status="404") == 1)
        self.assertEqual(e.value("postern_ready"), 0)
        # A refused request still counts...
        self.assertEqual(e.value("postern_handshake_failures_total", status="404"), 1)
        # ...but a health check answered "not ready" was not a handshake that failed: were it
        # counted, every load-balancer probe of a member out of service would add a failure.
        self.assertEqual(e.matching("postern_handshake_failures_total", status="503"), [],
                         "/health answers counted as handshake failures")


# ---- /health and a proxy's backend ------------------------------------------------------------

PROXY_HOST = "127.0.80.2"
PROXY_PORT, PROXY_MGMT_PORT, PROXY_BACKEND_PORT = 8000, 8001, 9002


class HealthFollowsTheBackend(MultiGatewayTestCase):
    def setUp(self):
        super().setUp()
        self.loop = BackendLoop()
        self.addCleanup(self.loop.stop)
        self.backend = self.loop.start(TcpEcho(PROXY_HOST, PROXY_BACKEND_PORT))

    def proxied_upgrade_status(self):
        with RawConnection(PROXY_HOST, PROXY_PORT) as conn:
            return conn.request(upgrade_request("/app", f"{PROXY_HOST}:{PROXY_PORT}"), timeout=8).status

    def test_health_is_503_while_the_backend_is_down_and_200_when_it_is_back(self):
        g = self.start(gateway_xml(
            service_xml("App", f"ws://{PROXY_HOST}:{PROXY_PORT}/app", type_="proxy",
                        connects=f"tcp://{PROXY_HOST}:{PROXY_BACKEND_PORT}",
                        properties={"maximum.recovery.interval": "1 second"},
                        connect_options={"tcp.connect.timeout": "1 second"}),
            service_xml("ops", f"http://{PROXY_HOST}:{PROXY_MGMT_PORT}/", type_="management", allow_origin=None)))
        self.assertTrue(wait_until(lambda: health(PROXY_HOST, PROXY_MGMT_PORT) == 200, 5),
                        f"/health: {health(PROXY_HOST, PROXY_MGMT_PORT)} with the backend up\n{g.log_text()}")
        self.assertEqual(metrics_of(PROXY_HOST, PROXY_MGMT_PORT).value("postern_ready"), 1)
        self.assertEqual(self.proxied_upgrade_status(), 101)

        self.loop.stop_server(self.backend)
        # Readiness is the last connect's result (README "Readiness"): a client finds the
        # backend gone (502), and from then on the member is not ready.
        self.assertEqual(self.proxied_upgrade_status(), 502)
        self.assertTrue(wait_until(lambda: health(PROXY_HOST, PROXY_MGMT_PORT) == 503, 10),
                        f"/health: {health(PROXY_HOST, PROXY_MGMT_PORT)} 10 s after the backend went\n{g.log_text()}")
        self.assertEqual(metrics_of(PROXY_HOST, PROXY_MGMT_PORT).value("postern_ready"), 0)
        status, headers, body = http_request(PROXY_HOST, PROXY_MGMT_PORT, "/health")
        self.assertEqual((status, body), (503, b"not ready\n"))

        self.backend = self.loop.start(TcpEcho(PROXY_HOST, PROXY_BACKEND_PORT))
        # Probes back off from 500 ms up to maximum.recovery.interval (1 s here).
        self.assertTrue(wait_until(lambda: health(PROXY_HOST, PROXY_MGMT_PORT) == 200, 10),
                        f"/health: {health(PROXY_HOST, PROXY_MGMT_PORT)} 10 s after the backend came back\n"
                        f"{g.log_text()}")
        self.assertEqual(metrics_of(PROXY_HOST, PROXY_MGMT_PORT).value("postern_ready"), 1)
        self.assertEqual(self.proxied_upgrade_status(), 101)
        e = metrics_of(PROXY_HOST, PROXY_MGMT_PORT)
        self.assertEqual(e.value("postern_handshake_failures_total", status="502"), 1)
        self.assertEqual(e.total("postern_connections_total", service="App"), 3)


    def test_health_turns_503_when_an_idle_gateway_loses_its_backend(self):
        # README "Metrics and health": /health is 200 for "a proxy while its backend answers",
        # for an L4 load balancer's health check: with no client to try the backend, the
        # check itself must see it go.
        g = self.start(gateway_xml(
            service_xml("App", f"ws://{PROXY_HOST}:{PROXY_PORT}/app", type_="proxy",
                        connects=f"tcp://{PROXY_HOST}:{PROXY_BACKEND_PORT}",
                        properties={"maximum.recovery.interval": "1 second"}),
            service_xml("ops", f"http://{PROXY_HOST}:{PROXY_MGMT_PORT}/", type_="management", allow_origin=None)))
        self.assertTrue(wait_until(lambda: health(PROXY_HOST, PROXY_MGMT_PORT) == 200, 5), g.log_text())
        self.loop.stop_server(self.backend)
        self.assertTrue(wait_until(lambda: health(PROXY_HOST, PROXY_MGMT_PORT) == 503, 10, interval=0.25),
                        f"/health still {health(PROXY_HOST, PROXY_MGMT_PORT)} 10 s after the only backend went "
                        f"away (no client tried it meanwhile): readiness is only re-checked by client "
                        f"connects\n{g.log_text()}")


BALANCED_HOST, BALANCED_BACKEND_PORT = "127.0.80.9", 9009


class HealthOfBalancedServices(MultiGatewayTestCase):
    """A standalone balancer (no <cluster>) over a proxy whose backend the test starts late,
    beside an echo service under no <balance>: only the balanced service decides /health."""

    def balancer_upgrade_status(self):
        with RawConnection(BALANCED_HOST, 8000) as conn:
            return conn.request(upgrade_request("/app", "balance.example:8000"), timeout=8).status

    def test_health_follows_the_balanced_service_only(self):
        bind = {"tcp.bind": f"{BALANCED_HOST}:8000"}
        balance_uri = "ws://balance.example:8000/app"
        member = service_xml("Member", f"ws://{BALANCED_HOST}:8000/app", type_="proxy",
                             connects=f"tcp://{BALANCED_HOST}:{BALANCED_BACKEND_PORT}", accept_options=bind,
                             properties={"maximum.recovery.interval": "1 second"})
        member = member.replace("    <type>", f"    <balance>{balance_uri}</balance>\n    <type>", 1)
        g = self.start(gateway_xml(
            service_xml("Balancer", balance_uri, type_="balancer", accept_options=bind),
            member,
            service_xml("Unbalanced echo", f"ws://{BALANCED_HOST}:8000/echo"),
            service_xml("ops", f"http://{BALANCED_HOST}:8001/", type_="management", allow_origin=None)))
        self.assertIsNotNone(g.wait_for_log("backend unreachable", 5), g.log_text())
        # The echo service is ready, but it is not balanced: the member is not ready.
        self.assertEqual(health(BALANCED_HOST, 8001), 503)
        self.assertEqual(self.balancer_upgrade_status(), 503)
        e = metrics_of(BALANCED_HOST, 8001)
        self.assertEqual(e.value("postern_ready"), 0)
        self.assertEqual(e.value("postern_balancer_decisions_total", member="(none ready)"), 1)

        loop = BackendLoop()
        self.addCleanup(loop.stop)
        loop.start(TcpEcho(BALANCED_HOST, BALANCED_BACKEND_PORT))
        self.assertTrue(wait_until(lambda: health(BALANCED_HOST, 8001) == 200, 10),
                        f"/health: {health(BALANCED_HOST, 8001)} 10 s after the backend came up\n{g.log_text()}")
        # The balancer's table follows the readiness by a message of its own: a moment later.
        statuses = []
        self.assertTrue(wait_until(lambda: statuses.append(self.balancer_upgrade_status()) or statuses[-1] == 101, 5),
                        f"the balancer answered {statuses} while /health said ready")
        e = metrics_of(BALANCED_HOST, 8001)
        self.assertEqual(e.value("postern_ready"), 1)
        self.assertEqual(e.value("postern_balancer_decisions_total", member="(none ready)"), 1 + statuses.count(503))
        self.assertEqual(e.value("postern_balancer_decisions_total", member="(this member)"), 1)
        # The served client counts under the member, not the balancer.
        self.assertEqual(e.total("postern_connections_total", service="Member"), 1)


# ---- /health and the reverse links ------------------------------------------------------------

DMZ, INTERNAL, LINK_BACKEND = "127.0.80.3", "127.0.80.4", "127.0.80.5"
BACKPLANE_PORT, DMZ_TCP_PORT, LINK_BACKEND_PORT, LINK_MGMT_PORT = 1480, 9080, 3180, 8001
PREPARED = 2


class HealthFollowsTheReverseLinks(MultiGatewayTestCase):
    def setUp(self):
        super().setUp()
        self.loop = BackendLoop()
        self.addCleanup(self.loop.stop)
        self.loop.start(TcpEcho(LINK_BACKEND, LINK_BACKEND_PORT))

    def configs(self):
        logical = "tcp://app.internal:9000"
        transport = {"tcp.transport": f"socks://{DMZ}:{BACKPLANE_PORT}", "socks.mode": "reverse"}
        dmz = gateway_xml(
            service_xml("DMZ tcp", f"tcp://{DMZ}:{DMZ_TCP_PORT}", type_="proxy", connects=logical,
                        connect_options=dict(transport, **{"socks.timeout": "2 seconds"}), allow_origin=None),
            service_xml("ops", f"http://{DMZ}:{LINK_MGMT_PORT}/", type_="management", allow_origin=None))
        internal = gateway_xml(
            service_xml("Internal tcp", logical, type_="proxy", connects=f"tcp://{LINK_BACKEND}:{LINK_BACKEND_PORT}",
                        accept_options=dict(transport, **{"socks.retry.maximum.interval": "1 second"}),
                        properties={"prepared.connection.count": str(PREPARED)}, allow_origin=None),
            service_xml("ops", f"http://{INTERNAL}:{LINK_MGMT_PORT}/", type_="management", allow_origin=None))
        return dmz, internal

    def test_dmz_health_follows_its_parked_links(self):
        dmz_config, internal_config = self.configs()
        dmz = self.start(dmz_config)
        # No link yet: not ready.
        self.assertEqual(health(DMZ, LINK_MGMT_PORT), 503)
        internal = self.start(internal_config)

        def idle(host, side, state="idle"):
            return metrics_of(host, LINK_MGMT_PORT).value("postern_reverse_links", side=side, state=state)

        self.assertTrue(wait_until(lambda: health(DMZ, LINK_MGMT_PORT) == 200, 10),
                        f"DMZ /health: {health(DMZ, LINK_MGMT_PORT)} with the internal gateway up\n"
                        f"{dmz.log_text()}\n{internal.log_text()}")
        self.assertTrue(wait_until(lambda: idle(DMZ, "dmz") == PREPARED, 5),
                        f"DMZ: {idle(DMZ, 'dmz')} links idle, expected {PREPARED}")
        self.assertTrue(wait_until(lambda: idle(INTERNAL, "internal") == PREPARED, 5),
                        f"internal: {idle(INTERNAL, 'internal')} links idle, expected {PREPARED}")
        self.assertEqual(idle(DMZ, "internal"), 0)
        self.assertEqual(idle(INTERNAL, "dmz"), 0)
        self.assertEqual(health(INTERNAL, LINK_MGMT_PORT), 200)   # its backend is up

        for host, side in ((DMZ, "dmz"), (INTERNAL, "internal")):
            self.assertEqual(idle(host, side, "in_use"), 0, side)
        # A client takes a link on both sides (in use while it is connected); a replacement is
        # parked at once.
        with socket.create_connection((DMZ, DMZ_TCP_PORT), timeout=5) as client:
            client.sendall(b"through the link")
            self.assertEqual(client.recv(64), b"through the link")
            self.assertEqual(idle(DMZ, "dmz", "in_use"), 1)
            self.assertEqual(idle(INTERNAL, "internal", "in_use"), 1)
            self.assertEqual(idle(DMZ, "internal", "in_use"), 0)
            self.assertTrue(wait_until(lambda: idle(DMZ, "dmz") == PREPARED, 5),
                            f"DMZ: {idle(DMZ, 'dmz')} links idle beside the one in use, expected {PREPARED}")
        self.assertEqual(metrics_of(DMZ, LINK_MGMT_PORT).value("postern_reverse_links_claimed_total"), 1)
        self.assertEqual(metrics_of(INTERNAL, LINK_MGMT_PORT).value("postern_reverse_links_claimed_total"), 1)
        self.assertTrue(wait_until(lambda: idle(DMZ, "dmz", "in_use") == 0 and idle(INTERNAL, "internal", "in_use") == 0, 5),
                        f"links in use after the client left: DMZ {idle(DMZ, 'dmz', 'in_use')}, "
                        f"internal {idle(INTERNAL, 'internal', 'in_use')}")
        self.assertEqual(idle(DMZ, "dmz"), PREPARED)
        self.assertEqual(metrics_of(DMZ, LINK_MGMT_PORT).total("postern_connections_total", service="DMZ tcp"), 1)

        self.assertEqual(internal.stop(), 0)
        self.assertTrue(wait_until(lambda: health(DMZ, LINK_MGMT_PORT) == 503, 10),
                        f"DMZ /health: {health(DMZ, LINK_MGMT_PORT)} 10 s after the internal gateway stopped\n"
                        f"{dmz.log_text()}")
        e = metrics_of(DMZ, LINK_MGMT_PORT)
        self.assertEqual(e.value("postern_reverse_links", side="dmz", state="idle"), 0)
        self.assertEqual(e.value("postern_ready"), 0)


# ---- the access log ---------------------------------------------------------------------------

LOG_HOST = "127.0.80.6"
ACCESS_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z client=(?P<client>\S+) service=(?P<service>-|\"(?:[^\"\\]|\\.)*\") "
    r"duration=(?P<duration>\d+\.\d{3}) bytes_in=(?P<bytes_in>\d+) bytes_out=(?P<bytes_out>\d+) "
    r"messages_in=(?P<messages_in>\d+) messages_out=(?P<messages_out>\d+) end=(?P<end>\S+)$")


def parse_access_lines(text):
    """The access lines of text as dicts; AssertionError on a line of another shape."""
    out = []
    for line in text.splitlines():
        m = ACCESS_LINE.match(line)
        assert m, f"not an access line: {line!r}"
        out.append(m.groupdict())
    return out


def lines_for(path, client, skip=0):
    """The access lines of the file at path for this client ("ip:port"), after its first skip
    lines (written by the test)."""
    try:
        text = "".join(Path(path).read_text().splitlines(keepends=True)[skip:])
    except FileNotFoundError:
        return []
    return [line for line in parse_access_lines(text) if line["client"] == client]


def wait_for_line(path, client, timeout=5.0, skip=0):
    """The one access line for client, waiting up to timeout s for it."""
    wait_until(lambda: lines_for(path, client, skip), timeout)
    found = lines_for(path, client, skip)
    assert len(found) == 1, f"{len(found)} access lines for {client} in {path}:\n" + \
        (Path(path).read_text() if Path(path).exists() else "(no file)")
    return found[0]


def echo_config(port):
    return gateway_xml(service_xml(ECHO_NAME, f"ws://{LOG_HOST}:{port}/echo"))


class AccessLogOnStandardOutput(GatewayTestCase):
    """The default destination: the harness writes the gateway's standard output to out_path."""

    config = echo_config(8000)

    def assert_recent(self, line):
        stamp = datetime.datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
        age = (datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds()
        self.assertTrue(-2 < age < 30, f"access line time {line['time']}Z is {age:.1f} s from now (UTC)")

    def test_one_line_for_an_echo_session(self):
        conn = echo_session(self, LOG_HOST, 8000, "/echo", [b"a" * 10, b"b" * 20, b"c" * 30], opcode=OP_TEXT)
        line = wait_for_line(self.gateway.out_path, conn.address)
        self.assertEqual(line["service"], f'"{ECHO_NAME}"')
        self.assertEqual((line["messages_in"], line["messages_out"]), ("3", "3"))
        self.assertEqual(line["end"], "close:1000")
        self.assertEqual(int(line["bytes_in"]), conn.sent)
        self.assertEqual(int(line["bytes_out"]), conn.received)
        self.assertLess(float(line["duration"]), 5.0)
        self.assert_recent(line)
        # Exactly one line in all: no other session happened.
        self.assertEqual(len(parse_access_lines(self.gateway.out_path.read_text())), 1,
                         self.gateway.out_path.read_text())

    def test_a_refused_request_has_its_status_and_no_service(self):
        request, response, local = refused_request(LOG_HOST, 8000, "/nope")
        line = wait_for_line(self.gateway.out_path, local)
        self.assertEqual(line["service"], "-")
        self.assertEqual(line["end"], "status:404")
        self.assertEqual((int(line["bytes_in"]), int(line["bytes_out"])), (len(request), len(response)))
        self.assertEqual((line["messages_in"], line["messages_out"]), ("0", "0"))

    def test_a_client_that_leaves_without_a_close_frame_ends_with_eof(self):
        conn = CountingConnection(LOG_HOST, 8000)
        self.addCleanup(conn.close)
        self.assertEqual(conn.request(upgrade_request("/echo", f"{LOG_HOST}:8000")).status, 101)
        conn.send_frame(OP_TEXT, b"bye")
        self.assertEqual(conn.read_message()[:2], (OP_TEXT, b"bye"))
        address = conn.local_address()
        conn.sock.shutdown(socket.SHUT_WR)
        conn.read_to_eof()
        conn.close()
        line = wait_for_line(self.gateway.out_path, address)
        self.assertEqual(line["end"], "eof")
        self.assertEqual((line["messages_in"], line["messages_out"]), ("1", "1"))
        self.assertEqual(int(line["bytes_in"]), conn.sent)
        self.assertEqual(line["service"], f'"{ECHO_NAME}"')


class AccessLogDestinations(MultiGatewayTestCase):
    def setUp(self):
        super().setUp()
        self.dir = Path(tempfile.mkdtemp(prefix="postern-access-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start_with(self, config_text, *args):
        g = Gateway(config_text=config_text, extra_args=list(args))
        self.gateways.append(g)
        g.start()
        return g

    def test_a_file_gets_the_lines_and_standard_output_none(self):
        path = self.dir / "access.log"
        path.write_text("an earlier line\n")
        g = self.start_with(echo_config(8010), "--access-log", str(path))
        conn = echo_session(self, LOG_HOST, 8010, "/echo", [b"x" * 10] * 2)
        request, response, local = refused_request(LOG_HOST, 8010, "/nope")
        wait_until(lambda: len(path.read_text().splitlines()) >= 3, 5)
        lines = path.read_text().splitlines()
        self.assertEqual(lines[0], "an earlier line", "the file must be appended to")
        self.assertEqual(len(lines), 3, lines)
        session = wait_for_line(path, conn.address, skip=1)
        self.assertEqual((session["messages_in"], session["messages_out"], session["end"]), ("2", "2", "close:1000"))
        refused = wait_for_line(path, local, skip=1)
        self.assertEqual((refused["service"], refused["end"]), ("-", "status:404"))
        self.assertEqual(g.out_path.read_text(), "", "access lines on standard output too")

    def test_a_new_file_is_created_0640(self):
        path = self.dir / "new.log"
        old_umask = os.umask(0o022)
        try:
            self.start_with(echo_config(8020), "--access-log", str(path))
        finally:
            os.umask(old_umask)
        self.assertTrue(path.exists(), "the access log is opened at start")
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o640)
        conn = echo_session(self, LOG_HOST, 8020, "/echo", [b"y"])
        self.assertEqual(wait_for_line(path, conn.address)["end"], "close:1000")

    def test_off_writes_no_line_anywhere(self):
        cwd_off = Path.cwd() / "off"
        existed = cwd_off.exists()
        g = self.start_with(echo_config(8030), "--access-log", "off")
        echo_session(self, LOG_HOST, 8030, "/echo", [b"z" * 10])
        refused_request(LOG_HOST, 8030, "/nope")
        # The 404 is logged (stderr) when it is answered; give the access line every chance.
        self.assertIsNotNone(g.wait_for_log("refused: 404", 5))
        time.sleep(0.3)
        self.assertEqual(g.out_path.read_text(), "")
        self.assertIsNone(re.search(r" client=\S+ service=", g.log_text()), g.log_text())
        if not existed:
            self.assertFalse(cwd_off.exists(), "--access-log off created a file named 'off'")

    def test_an_unopenable_file_stops_the_start_with_its_name(self):
        config = self.dir / "gateway-config.xml"
        config.write_text(echo_config(8040))
        bad = self.dir / "missing-dir" / "access.log"
        try:
            done = run_postern(["-c", str(config), "--access-log", str(bad)], timeout=10)
        except subprocess.TimeoutExpired:
            self.fail(f"postern started although {bad} cannot be opened")
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn(str(bad), done.stderr)
        self.assertNotIn("postern ready", done.stderr)


# ---- a stalled standard output ----------------------------------------------------------------

PIPE_HOST = "127.0.80.7"


class PipedGateway(Gateway):
    """A gateway whose standard output is a pipe that this test never reads (like a log shipper
    that stalls)."""

    def spawn(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL)

    def release_pipe(self):
        """Closes the read end: a write blocked on the full pipe fails (EPIPE) and returns."""
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


class StalledStandardOutput(MultiGatewayTestCase):
    REQUESTS = 1200          # about 140 bytes of access line each: twice a 64 KiB pipe buffer

    def test_a_stalled_reader_of_standard_output_does_not_stop_the_gateway(self):
        g = PipedGateway(config_text=gateway_xml(service_xml(ECHO_NAME, f"ws://{PIPE_HOST}:8000/echo")))
        self.gateways.append(g)
        g.start()
        served, failure = 0, None
        try:
            for n in range(self.REQUESTS):
                try:
                    with RawConnection(PIPE_HOST, 8000, timeout=2) as conn:
                        status = conn.request(upgrade_request("/nope", f"{PIPE_HOST}:8000"), timeout=2).status
                except (OSError, TimeoutError, Closed) as error:
                    failure = f"request {n}: {type(error).__name__}: {error}"
                    break
                self.assertEqual(status, 404)
                served += 1
        finally:
            g.release_pipe()
        self.assertEqual(served, self.REQUESTS,
                         f"the gateway stopped answering after {served} requests ({failure}) while nobody read "
                         f"its standard output: the access log's write(2) blocks a reactor on a full pipe")
        self.assertIn("access log -: its reader is not keeping up", g.log_text(),
                      "lines were lost without a warning")


if __name__ == "__main__":
    unittest.main()
