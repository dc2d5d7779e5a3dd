"""The HTTP/1.1 upgrade seen over raw sockets: the 101 answer, and each refusal's status code
(400, 404, 405, 408, 426, 431) followed by the end of the connection. Address: 127.0.13.1."""

import base64
import os
import time
import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import (OP_TEXT, RawConnection, accept_key, encode_frame, upgrade_request)

HOST, PORT = "127.0.13.1", 8000
HOST_HEADER = f"{HOST}:{PORT}"
KIB = 1024


def fillers(count):
    return [(f"X-Filler-{i}", f"value {i}") for i in range(count)]


def request_of_exact_size(total):
    """A valid upgrade request head of exactly total bytes (CRLFCRLF included)."""
    base = upgrade_request("/echo", HOST_HEADER, extra=[("X-Pad", "p")])
    pad = total - len(base)
    assert pad >= 0
    return upgrade_request("/echo", HOST_HEADER, extra=[("X-Pad", "p" * (1 + pad))])


class Handshake(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(service_xml("WebSocket echo", f"ws://{HOST}:{PORT}/echo"))

    def exchange(self, data, timeout=5):
        conn = RawConnection(HOST, PORT)
        self.addCleanup(conn.close)
        if isinstance(data, str):
            data = data.encode("latin-1")
        conn.send(data)
        return conn, conn.read_response_head(timeout=timeout)

    def assert_refused(self, data, status, timeout=5):
        """Asserts the answer's status code, and that the server then closes the connection."""
        conn, resp = self.exchange(data, timeout)
        self.assertEqual(resp.status, status, f"response: {resp.raw!r}")
        self.assertEqual(resp.header("Sec-WebSocket-Accept"), [])
        conn.read_to_eof(timeout=5)   # fails with TimeoutError if the server keeps it open
        return resp

    def assert_upgraded(self, data, key=None):
        conn, resp = self.exchange(data)
        self.assertEqual(resp.status, 101, f"response: {resp.raw!r}")
        if key is not None:
            self.assertEqual(resp.header("Sec-WebSocket-Accept"), [accept_key(key)])
        return conn, resp

    # ---- accepted ----

    def test_valid_upgrade_gets_101_with_the_rfc_accept_key(self):
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        _, resp = self.assert_upgraded(upgrade_request("/echo", HOST_HEADER, key=key), key)
        self.assertEqual(resp.header("Sec-WebSocket-Accept"), ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        self.assertEqual([v.lower() for v in resp.header("Upgrade")], ["websocket"])
        self.assertIn("upgrade", resp.header("Connection")[0].lower())

    def test_browser_style_headers_are_accepted(self):
        key = base64.b64encode(os.urandom(16)).decode()
        req = upgrade_request("/echo", HOST_HEADER, key=key, omit=("Upgrade", "Connection"),
                              extra=[("upgrade", "WebSocket"),
                                     ("Connection", "keep-alive, Upgrade"),
                                     ("User-Agent", "Mozilla/5.0"), ("Pragma", "no-cache")])
        self.assert_upgraded(req, key)

    def test_first_frame_in_the_same_write_as_the_request_is_echoed(self):
        data = upgrade_request("/echo", HOST_HEADER).encode() + encode_frame(OP_TEXT, "early")
        conn, _ = self.assert_upgraded(data)
        opcode, payload, _ = conn.read_message()
        self.assertEqual((opcode, payload), (OP_TEXT, b"early"))

    def test_request_sent_one_byte_at_a_time_is_upgraded(self):
        conn = RawConnection(HOST, PORT)
        self.addCleanup(conn.close)
        for byte in upgrade_request("/echo", HOST_HEADER).encode():
            conn.send(bytes([byte]))
            time.sleep(0.0005)
        self.assertEqual(conn.read_response_head().status, 101)

    def test_permessage_deflate_offer_gets_101_without_extensions(self):
        req = upgrade_request("/echo", HOST_HEADER, extra=[
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])
        _, resp = self.assert_upgraded(req)
        self.assertEqual(resp.header("Sec-WebSocket-Extensions"), [])

    def test_subprotocol_offer_gets_101_without_a_subprotocol(self):
        req = upgrade_request("/echo", HOST_HEADER,
                              extra=[("Sec-WebSocket-Protocol", "chat, superchat")])
        _, resp = self.assert_upgraded(req)
        self.assertEqual(resp.header("Sec-WebSocket-Protocol"), [])

    def test_head_of_exactly_8_kib_is_upgraded(self):
        req = request_of_exact_size(8 * KIB)
        self.assertEqual(len(req), 8 * KIB)
        self.assert_upgraded(req)

    def test_64_header_fields_are_upgraded(self):
        self.assert_upgraded(upgrade_request("/echo", HOST_HEADER, extra=fillers(64 - 5)))

    # ---- refused ----

    def test_version_8_gets_426_naming_version_13(self):
        resp = self.assert_refused(upgrade_request("/echo", HOST_HEADER, version="8"), 426)
        self.assertEqual(resp.header("Sec-WebSocket-Version"), ["13"])

    def test_missing_version_gets_426_naming_version_13(self):
        resp = self.assert_refused(
            upgrade_request("/echo", HOST_HEADER, omit=("Sec-WebSocket-Version",)), 426)
        self.assertEqual(resp.header("Sec-WebSocket-Version"), ["13"])

    def test_missing_key_gets_400(self):
        self.assert_refused(upgrade_request("/echo", HOST_HEADER, omit=("Sec-WebSocket-Key",)),
                            400)

    def test_key_that_is_not_16_bytes_of_base64_gets_400(self):
        for key in (base64.b64encode(os.urandom(15)).decode(),
                    base64.b64encode(os.urandom(17)).decode(),
                    "not base64 at all!!!!!==", ""):
            with self.subTest(key=key):
                self.assert_refused(upgrade_request("/echo", HOST_HEADER, key=key), 400)

    def test_post_gets_405(self):
        self.assert_refused(upgrade_request("/echo", HOST_HEADER, method="POST"), 405)

    def test_http_1_0_gets_400(self):
        self.assert_refused(upgrade_request("/echo", HOST_HEADER, http="HTTP/1.0"), 400)

    def test_plain_get_without_upgrade_gets_426(self):
        self.assert_refused(f"GET /echo HTTP/1.1\r\nHost: {HOST_HEADER}\r\n\r\n", 426)

    def test_unknown_path_gets_404(self):
        self.assert_refused(upgrade_request("/nothing-here", HOST_HEADER), 404)

    def test_head_over_8_kib_gets_431(self):
        self.assert_refused(request_of_exact_size(8 * KIB + 1), 431)
        self.assert_refused(request_of_exact_size(16 * KIB), 431)

    def test_65_header_fields_get_431(self):
        self.assert_refused(upgrade_request("/echo", HOST_HEADER, extra=fillers(65 - 5)), 431)

    def test_garbage_then_crlfcrlf_gets_400(self):
        self.assert_refused(b"\x16\x03\x01\x02\x00garbage \xff\xfe bytes\r\n\r\n", 400)

    def test_bare_lf_line_endings_get_400(self):
        self.assert_refused(upgrade_request("/echo", HOST_HEADER, line_end="\n") + "\r\n\r\n",
                            400)

    def test_missing_host_gets_400(self):
        self.assert_refused(upgrade_request("/echo", HOST_HEADER).replace(
            f"Host: {HOST_HEADER}\r\n", ""), 400)

    def test_slow_10s_incomplete_head_gets_408_and_the_next_client_is_upgraded(self):
        # SLOW: waits for the 10 s handshake timeout.
        conn = RawConnection(HOST, PORT)
        self.addCleanup(conn.close)
        conn.send(f"GET /echo HTTP/1.1\r\nHost: {HOST_HEADER}\r\nUpgrade: websock".encode())
        resp = conn.read_response_head(timeout=20)
        self.assertEqual(resp.status, 408, f"response: {resp.raw!r}")
        conn.read_to_eof(timeout=5)
        # The gateway sat idle for the whole timeout: new clients must still get their full
        # handshake time, not a 408 at once. Several connections, so that every reactor (each
        # has its own timer wheel; SO_REUSEPORT spreads connections) is very likely reached.
        for i in range(8):
            conn, resp = self.exchange(upgrade_request("/echo", HOST_HEADER))
            self.assertEqual(resp.status, 101, f"client {i} after the idle time: {resp.raw!r}")
            conn.close()


if __name__ == "__main__":
    unittest.main()
