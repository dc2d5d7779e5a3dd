"""ws.inactivity.timeout on an echo service's ws:// accept (T = 2 s), as on a proxy: a silent
client gets a ping after about T/2, and close 1001 after about T when it never answers; a client
that answers the pings stays connected. Address: 127.0.30.1.
"""

import time
import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawConnection, upgrade_request

HOST, PORT = "127.0.30.1", 8000
T = 2.0


class EchoInactivity(GatewayTestCase):
    shared_gateway = True

    config = gateway_xml(service_xml("idle echo", f"ws://{HOST}:{PORT}/idle",
                                     accept_options={"ws.inactivity.timeout": "2 seconds"}))

    def upgrade(self):
        conn = RawConnection(HOST, PORT)
        self.addCleanup(conn.close)
        t0 = time.monotonic()
        resp = conn.request(upgrade_request("/idle", f"{HOST}:{PORT}"))
        self.assertEqual(resp.status, 101, resp.raw)
        return conn, t0

    def test_silent_client_gets_a_ping_then_close_1001(self):
        conn, t0 = self.upgrade()
        ping = conn.read_frame(timeout=T + 1.5)
        t_ping = time.monotonic() - t0
        self.assertEqual(ping.opcode, OP_PING, f"expected a ping first, got {ping!r}")
        # The reactor reads its clock once per loop iteration: a timer may fire a few ms early by the wall.
        self.assertGreaterEqual(t_ping, 0.5 * T - 0.02)
        close = conn.read_frame(timeout=2 * T + 1.5 - t_ping)
        self.assertEqual(close.opcode, OP_CLOSE, f"expected close 1001, got {close!r}")
        self.assertEqual(close.close_code, 1001)
        self.assertGreaterEqual(time.monotonic() - t0, T - 0.2)

    def test_client_that_answers_pings_stays_connected(self):
        conn, t0 = self.upgrade()
        deadline = t0 + 2.5 * T
        while time.monotonic() < deadline:
            frame = conn.read_frame(timeout=T + 1.5)
            self.assertEqual(frame.opcode, OP_PING, f"expected only pings, got {frame!r}")
            conn.send_frame(OP_PONG, frame.payload)
        conn.send_frame(OP_TEXT, b"still here")
        echo = conn.read_frame(timeout=2)
        self.assertEqual((echo.opcode, echo.payload), (OP_TEXT, b"still here"))


if __name__ == "__main__":
    unittest.main()
