"""Socks links between a DMZ gateway and an internal gateway, each mode and transport (issue 6,
items 1-4), two postern processes and a backend on 127.0.62.x:

- reverse mode over plain socks:// with tcp:// logical URIs (tcp.transport): bytes from a TCP
  client of the DMZ reach the internal gateway's backend and come back; the internal gateway
  logs its links parked, the DMZ logs the service ready; the internal side keeps
  prepared.connection.count links parked (counted on the DMZ's backplane port) and refills one
  at once when a client takes one.
- forward mode (the DMZ dials) over socks+ssl:// with wss:// logical URIs: a WebSocket client of
  the DMZ is echoed by the backend behind the internal gateway; a CONNECT naming a URI the
  internal gateway does not serve gets reply 2 (not allowed) and a log line.
- one prepared link serves clients whichever of the DMZ's reactors accepted them (a link parked
  on another reactor is retired and replaced on the client's).
- a burst of clients that takes every parked link does not make the DMZ member "not ready".
- an internal gateway whose backend is down keeps no link parked (the DMZ is not ready) until
  the backend answers again.
- reverse mode with socks.retry.maximum.interval: an internal gateway started before its DMZ
  keeps retrying and parks its links once the DMZ comes up.
- --check prints how each service is reached.
- the internal side's redials back off from 500 ms, doubling, up to socks.retry.maximum.interval
  (a DMZ stand-in that accepts and closes at once times every attempt).
- a ws backend behind the internal gateway sees the client's address once in X-Forwarded-For
  (the DMZ appends it; the internal gateway, whose peer is that same client, does not again).
"""

import re
import socket
import ssl
import struct
import time
import unittest

from backends import BackendLoop, TcpEcho, WsEcho
from harness import (Gateway, MultiGatewayTestCase, gateway_xml, require_test_pki, run_postern, security_xml,
                     service_xml)
from wire import RawConnection, run_async, upgrade_request, ws_connect

DMZ = "127.0.62.1"
INTERNAL = "127.0.62.2"
BACKEND = "127.0.62.3"
BACKPLANE_PORT = 1462
BACKEND_PORT = 3162


def established_to(address, port):
    """ESTABLISHED TCP sockets of this host whose peer is address:port (/proc/net/tcp)."""
    want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(address))[0], port)
    with open("/proc/net/tcp") as table:
        next(table)
        return sum(1 for line in table if line.split()[2] == want and line.split()[3] == "01")


def wait_until(predicate, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class SocksLinks(MultiGatewayTestCase):
    def setUp(self):
        super().setUp()
        self.loop = BackendLoop()
        self.backend = self.loop.start(TcpEcho(BACKEND, BACKEND_PORT))

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.loop.stop()

    def expect_log(self, gateway, regex, timeout):
        line = gateway.wait_for_log(re.compile(regex), timeout)
        self.assertIsNotNone(line, f"no log line matching {regex!r} within {timeout} s:\n{gateway.log_text()}")
        return line

    # -- configs --

    def tcp_reverse_configs(self, prepared=3):
        logical = "tcp://app.internal:9000"
        transport = {"tcp.transport": f"socks://{DMZ}:{BACKPLANE_PORT}", "socks.mode": "reverse"}
        dmz = gateway_xml(service_xml("DMZ tcp", f"tcp://{DMZ}:9062", type_="proxy", connects=logical,
                                      connect_options=dict(transport, **{"socks.timeout": "2 seconds"}),
                                      allow_origin=None))
        internal = gateway_xml(service_xml("Internal tcp", logical, type_="proxy",
                                           connects=f"tcp://{BACKEND}:{BACKEND_PORT}",
                                           accept_options=dict(transport, **{"socks.retry.maximum.interval": "1 second"}),
                                           properties={"prepared.connection.count": str(prepared)},
                                           allow_origin=None))
        return dmz, internal

    # -- tests --

    def test_reverse_plain_socks_tcp_round_trip_and_refill(self):
        dmz_config, internal_config = self.tcp_reverse_configs(prepared=3)
        dmz = self.start(dmz_config)
        internal = self.start(internal_config)
        self.expect_log(internal, r"reverse links to socks://127\.0\.62\.1:1462 for tcp://app\.internal:9000 parked", 5)
        self.expect_log(dmz, r"service 'DMZ tcp': ready, ", 5)
        self.assertTrue(wait_until(lambda: established_to(DMZ, BACKPLANE_PORT) == 3, 5),
                        f"links parked: {established_to(DMZ, BACKPLANE_PORT)}, expected prepared.connection.count 3")
        with socket.create_connection((DMZ, 9062), timeout=5) as client:
            payload = bytes(range(256)) * 64
            client.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = client.recv(65536)
                self.assertTrue(chunk, "closed before the echo came back")
                got += chunk
            self.assertEqual(got, payload)
            # The claimed link carries this client; a replacement is parked at once: 3 idle + 1 busy.
            self.assertTrue(wait_until(lambda: established_to(DMZ, BACKPLANE_PORT) == 4, 5),
                            f"links: {established_to(DMZ, BACKPLANE_PORT)}, expected 3 parked and 1 in use")
        self.assertTrue(wait_until(lambda: established_to(DMZ, BACKPLANE_PORT) == 3, 5))

    def test_one_prepared_link_serves_clients_on_every_reactor(self):
        # The link parks on one of the DMZ's reactors; a client accepted on another waits, the
        # parked link is retired (reply 6) and its replacement is handed to the client's reactor.
        dmz_config, internal_config = self.tcp_reverse_configs(prepared=1)
        dmz = self.start(dmz_config)
        self.start(internal_config)
        self.expect_log(dmz, r"service 'DMZ tcp': ready, 1 reverse link\(s\) parked", 5)
        for n in range(20):
            with socket.create_connection((DMZ, 9062), timeout=5) as client:
                started = time.monotonic()
                client.sendall(b"client %d" % n)
                self.assertEqual(client.recv(64), b"client %d" % n, f"client {n}")
                self.assertLess(time.monotonic() - started, 1.5, f"client {n} waited for a link")
        self.assertNotIn("within socks.timeout", dmz.log_text())

    def test_a_burst_that_takes_every_link_does_not_make_the_member_flap(self):
        # 200 clients at once against 2 prepared links: the pool is empty for the moments the
        # internal gateway needs to dial replacements, which must not read as "not ready".
        dmz_config, internal_config = self.tcp_reverse_configs(prepared=2)
        dmz = self.start(dmz_config)
        self.start(internal_config)
        self.expect_log(dmz, r"service 'DMZ tcp': ready, ", 5)
        clients = [socket.create_connection((DMZ, 9062), timeout=5) for _ in range(200)]
        try:
            for n, c in enumerate(clients):
                c.sendall(b"burst %d" % n)
            for n, c in enumerate(clients):
                self.assertEqual(c.recv(64), b"burst %d" % n)
        finally:
            for c in clients:
                c.close()
        time.sleep(0.7)  # past the 500 ms grace
        self.assertNotIn("not ready", dmz.log_text())

    def test_no_link_is_parked_while_the_internal_backend_is_down(self):
        # The pair fails over as a unit: an internal gateway that cannot reach its backend keeps
        # no link at the DMZ, so the DMZ member is not ready.
        self.loop.stop_server(self.backend)
        dmz_config, internal_config = self.tcp_reverse_configs(prepared=2)
        dmz = self.start(dmz_config)
        internal = self.start(internal_config)
        self.expect_log(internal, r"service 'Internal tcp': backend unreachable \(", 5)
        time.sleep(1.0)
        self.assertEqual(established_to(DMZ, BACKPLANE_PORT), 0, "links parked while the backend is down")
        self.assertIsNone(re.search(r"service 'DMZ tcp': ready", dmz.log_text()))
        self.backend = self.loop.start(TcpEcho(BACKEND, BACKEND_PORT))
        self.expect_log(internal, r"service 'Internal tcp': backend reachable, dialing reverse links to "
                                  r"socks://127\.0\.62\.1:1462", 10)
        self.expect_log(dmz, r"service 'DMZ tcp': ready, ", 5)
        with socket.create_connection((DMZ, 9062), timeout=5) as client:
            client.sendall(b"back")
            self.assertEqual(client.recv(16), b"back")

    def test_internal_started_first_parks_once_the_dmz_comes_up(self):
        dmz_config, internal_config = self.tcp_reverse_configs(prepared=1)
        internal = self.start(internal_config)
        self.expect_log(internal, r"reverse link to socks://127\.0\.62\.1:1462 for tcp://app\.internal:9000: "
                              r"connect to 127\.0\.62\.1:1462 failed: Connection refused; retrying from 500 ms "
                              r"up to 1000 ms", 5)
        time.sleep(1.5)
        dmz = self.start(dmz_config)
        self.expect_log(internal, r"parked", 5)
        self.expect_log(dmz, r"service 'DMZ tcp': ready, 1 reverse link\(s\) parked", 5)
        with socket.create_connection((DMZ, 9062), timeout=5) as client:
            client.sendall(b"ping")
            self.assertEqual(client.recv(16), b"ping")

    def forward_configs(self, pki):
        logical = "wss://gateway.example.com:8443/app1"
        transport = f"socks+ssl://localhost:{BACKPLANE_PORT}"  # a name in server.pem
        dmz = gateway_xml(service_xml("DMZ fwd", f"ws://{DMZ}:8062/app1", type_="proxy", connects=logical,
                                      connect_options={"http.transport": transport, "socks.mode": "forward"}),
                          security=security_xml(pki / "internal1.pem", pki / "ca.pem"))
        internal = gateway_xml(service_xml("Internal fwd", logical, type_="proxy",
                                           connects=f"tcp://{BACKEND}:{BACKEND_PORT}",
                                           accept_options={"http.transport": transport, "socks.mode": "forward"}),
                               security=security_xml(pki / "server.pem", pki / "ca.pem"))
        return dmz, internal

    def test_forward_socks_ssl_websocket_round_trip(self):
        pki = require_test_pki()
        dmz_config, internal_config = self.forward_configs(pki)
        self.start(internal_config)
        dmz = self.start(dmz_config)
        self.expect_log(dmz, r"service 'DMZ fwd': backend wss://gateway\.example\.com:8443/app1 reachable", 5)
        with RawConnection(DMZ, 8062) as conn:
            resp = conn.request(upgrade_request("/app1", f"{DMZ}:8062"))
            self.assertEqual(resp.status, 101)
            for n in (1, 125, 4000, 70000):
                message = bytes([n % 251]) * n
                conn.send_frame(0x2, message)
                # The tcp backend's bytes come back as binary messages of whatever size they arrive in.
                echoed = b""
                for _ in range(1000):
                    if len(echoed) >= n:
                        break
                    opcode, payload = conn.read_message()[:2]
                    self.assertEqual(opcode, 0x2)
                    echoed += payload
                self.assertEqual(echoed, message)

    def test_forward_connect_for_an_unknown_uri_is_not_allowed(self):
        pki = require_test_pki()
        _, internal_config = self.forward_configs(pki)
        internal = self.start(internal_config)
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        ctx.load_cert_chain(str(pki / "internal1.pem"))
        with socket.create_connection(("127.0.0.1", BACKPLANE_PORT), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as link:
                uri = b"wss://other.example.com:8443/x"
                link.sendall(b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(uri)]) + uri + struct.pack(">H", 8443))
                got = b""
                while len(got) < 12:
                    chunk = link.recv(64)
                    if not chunk:
                        break
                    got += chunk
        self.assertEqual(got[:2], b"\x05\x00", "method choice")
        self.assertEqual(got[2:4], b"\x05\x02", f"reply: {got!r}")
        self.expect_log(internal, r"refused: CONNECT to wss://other\.example\.com:8443/x:8443, which no service here accepts", 5)

    def test_failed_links_are_redialed_after_500_ms_doubling_up_to_the_maximum(self):
        # Every attempt reaches a listener that closes it before any SOCKS reply: a failed link.
        attempts = []
        stand_in = socket.socket()
        stand_in.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stand_in.bind((DMZ, BACKPLANE_PORT + 1))
        stand_in.listen(16)
        stand_in.settimeout(0.2)
        _, internal_config = self.tcp_reverse_configs(prepared=1)
        internal_config = internal_config.replace(f"socks://{DMZ}:{BACKPLANE_PORT}", f"socks://{DMZ}:{BACKPLANE_PORT + 1}")
        internal_config = internal_config.replace("<socks.retry.maximum.interval>1 second",
                                                  "<socks.retry.maximum.interval>2 seconds")
        self.assertIn("2 seconds", internal_config)
        try:
            self.start(internal_config)
            deadline = time.monotonic() + 8.5
            while time.monotonic() < deadline and len(attempts) < 6:
                try:
                    conn, _ = stand_in.accept()
                except socket.timeout:
                    continue
                attempts.append(time.monotonic())
                conn.close()
        finally:
            stand_in.close()
        gaps = [round(b - a, 2) for a, b in zip(attempts, attempts[1:])]
        self.assertGreaterEqual(len(gaps), 4, f"attempts {len(attempts)}, gaps {gaps}")
        expected = [0.5, 1.0, 2.0, 2.0, 2.0][:len(gaps)]
        for gap, want in zip(gaps, expected):
            self.assertTrue(want * 0.75 <= gap <= want + 0.5, f"gaps {gaps}, expected about {expected}")

    def test_reverse_ws_backend_sees_the_client_once_in_x_forwarded_for(self):
        ws_backend = self.loop.start(WsEcho(BACKEND, BACKEND_PORT + 1))
        logical = "ws://app.internal:9001/app"
        transport = {"http.transport": f"socks://{DMZ}:{BACKPLANE_PORT}", "socks.mode": "reverse"}
        dmz = self.start(gateway_xml(service_xml("DMZ ws", f"ws://{DMZ}:8063/app", type_="proxy", connects=logical,
                                                 connect_options=dict(transport, **{"socks.timeout": "2 seconds"}))))
        self.start(gateway_xml(service_xml("Internal ws", logical, type_="proxy",
                                           connects=f"ws://{BACKEND}:{BACKEND_PORT + 1}/echo",
                                           accept_options=transport)))
        self.expect_log(dmz, r"service 'DMZ ws': ready, ", 5)
        for source in ("127.0.62.77", "127.0.62.78"):
            async def go():
                async with ws_connect(f"ws://{DMZ}:8063/app", local_addr=(source, 0),
                                      extra_headers={"X-Forwarded-For": "198.51.100.9"}) as ws:
                    await ws.send("who am I?")
                    return await ws.recv()
            count = len(ws_backend.requests)
            self.assertEqual(run_async(go()), "who am I?")
            self.assertTrue(wait_until(lambda: len(ws_backend.requests) > count, 5))
            self.assertEqual(ws_backend.requests[-1].header("X-Forwarded-For"), [f"198.51.100.9, {source}"])

    def test_check_prints_how_each_service_is_reached(self):
        pki = require_test_pki()
        dmz_config, internal_config = self.forward_configs(pki)
        _, reverse_internal = self.tcp_reverse_configs()
        for config, expected in ((internal_config, "Internal fwd: wss://gateway.example.com:8443/app1 -> forward links at "
                                                   "socks+ssl://localhost:1462 -> proxy -> tcp://127.0.62.3:3162"),
                                 (reverse_internal, "Internal tcp: tcp://app.internal:9000 -> reverse via "
                                                    "socks://127.0.62.1:1462 -> proxy -> tcp://127.0.62.3:3162")):
            g = Gateway(config_text=config)
            try:
                result = run_postern(["--check", "-c", str(g.config_path)])
            finally:
                g.cleanup()
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(expected, result.stdout)


if __name__ == "__main__":
    unittest.main()
