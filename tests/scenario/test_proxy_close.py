"""The proxy service when a backend ends or cannot be reached.

After the upgrade: the backend's FIN gives the client close 1000, its reset close 1011.
Before the upgrade: a backend that refuses the connection or does not answer it (within
tcp.connect.timeout, here 1 second), or a ws backend that refuses the upgrade or is down, gives
the client `HTTP/1.1 502 Bad Gateway` and a log line naming the backend URI; a tcp:// client is
disconnected without a byte.
Addresses: 127.0.21.1 (backends that end), 127.0.21.2 (backends that cannot be reached).
"""

import re
import unittest

from backends import wait_until, BackendTestCase, Blackhole, Closer, WsEcho
from harness import gateway_xml, service_xml
from wire import OP_BINARY, RawConnection, open_websocket, upgrade_request

END_HOST = "127.0.21.1"
DOWN_HOST = "127.0.21.2"


class BackendEnds(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.fin = cls.backends.start(Closer(END_HOST, 9001, when="data", how="fin"))
        cls.reset = cls.backends.start(Closer(END_HOST, 9002, when="data", how="reset"))
        cls.at_once = cls.backends.start(Closer(END_HOST, 9003, when="accept", how="fin"))

    @classmethod
    def make_config(cls):
        def proxy(name, port):
            return service_xml(name, f"ws://{END_HOST}:8000/{name}", type_="proxy",
                               connects=f"tcp://{END_HOST}:{port}")
        return gateway_xml(proxy("fin", 9001), proxy("reset", 9002), proxy("at-once", 9003))

    def test_backend_fin_after_the_upgrade_gives_close_1000(self):
        closed = self.fin.closed
        conn = open_websocket(self, END_HOST, 8000, path="/fin")
        conn.send_frame(OP_BINARY, b"the backend closes when this arrives")
        conn.expect_close(self, 1000)
        # The backend's thread counts the connection it ended; it may do so a moment later.
        self.assertTrue(wait_until(lambda: self.fin.closed - closed == 1, 5),
                        f"the backend ended {self.fin.closed - closed} connections, not 1")

    def test_backend_reset_after_the_upgrade_gives_close_1011(self):
        closed = self.reset.closed
        conn = open_websocket(self, END_HOST, 8000, path="/reset")
        conn.send_frame(OP_BINARY, b"the backend resets when this arrives")
        conn.expect_close(self, 1011)
        self.assertTrue(wait_until(lambda: self.reset.closed - closed == 1, 5),
                        f"the backend reset {self.reset.closed - closed} connections, not 1")

    def test_backend_that_closes_right_after_accepting_gives_502_or_close_1000(self):
        # Whether the FIN comes before or after the upgrade is a race; either way the client
        # learns at once, and never gets a 101 that is then left hanging.
        accepted = self.at_once.accepted
        with RawConnection(END_HOST, 8000) as conn:
            resp = conn.request(upgrade_request("/at-once", f"{END_HOST}:8000"))
            self.assertIn(resp.status, (101, 502), resp.raw)
            if resp.status == 101:
                conn.expect_close(self, 1000)
            else:
                self.assertTrue(resp.raw.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), resp.raw)
        self.assertEqual(self.at_once.accepted - accepted, 1)


class BackendUnreachable(BackendTestCase):
    shared_gateway = True
    # Nothing listens on DOWN_HOST:9001 and :9002; connecting to :9004 times out.

    @classmethod
    def start_backends(cls):
        cls.refuser = cls.backends.start(WsEcho(DOWN_HOST, 9003, refuse_status=403))
        cls.backends.start(Blackhole(DOWN_HOST, 9004))

    @classmethod
    def make_config(cls):
        return gateway_xml(
            service_xml("tcp down", f"ws://{DOWN_HOST}:8000/tcp-down", type_="proxy",
                        connects=f"tcp://{DOWN_HOST}:9001"),
            service_xml("ws down", f"ws://{DOWN_HOST}:8000/ws-down", type_="proxy",
                        connects=f"ws://{DOWN_HOST}:9002/down"),
            service_xml("ws refuses", f"ws://{DOWN_HOST}:8000/ws-refuses", type_="proxy",
                        connects=f"ws://{DOWN_HOST}:9003/refuses"),
            service_xml("tcp times out", f"ws://{DOWN_HOST}:8000/tcp-timeout", type_="proxy",
                        connects=f"tcp://{DOWN_HOST}:9004",
                        connect_options={"tcp.connect.timeout": "1 second"}),
            service_xml("tcp accept, tcp down", f"tcp://{DOWN_HOST}:8001", type_="proxy",
                        connects=f"tcp://{DOWN_HOST}:9001", allow_origin=None))

    def assert_502(self, path):
        with RawConnection(DOWN_HOST, 8000) as conn:
            resp = conn.request(upgrade_request(path, f"{DOWN_HOST}:8000"), timeout=15)
        self.assertEqual(resp.status, 502, resp.raw)
        self.assertTrue(resp.raw.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), resp.raw)

    def assert_502_and_logged(self, path, backend_uri):
        start = self.gateway.log_size()
        self.assert_502(path)
        line = self.gateway.wait_for_log(re.compile(re.escape(backend_uri) + r"(?![\d.])"), 5,
                                         start=start)
        self.assertIsNotNone(line, f"no log line naming {backend_uri} after the 502")

    def test_refused_tcp_backend_gives_502_and_a_log_line(self):
        self.assert_502_and_logged("/tcp-down", f"tcp://{DOWN_HOST}:9001")

    def test_backend_that_does_not_answer_gives_502_and_a_log_line(self):
        self.assert_502_and_logged("/tcp-timeout", f"tcp://{DOWN_HOST}:9004")

    def test_refused_ws_backend_gives_502_and_a_log_line(self):
        self.assert_502_and_logged("/ws-down", f"ws://{DOWN_HOST}:9002/down")

    def test_ws_backend_that_refuses_the_upgrade_gives_502_and_a_log_line(self):
        refused = self.refuser.refused
        self.assert_502_and_logged("/ws-refuses", f"ws://{DOWN_HOST}:9003/refuses")
        self.assertEqual(self.refuser.refused - refused, 1, "the backend saw no upgrade request")

    def test_each_client_gets_its_own_502(self):
        for i in range(3):
            with self.subTest(client=i):
                self.assert_502("/tcp-down")

    def test_tcp_client_is_disconnected_without_a_byte(self):
        start = self.gateway.log_size()
        with RawConnection(DOWN_HOST, 8001, timeout=15) as conn:
            try:
                conn.send(b"hello?")
            except OSError:
                pass   # already closed: allowed
            self.assertTrue(conn.is_closed_by_peer(timeout=15),
                            "the client connection is still open 15 s later")
        self.assertIsNotNone(self.gateway.wait_for_log(f"tcp://{DOWN_HOST}:9001", 5, start=start),
                             f"no log line naming tcp://{DOWN_HOST}:9001")


if __name__ == "__main__":
    unittest.main()
