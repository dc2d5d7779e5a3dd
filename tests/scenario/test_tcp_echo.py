"""The echo service on tcp:// accepts: bytes come back unchanged, and a half-close gets EOF back
after all of them. Address: 127.0.15.1."""

import os
import socket
import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import tcp_round_trip

HOST, PORT = "127.0.15.1", 8001
MIB = 1024 * 1024


class TcpEcho(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(service_xml("TCP echo", f"tcp://{HOST}:{PORT}", allow_origin=None))

    def test_bytes_are_echoed(self):
        with socket.create_connection((HOST, PORT), timeout=5) as sock:
            for data in (b"hello", b"\x00\xff\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n"):
                sock.sendall(data)
                got = b""
                while len(got) < len(data):   # socket.timeout fails the test after 5 s
                    piece = sock.recv(4096)
                    self.assertTrue(piece, "EOF before the echo")
                    got += piece
                self.assertEqual(got, data)

    def test_1_mib_round_trip_is_byte_identical(self):
        data = os.urandom(MIB)
        got, eof = tcp_round_trip(HOST, PORT, data)
        self.assertEqual(len(got), len(data))
        self.assertEqual(got, data)
        self.assertTrue(eof)

    def test_shutdown_write_gets_eof_after_all_bytes(self):
        data = os.urandom(100 * 1024)
        with socket.create_connection((HOST, PORT), timeout=10) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            got = bytearray()
            while len(got) <= len(data):   # bounded: more bytes than sent is a failure anyway
                piece = sock.recv(65536)   # socket.timeout fails the test after 10 s
                if not piece:
                    break
                got += piece
        self.assertEqual(bytes(got), data)

    def test_immediate_shutdown_write_gets_eof(self):
        with socket.create_connection((HOST, PORT), timeout=10) as sock:
            sock.shutdown(socket.SHUT_WR)
            self.assertEqual(sock.recv(100), b"")

    def test_ten_connections_each_get_their_own_bytes(self):
        socks = [socket.create_connection((HOST, PORT), timeout=10) for _ in range(10)]
        try:
            payloads = [os.urandom(1000 + i) for i in range(10)]
            for sock, data in zip(socks, payloads):
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            for sock, data in zip(socks, payloads):
                got = b""
                while len(got) <= len(data):
                    piece = sock.recv(65536)
                    if not piece:
                        break
                    got += piece
                self.assertEqual(got, data)
        finally:
            for sock in socks:
                sock.close()


if __name__ == "__main__":
    unittest.main()
