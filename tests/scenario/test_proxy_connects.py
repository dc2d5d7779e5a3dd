"""Which backend a proxy reaches, and what it tells it: several <connect> URIs are tried in
turn (the first down, the second up: the client is served; all down: 502 and the log names
them), and a ws backend's upgrade request carries X-Forwarded-For with the client's IP.
Addresses: 127.0.29.1 (several connects; nothing listens on ports 9001 and 9005),
127.0.29.2 (X-Forwarded-For; clients connect from 127.0.29.77 and 127.0.29.78).
"""

import os
import re
import unittest

from backends import BackendTestCase, TcpEcho, WsEcho, wait_until
from harness import gateway_xml, service_xml
from wire import (RawConnection, recv_bytes, run_async, tcp_round_trip, upgrade_request,
                  ws_connect)

CONNECTS_HOST = "127.0.29.1"
DOWN, DOWN_TOO = f"tcp://{CONNECTS_HOST}:9001", f"tcp://{CONNECTS_HOST}:9005"
XFF_HOST = "127.0.29.2"


class SeveralConnects(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.echo = cls.backends.start(TcpEcho(CONNECTS_HOST, 9002))
        cls.ws_echo = cls.backends.start(WsEcho(CONNECTS_HOST, 9004))

    @classmethod
    def make_config(cls):
        up = f"tcp://{CONNECTS_HOST}:9002"
        return gateway_xml(
            service_xml("ws, first down", f"ws://{CONNECTS_HOST}:8000/first-down", type_="proxy",
                        connects=[DOWN, up]),
            service_xml("ws to ws, first down", f"ws://{CONNECTS_HOST}:8000/ws-first-down",
                        type_="proxy", connects=[f"ws://{CONNECTS_HOST}:9003/down",
                                                 f"ws://{CONNECTS_HOST}:9004/echo"]),
            service_xml("tcp, first down", f"tcp://{CONNECTS_HOST}:8001", type_="proxy",
                        connects=[DOWN, up], allow_origin=None),
            service_xml("all down", f"ws://{CONNECTS_HOST}:8000/all-down", type_="proxy",
                        connects=[DOWN, DOWN_TOO]))

    def test_first_down_second_up_serves_every_client(self):
        talked = self.echo.talked
        for i in range(3):
            with self.subTest(client=i):
                async def go():
                    async with ws_connect(f"ws://{CONNECTS_HOST}:8000/first-down") as ws:
                        await ws.send(f"client {i}")
                        return (await recv_bytes(ws, len(f"client {i}")))[0]
                self.assertEqual(run_async(go()), f"client {i}".encode())
        self.assertEqual(self.echo.talked - talked, 3)

    def test_ws_backends_first_down_second_up_keeps_types(self):
        async def go():
            async with ws_connect(f"ws://{CONNECTS_HOST}:8000/ws-first-down") as ws:
                await ws.send("text")
                await ws.send(b"binary")
                return [await ws.recv(), await ws.recv()]
        self.assertEqual(run_async(go()), ["text", b"binary"])

    def test_tcp_accept_first_down_second_up_round_trip(self):
        data = os.urandom(100000)
        got, eof = tcp_round_trip(CONNECTS_HOST, 8001, data)
        self.assertEqual(got, data)
        self.assertTrue(eof)

    def test_all_down_gives_502_and_the_log_names_them(self):
        start = self.gateway.log_size()
        with RawConnection(CONNECTS_HOST, 8000) as conn:
            resp = conn.request(upgrade_request("/all-down", f"{CONNECTS_HOST}:8000"), timeout=15)
        self.assertTrue(resp.raw.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), resp.raw)
        for uri in (DOWN, DOWN_TOO):
            line = self.gateway.wait_for_log(re.compile(re.escape(uri) + r"(?![\d.])"), 5,
                                             start=start)
            self.assertIsNotNone(line, f"no log line naming {uri} after the 502")


class XForwardedFor(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.ws_echo = cls.backends.start(WsEcho(XFF_HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(service_xml("xff", f"ws://{XFF_HOST}:8000/xff", type_="proxy",
                                       connects=f"ws://{XFF_HOST}:9001/echo"))

    def forwarded_for(self, source):
        count = len(self.ws_echo.requests)
        async def go():
            async with ws_connect(f"ws://{XFF_HOST}:8000/xff", local_addr=(source, 0)) as ws:
                await ws.send("who am I?")
                return await ws.recv()
        self.assertEqual(run_async(go()), "who am I?")
        self.assertTrue(wait_until(lambda: len(self.ws_echo.requests) > count, 5))
        return self.ws_echo.requests[-1].header("X-Forwarded-For")

    def test_backend_gets_the_client_ip_in_x_forwarded_for(self):
        self.assertEqual(self.forwarded_for("127.0.29.77"), ["127.0.29.77"])

    def test_each_client_gets_its_own_x_forwarded_for(self):
        self.assertEqual(self.forwarded_for("127.0.29.78"), ["127.0.29.78"])
        self.assertEqual(self.forwarded_for("127.0.29.77"), ["127.0.29.77"])


if __name__ == "__main__":
    unittest.main()
