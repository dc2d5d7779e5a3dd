"""TLS on both sides of the proxy service, with the test PKI (scripts/make-test-pki.sh):
wss -> tcp, tcp -> ssl, ssl -> tcp (openssl s_client and Python ssl as clients; a client of a
backend that is down is disconnected), ws -> wss, and backends that postern must not trust (a certificate for another host name, or from a foreign
CA): 502 and a log line naming the backend.

The gateway presents server.pem and trusts ca.pem. Clients reach it at 127.0.24.1 and verify the
name gateway.example.com (in server.pem's SANs). postern verifies TLS backends against the
connect URI's host; server.pem's SANs cover no address in 127.0.20-29, so TLS backends listen
on 127.0.0.1 (in the SANs) at a port the kernel picks, which cannot collide with the fixed
ports other tests use.
"""

import os
import re
import socket
import ssl
import threading
import unittest

from backends import BackendTestCase, TcpEcho, WsEcho, wait_until
from harness import gateway_xml, require_test_pki, security_xml, service_xml
from wire import (RawConnection, SClient, client_ssl_context, recv_bytes, run_async,
                  server_ssl_context, upgrade_request, ws_connect)

HOST = "127.0.24.1"
NAME = "gateway.example.com"
BACKEND_HOST = "127.0.0.1"
MIB = 1024 * 1024


class TlsProxy(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.pki = require_test_pki()
        start = cls.backends.start
        cls.echo = start(TcpEcho(HOST, 9001))
        cls.tls_echo = start(TcpEcho(BACKEND_HOST, 0, ssl=server_ssl_context(cls.pki / "server.pem")))
        cls.wrong_host = start(TcpEcho(BACKEND_HOST, 0,
                                       ssl=server_ssl_context(cls.pki / "wrong-host.pem")))
        cls.foreign = start(TcpEcho(BACKEND_HOST, 0,
                                    ssl=server_ssl_context(cls.pki / "foreign-server.pem")))
        cls.wss_echo = start(WsEcho(BACKEND_HOST, 0, ssl=server_ssl_context(cls.pki / "server.pem")))

    @classmethod
    def make_config(cls):
        def ssl_uri(server):
            return f"ssl://{BACKEND_HOST}:{server.port}"
        return gateway_xml(
            service_xml("wss to tcp", f"wss://{HOST}:8443/echo", type_="proxy",
                        connects=f"tcp://{HOST}:9001"),
            service_xml("tcp to ssl", f"tcp://{HOST}:8001", type_="proxy",
                        connects=ssl_uri(cls.tls_echo), allow_origin=None),
            service_xml("ssl to tcp", f"ssl://{HOST}:8444", type_="proxy",
                        connects=f"tcp://{HOST}:9001", allow_origin=None),
            service_xml("ssl to a tcp backend that is down", f"ssl://{HOST}:8445", type_="proxy",
                        connects=f"tcp://{HOST}:9009", allow_origin=None),
            service_xml("ws to ssl", f"ws://{HOST}:8000/ssl", type_="proxy",
                        connects=ssl_uri(cls.tls_echo)),
            service_xml("ws to wrong-host ssl", f"ws://{HOST}:8000/wrong-host", type_="proxy",
                        connects=ssl_uri(cls.wrong_host)),
            service_xml("ws to foreign ssl", f"ws://{HOST}:8000/foreign", type_="proxy",
                        connects=ssl_uri(cls.foreign)),
            service_xml("ws to wss", f"ws://{HOST}:8000/wss", type_="proxy",
                        connects=f"wss://{BACKEND_HOST}:{cls.wss_echo.port}/echo"),
            security=security_xml(keystore=cls.pki / "server.pem", truststore=cls.pki / "ca.pem"))

    def client_context(self, **kw):
        return client_ssl_context(self.pki / "ca.pem", **kw)

    # ---- TLS at the accept ----

    def test_wss_to_tcp_echo(self):
        text, data = "über TLS ✓", os.urandom(100000)
        async def go():
            async with ws_connect(f"wss://{HOST}:8443/echo", ssl=self.client_context(),
                                  server_hostname=NAME) as ws:
                await ws.send(text)
                first = await recv_bytes(ws, len(text.encode()))
                await ws.send(data)
                return first, await recv_bytes(ws, len(data))
        (got_text, types1), (got_data, types2) = run_async(go())
        self.assertEqual(got_text, text.encode())
        self.assertEqual(got_data, data)
        self.assertEqual(types1 | types2, {bytes})

    def test_ssl_to_tcp_with_openssl_s_client(self):
        data = b"hello through s_client\n" * 100
        with SClient(HOST, 8444, self.pki / "ca.pem", NAME) as client:
            client.send(data)
            got = client.read_exact(len(data), timeout=10)
            status, err = client.finish()
        self.assertEqual(got, data, f"s_client stderr: {err}")
        self.assertIn("verify return:1", err)

    def test_ssl_to_tcp_with_python_ssl_1_mib_then_close_notify_reaches_the_backend(self):
        eofs = self.echo.eofs
        data = os.urandom(MIB)
        with RawConnection(HOST, 8444, timeout=20, ssl_context=self.client_context(),
                           server_hostname=NAME) as conn:
            conn.send(data)
            got = conn.read_exact(len(data), timeout=20)
            self.assertEqual(got, data)
            conn.sock.settimeout(10)
            try:
                conn.sock.unwrap()   # sends close_notify, waits for the gateway's
            except (ssl.SSLError, OSError):
                pass                 # the gateway may end with a plain TCP close instead
        self.assertTrue(wait_until(lambda: self.echo.eofs > eofs, 5),
                        "the backend got no EOF after the client's close_notify")

    def test_ssl_client_of_a_backend_that_is_down_is_disconnected_without_a_byte(self):
        # Nothing listens on HOST:9009. The handshake may complete or be cut short; either way
        # no data comes and the connection ends.
        try:
            with RawConnection(HOST, 8445, timeout=15, ssl_context=self.client_context(),
                               server_hostname=NAME) as conn:
                try:
                    conn.send(b"anyone there?")
                except OSError:
                    pass
                self.assertTrue(conn.is_closed_by_peer(timeout=15),
                                "the client connection is still open 15 s later")
        except (ssl.SSLError, ConnectionError) as error:
            self.assertNotIsInstance(error, ssl.SSLCertVerificationError)

    # ---- TLS at the connect ----

    def test_tcp_to_ssl_backend_1_mib_round_trip_then_eof(self):
        # The client half-closes only after the whole echo came back: the TLS echo cannot
        # write after the close_notify that the client's FIN becomes (see backends.py).
        talked, eofs = self.tls_echo.talked, self.tls_echo.eofs
        data = os.urandom(MIB)
        with socket.create_connection((HOST, 8001), timeout=20) as sock:
            writer = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
            writer.start()
            got = bytearray()
            while len(got) < len(data):
                piece = sock.recv(1 << 16)   # socket.timeout fails the test after 20 s
                self.assertTrue(piece, f"EOF after {len(got)} of {len(data)} bytes")
                got += piece
            writer.join(20)
            sock.shutdown(socket.SHUT_WR)
            self.assertEqual(sock.recv(1 << 16), b"", "no EOF after the backend's close_notify")
        self.assertEqual(bytes(got), data)
        self.assertEqual(self.tls_echo.talked - talked, 1)
        self.assertTrue(wait_until(lambda: self.tls_echo.eofs > eofs, 5),
                        "the TLS backend got no close_notify after the client's FIN")

    def test_ws_to_ssl_backend_with_a_valid_certificate_echoes(self):
        async def go():
            async with ws_connect(f"ws://{HOST}:8000/ssl") as ws:
                await ws.send(b"verified backend")
                return await recv_bytes(ws, 16)
        self.assertEqual(run_async(go())[0], b"verified backend")

    def assert_502_and_logged(self, path, server):
        uri = f"ssl://{BACKEND_HOST}:{server.port}"
        accepted, failures = server.accepted, server.handshake_failures
        start = self.gateway.log_size()
        with RawConnection(HOST, 8000) as conn:
            resp = conn.request(upgrade_request(path, f"{HOST}:8000"), timeout=15)
        self.assertEqual(resp.status, 502, resp.raw)
        self.assertTrue(resp.raw.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), resp.raw)
        self.assertGreater(server.accepted, accepted, "postern never connected to the backend")
        self.assertTrue(wait_until(lambda: server.handshake_failures > failures, 5),
                        "the backend's TLS handshake did not fail")
        line = self.gateway.wait_for_log(re.compile(re.escape(uri) + r"(?!\d)"), 5, start=start)
        self.assertIsNotNone(line, f"no log line naming {uri} after the 502")

    def test_backend_certificate_for_another_host_gives_502(self):
        self.assert_502_and_logged("/wrong-host", self.wrong_host)

    def test_backend_certificate_from_a_foreign_ca_gives_502(self):
        self.assert_502_and_logged("/foreign", self.foreign)

    def test_ws_to_wss_backend_keeps_types(self):
        requests = len(self.wss_echo.requests)
        messages = ["text over wss", b"\x00binary\xff", os.urandom(70000)]
        async def go():
            async with ws_connect(f"ws://{HOST}:8000/wss") as ws:
                for m in messages:
                    await ws.send(m)
                return [await ws.recv() for _ in messages]
        self.assertEqual(run_async(go()), messages)
        self.assertTrue(wait_until(lambda: len(self.wss_echo.requests) > requests, 5))
        self.assertEqual(self.wss_echo.requests[-1].path, "/echo")



if __name__ == "__main__":
    unittest.main()
