"""Mutual TLS on a proxy's wss:// accept (truststore ca.pem). With ssl.verify-client required:
no client certificate, or one from a foreign CA, is refused in the handshake (no upgrade, no
backend connection); client.pem is served. With optional: no certificate is served too, a
foreign one is still refused. Python ssl and `openssl s_client` as clients. Addresses:
127.0.25.1 (8443 required, 8444 optional), backend echo on 127.0.25.1:9001.
"""

import ssl
import unittest

from backends import wait_until, BackendTestCase, TcpEcho
from harness import gateway_xml, require_test_pki, security_xml, service_xml
from wire import (Closed, RawConnection, SClient, client_ssl_context, recv_bytes, run_async,
                  upgrade_request, ws_connect)

HOST = "127.0.25.1"
NAME = "gateway.example.com"
REQUIRED, OPTIONAL = 8443, 8444


class MutualTls(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.pki = require_test_pki()
        cls.echo = cls.backends.start(TcpEcho(HOST, 9001))

    @classmethod
    def make_config(cls):
        def service(name, port, mode):
            return service_xml(name, f"wss://{HOST}:{port}/echo", type_="proxy",
                               connects=f"tcp://{HOST}:9001",
                               accept_options={"ssl.verify-client": mode})
        return gateway_xml(
            service("client certificate required", REQUIRED, "required"),
            service("client certificate optional", OPTIONAL, "optional"),
            security=security_xml(keystore=cls.pki / "server.pem", truststore=cls.pki / "ca.pem"))

    def context(self, identity=None):
        return client_ssl_context(self.pki / "ca.pem",
                                  certfile=None if identity is None else self.pki / identity)

    def assert_served(self, port, identity):
        talked = self.echo.talked
        async def go():
            async with ws_connect(f"wss://{HOST}:{port}/echo", ssl=self.context(identity),
                                  server_hostname=NAME) as ws:
                await ws.send("with mutual TLS")
                return await recv_bytes(ws, 15)
        got, types = run_async(go())
        self.assertEqual((got, types), (b"with mutual TLS", {bytes}))
        self.assertEqual(self.echo.talked - talked, 1)

    def assert_refused(self, port, identity):
        """The handshake fails (at once with TLS 1.2; with TLS 1.3 the client learns from the
        alert on its first read): the upgrade is never answered and no backend is dialed."""
        # The gateway's readiness probe dials the backend once per proxy service (2) at start:
        # let those connections land first.
        self.assertTrue(wait_until(lambda: self.echo.accepted >= 2, 5), "the probes never reached the backend")
        talked, bytes_in = self.echo.talked, self.echo.bytes_in
        try:
            with RawConnection(HOST, port, ssl_context=self.context(identity),
                               server_hostname=NAME) as conn:
                resp = conn.request(upgrade_request("/echo", f"{HOST}:{port}"))
        except (ssl.SSLError, Closed, ConnectionError):
            pass
        else:
            self.fail(f"the gateway answered the upgrade with {resp.status} "
                      f"(identity {identity}): {resp.raw!r}")
        self.assertEqual((self.echo.talked, self.echo.bytes_in), (talked, bytes_in),
                         "the client's bytes reached the backend")

    # ---- ssl.verify-client required ----

    def test_required_without_a_client_certificate_is_refused(self):
        self.assert_refused(REQUIRED, None)

    def test_required_with_a_foreign_ca_certificate_is_refused(self):
        self.assert_refused(REQUIRED, "foreign-client.pem")

    def test_required_with_client_pem_is_served(self):
        self.assert_served(REQUIRED, "client.pem")

    def test_required_with_client_pem_through_openssl_s_client_upgrades(self):
        request = upgrade_request("/echo", f"{HOST}:{REQUIRED}").encode()
        with SClient(HOST, REQUIRED, self.pki / "ca.pem", NAME,
                     certfile=self.pki / "client.pem") as client:
            client.send(request)
            head = client.read_exact(len(b"HTTP/1.1 101 "), timeout=10)
            status, err = client.finish()
        self.assertEqual(head, b"HTTP/1.1 101 ", f"s_client stderr: {err}")

    def test_required_without_certificate_through_openssl_s_client_is_refused(self):
        request = upgrade_request("/echo", f"{HOST}:{REQUIRED}").encode()
        with SClient(HOST, REQUIRED, self.pki / "ca.pem", NAME) as client:
            try:
                client.send(request)
            except BrokenPipeError:
                pass   # s_client already ended
            head = client.read_exact(len(b"HTTP/1.1 101 "), timeout=10)
            ended = client.wait(10)
            status, err = client.finish()
        self.assertEqual(head, b"", f"bytes after a refused handshake; s_client stderr: {err}")
        self.assertIsNotNone(ended, "s_client still connected 10 s after a refused handshake")

    # ---- ssl.verify-client optional ----

    def test_optional_without_a_client_certificate_is_served(self):
        self.assert_served(OPTIONAL, None)

    def test_optional_with_client_pem_is_served(self):
        self.assert_served(OPTIONAL, "client.pem")

    def test_optional_with_a_foreign_ca_certificate_is_refused(self):
        self.assert_refused(OPTIONAL, "foreign-client.pem")


if __name__ == "__main__":
    unittest.main()
