"""ws.inactivity.timeout on a proxy's ws:// accept (T = 2 s): a client that sends nothing gets
a ping after about T/2; one that never answers gets close 1001 after about T and its backend
connection ends; one that answers the pings stays. Bounds are the generous ones of the
specification, measured from just before the upgrade request: ping within [0.5 T, T + 1 s],
close within [T - 0.2 s, 2 T + 1 s]. Address: 127.0.22.1.
"""

import time
import unittest

from backends import BackendTestCase, TcpEcho, wait_until
from harness import gateway_xml, service_xml
from wire import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, RawConnection, accept_key,
                  upgrade_request)

HOST, PORT = "127.0.22.1", 8000
T = 2.0


class InactivityTimeout(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.echo = cls.backends.start(TcpEcho(HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(service_xml("idle proxy", f"ws://{HOST}:{PORT}/idle", type_="proxy",
                                       connects=f"tcp://{HOST}:9001",
                                       accept_options={"ws.inactivity.timeout": "2 seconds"}))

    def upgrade(self):
        """(connection, t0): t0 is taken before the request, so times measured from it are
        never shorter than the gateway's own."""
        conn = RawConnection(HOST, PORT)
        self.addCleanup(conn.close)
        t0 = time.monotonic()
        resp = conn.request(upgrade_request("/idle", f"{HOST}:{PORT}"))
        self.assertEqual(resp.status, 101, resp.raw)
        self.assertEqual(resp.header("Sec-WebSocket-Accept"),
                         [accept_key("dGhlIHNhbXBsZSBub25jZQ==")])
        return conn, t0

    def test_silent_client_gets_a_ping_then_close_1001(self):
        eofs_and_resets = self.echo.eofs + self.echo.resets
        conn, t0 = self.upgrade()
        ping = conn.read_frame(timeout=T + 1.5)
        t_ping = time.monotonic() - t0
        self.assertEqual(ping.opcode, OP_PING, f"expected a ping first, got {ping!r}")
        self.assertFalse(ping.masked)
        self.assertGreaterEqual(t_ping, 0.5 * T - 0.02, "ping before T/2")  # the reactor clock is per iteration
        self.assertLessEqual(t_ping, T + 1.0, "ping later than T + 1 s")

        close = conn.read_frame(timeout=2 * T + 1.5 - t_ping)   # the client never pongs
        t_close = time.monotonic() - t0
        self.assertEqual(close.opcode, OP_CLOSE, f"expected close 1001, got {close!r}")
        self.assertEqual(close.close_code, 1001)
        self.assertGreater(t_close, t_ping)
        self.assertGreaterEqual(t_close, T - 0.2, "close long before T")
        self.assertLessEqual(t_close, 2 * T + 1.0, "close later than 2 T + 1 s")
        conn.send_frame(OP_CLOSE, close.payload[:2])
        self.assertTrue(conn.is_closed_by_peer(5), "no TCP close after the close handshake")
        self.assertTrue(wait_until(lambda: self.echo.eofs + self.echo.resets > eofs_and_resets, 5),
                        "the backend connection stayed open after the client was closed")

    def test_client_that_answers_pings_stays_connected(self):
        conn, t0 = self.upgrade()
        pings = 0
        while time.monotonic() - t0 < 2.5 * T:
            try:
                frame = conn.read_frame(timeout=0.2)
            except TimeoutError:
                continue
            self.assertEqual(frame.opcode, OP_PING, f"unexpected frame {frame!r} at "
                             f"{time.monotonic() - t0:.2f} s")
            conn.send_frame(OP_PONG, frame.payload)
            pings += 1
        self.assertGreaterEqual(pings, 2, "expected pings about every T/2")
        conn.send_frame(OP_BINARY, b"still here")
        got = b""
        while len(got) < 10:
            opcode, payload, _ = conn.read_message()
            self.assertEqual(opcode, OP_BINARY)
            got += payload
        self.assertEqual(got, b"still here")


if __name__ == "__main__":
    unittest.main()
