"""The proxy service carrying data: ws -> tcp (each message's payload goes to the backend as
bytes, the backend's bytes come back as binary messages), ws -> ws (messages forwarded, types
kept; to a Python websockets echo and to postern's own echo service) and tcp -> tcp (bytes,
half-close). Addresses: 127.0.20.1 (ws -> tcp), 127.0.20.2 (ws -> ws), 127.0.20.3 (tcp -> tcp).
"""

import os
import socket
import unittest

import websockets

from backends import BackendTestCase, TcpEcho, WsEcho, wait_until
from harness import gateway_xml, service_xml
from wire import (OP_BINARY, OP_CONT, OP_TEXT, open_websocket, recv_bytes, run_async,
                  tcp_round_trip, ws_connect)

MIB = 1024 * 1024

WS_TCP_HOST = "127.0.20.1"
WS_TCP_URI = f"ws://{WS_TCP_HOST}:8000/tcp"

WS_WS_HOST = "127.0.20.2"
WS_PY_URI = f"ws://{WS_WS_HOST}:8000/python"       # -> the Python echo at 9001/echo
WS_POSTERN_URI = f"ws://{WS_WS_HOST}:8000/postern"  # -> postern's echo at 8001/echo

TCP_HOST = "127.0.20.3"


class WsToTcp(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.echo = cls.backends.start(TcpEcho(WS_TCP_HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(service_xml("ws to tcp", WS_TCP_URI, type_="proxy",
                                       connects=f"tcp://{WS_TCP_HOST}:9001"))

    def test_text_and_binary_payloads_come_back_as_binary_bytes(self):
        text, data = "héllo wörld ✓", bytes(range(256))
        async def go():
            async with ws_connect(WS_TCP_URI) as ws:
                await ws.send(text)
                first = await recv_bytes(ws, len(text.encode()))
                await ws.send(data)
                second = await recv_bytes(ws, len(data))
                return first, second
        (got_text, text_types), (got_data, data_types) = run_async(go())
        self.assertEqual(got_text, text.encode())
        self.assertEqual(text_types, {bytes}, "bytes from TCP must come back as binary messages")
        self.assertEqual(got_data, data)
        self.assertEqual(data_types, {bytes})

    def test_payloads_reach_the_backend_without_frame_headers(self):
        before = self.echo.bytes_in
        payloads = [b"ab", b"", b"cd" * 100, os.urandom(70000)]
        async def go():
            async with ws_connect(WS_TCP_URI) as ws:
                for p in payloads:
                    await ws.send(p)
                return await recv_bytes(ws, sum(map(len, payloads)))
        got, _ = run_async(go())
        self.assertEqual(got, b"".join(payloads))
        self.assertEqual(self.echo.bytes_in - before, sum(map(len, payloads)),
                         "the backend got other bytes than the payloads")

    def test_fragmented_message_goes_to_the_backend_as_its_bytes(self):
        conn = open_websocket(self, WS_TCP_HOST, 8000, path="/tcp")
        conn.send_frame(OP_TEXT, b"frag", fin=False)
        conn.send_frame(OP_CONT, b"mented ", fin=False)
        conn.send_frame(OP_CONT, b"message", fin=True)
        got = b""
        while len(got) < len(b"fragmented message"):
            opcode, payload, _ = conn.read_message()
            self.assertEqual(opcode, OP_BINARY)
            got += payload
        self.assertEqual(got, b"fragmented message")

    def test_1_mib_message_round_trip_is_byte_identical(self):
        data = os.urandom(MIB)
        async def go():
            async with ws_connect(WS_TCP_URI) as ws:
                await ws.send(data)
                return await recv_bytes(ws, len(data), timeout=20)
        got, types = run_async(go())
        self.assertEqual(got, data)
        self.assertEqual(types, {bytes})

    def test_client_close_gets_1000_and_the_backend_gets_eof(self):
        eofs = self.echo.eofs
        async def go():
            async with ws_connect(WS_TCP_URI) as ws:
                await ws.send(b"before close")
                await recv_bytes(ws, 12)
                await ws.close(1000, "done")
                return ws.close_code
        self.assertEqual(run_async(go()), 1000)
        self.assertTrue(wait_until(lambda: self.echo.eofs > eofs, 5),
                        "the backend did not get EOF (FIN) after the client's close")

    def test_each_client_gets_its_own_backend_connection(self):
        talked = self.echo.talked
        async def go():
            sockets = [await ws_connect(WS_TCP_URI) for _ in range(5)]
            try:
                for i, ws in enumerate(sockets):
                    await ws.send(f"client {i}")
                return [(await recv_bytes(ws, len(f"client {i}")))[0]
                        for i, ws in enumerate(sockets)]
            finally:
                for ws in sockets:
                    await ws.close()
        self.assertEqual(run_async(go()), [f"client {i}".encode() for i in range(5)])
        self.assertEqual(self.echo.talked - talked, 5)


class WsToWs(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.echo = cls.backends.start(WsEcho(WS_WS_HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(
            service_xml("ws to python ws", WS_PY_URI, type_="proxy",
                        connects=f"ws://{WS_WS_HOST}:9001/echo"),
            service_xml("ws to postern ws", WS_POSTERN_URI, type_="proxy",
                        connects=f"ws://{WS_WS_HOST}:8001/echo"),
            service_xml("postern echo", f"ws://{WS_WS_HOST}:8001/echo"))

    def echo_all(self, uri, messages):
        async def go():
            async with ws_connect(uri) as ws:
                for m in messages:
                    await ws.send(m)
                return [await ws.recv() for _ in messages]
        return run_async(go())

    def test_types_and_contents_are_kept_through_both_backends(self):
        messages = ["héllo ✓", b"\x00\x01\xff", "", b"", "t" * 70000, os.urandom(200000)]
        for uri in (WS_PY_URI, WS_POSTERN_URI):
            with self.subTest(uri=uri):
                replies = self.echo_all(uri, messages)
                self.assertEqual(replies, messages)
                self.assertEqual([type(r) for r in replies], [type(m) for m in messages])

    def test_1_mib_messages_pass(self):
        messages = [os.urandom(MIB), "ü" * (MIB // 2)]
        for uri in (WS_PY_URI, WS_POSTERN_URI):
            with self.subTest(uri=uri):
                self.assertEqual(self.echo_all(uri, messages), messages)

    def test_fragmented_message_reaches_the_backend_as_one_message(self):
        messages = self.echo.messages
        conn = open_websocket(self, WS_WS_HOST, 8000, path="/python")
        whole = "fragmented wörld".encode()
        conn.send_frame(OP_TEXT, whole[:3], fin=False)
        conn.send_frame(OP_CONT, whole[3:12], fin=False)
        conn.send_frame(OP_CONT, whole[12:], fin=True)
        self.assertEqual(conn.read_message()[:2], (OP_TEXT, whole))
        self.assertEqual(self.echo.messages - messages, 1)

    def test_backend_upgrade_uses_the_connect_uri_path(self):
        count = len(self.echo.requests)
        self.assertEqual(self.echo_all(WS_PY_URI, ["path?"]), ["path?"])
        self.assertEqual(len(self.echo.requests), count + 1)
        self.assertEqual(self.echo.requests[-1].path, "/echo")

    def test_client_close_code_reaches_the_backend_and_comes_back(self):
        closes = len(self.echo.close_codes)
        async def go():
            async with ws_connect(WS_PY_URI) as ws:
                await ws.send("hi")
                self.assertEqual(await ws.recv(), "hi")
                await ws.close(4001, "client leaves")
                return ws.close_code
        self.assertEqual(run_async(go()), 4001)
        # An earlier test's connection may still be recording its own close: look for ours.
        self.assertTrue(wait_until(lambda: 4001 in self.echo.close_codes[closes:], 5),
                        f"the backend saw close codes {self.echo.close_codes[closes:]}, not 4001")

    def test_backend_close_code_reaches_the_client(self):
        for code in (1000, 1001, 1011, 4002):
            with self.subTest(code=code):
                async def go():
                    async with ws_connect(WS_PY_URI) as ws:
                        await ws.send(f"close {code}")
                        with self.assertRaises(websockets.ConnectionClosed):
                            await ws.recv()
                        return ws.close_code, ws.close_reason
                self.assertEqual(run_async(go()), (code, "backend closes"))


class TcpToTcp(BackendTestCase):
    shared_gateway = True

    @classmethod
    def start_backends(cls):
        cls.echo = cls.backends.start(TcpEcho(TCP_HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(service_xml("tcp to tcp", f"tcp://{TCP_HOST}:8000", type_="proxy",
                                       connects=f"tcp://{TCP_HOST}:9001", allow_origin=None))

    def test_1_mib_round_trip_is_byte_identical_and_ends_with_eof(self):
        data = os.urandom(MIB)
        got, eof = tcp_round_trip(TCP_HOST, 8000, data)
        self.assertEqual(len(got), len(data))
        self.assertEqual(got, data)
        self.assertTrue(eof, "no EOF after the backend's EOF")

    def test_client_half_close_reaches_the_backend_and_its_eof_comes_back(self):
        eofs = self.echo.eofs
        with socket.create_connection((TCP_HOST, 8000), timeout=10) as sock:
            sock.sendall(b"last words")
            sock.shutdown(socket.SHUT_WR)
            got = b""
            while len(got) <= 10:
                piece = sock.recv(4096)   # socket.timeout fails the test after 10 s
                if not piece:
                    break
                got += piece
        self.assertEqual(got, b"last words")
        self.assertTrue(wait_until(lambda: self.echo.eofs > eofs, 5))


if __name__ == "__main__":
    unittest.main()
