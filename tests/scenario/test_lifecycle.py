"""The process as an operator sees it: the log format, the start-up lines, and SIGTERM (close
1001 to WebSocket clients, EOF to TCP clients, exit status 0). One gateway per test.
Address: 127.0.16.1."""

import asyncio
import os
import re
import signal
import socket
import unittest

import websockets

from harness import LOG_LINE, GatewayTestCase, gateway_xml, service_xml
from wire import connection_refused, run_async, ws_connect

HOST = "127.0.16.1"
WS_URI = f"ws://{HOST}:8000/echo"
TCP_PORT = 8001
REACTOR_LINE = re.compile(r" reactor (\d+) started on cpu (\d+) \(backend (io_uring|epoll)\)")


class Lifecycle(GatewayTestCase):
    config = gateway_xml(service_xml("WebSocket echo", WS_URI),
                         service_xml("TCP echo", f"tcp://{HOST}:{TCP_PORT}", allow_origin=None))

    def test_every_log_line_has_time_level_and_thread(self):
        lines = self.gateway.log_text().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, LOG_LINE)

    def test_each_reactor_logs_its_start_before_postern_ready(self):
        lines = self.gateway.log_text().splitlines()
        ready = [i for i, line in enumerate(lines) if "postern ready" in line]
        self.assertEqual(len(ready), 1, "exactly one 'postern ready' line")
        reactors = [(i, REACTOR_LINE.search(line)) for i, line in enumerate(lines)]
        reactors = [(i, m) for i, m in reactors if m]
        self.assertTrue(reactors, "no 'reactor <i> started on cpu <c> (backend ...)' line")
        indices = sorted(int(m.group(1)) for _, m in reactors)
        self.assertEqual(indices, list(range(len(indices))), "reactors are numbered 0..n-1 once each")
        self.assertTrue(all(i < ready[0] for i, _ in reactors), "a reactor started after ready")
        self.assertLessEqual(len(indices), os.cpu_count())
        backends = {m.group(3) for _, m in reactors}
        self.assertEqual(len(backends), 1, "all reactors run the same back end")
        if os.environ.get("POSTERN_BACKEND") == "epoll":
            self.assertEqual(backends, {"epoll"})

    def test_sigterm_sends_close_1001_and_eof_then_exits_0(self):
        async def go():
            tcp_reader, tcp_writer = await asyncio.open_connection(HOST, TCP_PORT)
            async with ws_connect(WS_URI) as ws:
                await ws.send("still here")
                self.assertEqual(await ws.recv(), "still here")
                tcp_writer.write(b"tcp too")
                self.assertEqual(await tcp_reader.readexactly(7), b"tcp too")

                self.gateway.signal(signal.SIGTERM)
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
                ws_code = ws.close_code
            tcp_rest = await asyncio.wait_for(tcp_reader.read(), 5)   # b"" at EOF
            tcp_writer.close()
            return ws_code, tcp_rest
        ws_code, tcp_rest = run_async(go(), timeout=20)
        self.assertEqual(ws_code, 1001)
        self.assertEqual(tcp_rest, b"")
        status = self.gateway.wait_exit(5)
        self.assertIsNotNone(status, "postern still running 5 s after SIGTERM")
        self.assertEqual(status, 0)
        self.assertIn("stopping", self.gateway.log_text())
        self.assertTrue(connection_refused(HOST, TCP_PORT), "the listener is still open")

    def test_sigterm_with_no_client_exits_0_and_logs_stopping(self):
        self.gateway.signal(signal.SIGTERM)
        self.assertEqual(self.gateway.wait_exit(5), 0)
        stopping = [l for l in self.gateway.log_text().splitlines() if "stopping" in l]
        self.assertTrue(stopping, "no log line containing 'stopping'")
        self.assertRegex(stopping[0], LOG_LINE)

    def test_sigterm_with_a_silent_client_mid_message_still_exits_0(self):
        with socket.create_connection((HOST, 8000), timeout=5) as sock:
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: " + f"{HOST}:8000".encode() +
                         b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                piece = sock.recv(4096)
                self.assertTrue(piece)
                head += piece
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
            sock.sendall(b"\x01\x83\x00\x00\x00\x00abc")   # text, FIN=0: a message left open
            self.gateway.signal(signal.SIGTERM)
            # This client never answers the close: postern may wait for it a while (up to the
            # harness's 10 s), but must still exit cleanly.
            self.assertEqual(self.gateway.wait_exit(10), 0)


if __name__ == "__main__":
    unittest.main()
