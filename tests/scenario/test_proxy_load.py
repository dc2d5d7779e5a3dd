"""The proxy under load, through ws -> tcp to a Python echo. These are the two slowest proxy
tests (select them, or leave them out, with the `test_slow_` in their names):
- 1,000 WebSocket clients open at once, each echoes one message of its own (bounded: 60 s);
- 100 MiB in 1 MiB messages come back byte-identical (SHA-256 compared; bounded: 120 s).
Addresses: 127.0.27.1 (1,000 clients), 127.0.28.1 (100 MiB).
"""

import asyncio
import hashlib
import os
import unittest

from backends import BackendTestCase, TcpEcho
from harness import gateway_xml, raise_nofile_limit, service_xml
from wire import recv_bytes, run_async, ws_connect

MIB = 1024 * 1024
CLIENTS = 1000

MANY_HOST = "127.0.27.1"
MANY_URI = f"ws://{MANY_HOST}:8000/echo"
BULK_HOST = "127.0.28.1"
BULK_URI = f"ws://{BULK_HOST}:8000/echo"


class ManyClients(BackendTestCase):

    @classmethod
    def start_backends(cls):
        # Each proxied client holds 2 descriptors here (the client's socket and the backend's)
        # and 2 in the gateway, which inherits the raised limit.
        limit = raise_nofile_limit()
        if limit < 2 * CLIENTS + 100:
            raise unittest.SkipTest(f"RLIMIT_NOFILE is {limit}: too low for {CLIENTS} clients")
        cls.echo = cls.backends.start(TcpEcho(MANY_HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(service_xml("many clients", MANY_URI, type_="proxy",
                                       connects=f"tcp://{MANY_HOST}:9001"))

    def test_slow_1000_concurrent_clients_each_echo_one_message(self):
        talked = self.echo.talked
        messages = [f"client {i}: ".encode() + os.urandom(20 + i % 100) for i in range(CLIENTS)]

        async def everyone():
            opening = asyncio.Semaphore(100)   # handshakes in flight; all stay open together

            async def open_one():
                async with opening:
                    return await ws_connect(MANY_URI, open_timeout=30, close_timeout=10)
            opened = await asyncio.gather(*(open_one() for _ in range(CLIENTS)),
                                          return_exceptions=True)
            clients = [c for c in opened if not isinstance(c, BaseException)]
            try:
                failures = [repr(c) for c in opened if isinstance(c, BaseException)]
                if failures:
                    return len(failures), failures[:3], None, None
                await asyncio.gather(*(ws.send(m) for ws, m in zip(clients, messages)))
                replies = await asyncio.gather(*(recv_bytes(ws, len(m), timeout=30)
                                                 for ws, m in zip(clients, messages)))
                return 0, [], self.echo.open, [r for r, _ in replies]
            finally:
                await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)

        failed, examples, open_together, replies = run_async(everyone(), timeout=60)
        self.assertEqual(failed, 0, f"{failed} clients could not connect, e.g. {examples}")
        wrong = [i for i, (got, sent) in enumerate(zip(replies, messages)) if got != sent]
        self.assertEqual(wrong, [], f"{len(wrong)} clients got another reply than their message")
        self.assertEqual(self.echo.talked - talked, CLIENTS,
                         "the backend did not see one connection per client")
        self.assertEqual(open_together, CLIENTS,
                         "backend connections open while every client was open and served")


class BulkTransfer(BackendTestCase):

    @classmethod
    def start_backends(cls):
        cls.echo = cls.backends.start(TcpEcho(BULK_HOST, 9001))

    @classmethod
    def make_config(cls):
        return gateway_xml(service_xml("bulk", BULK_URI, type_="proxy",
                                       connects=f"tcp://{BULK_HOST}:9001"))

    def test_slow_100_mib_in_1_mib_messages_comes_back_byte_identical(self):
        count = 100
        bytes_in = self.echo.bytes_in

        async def go():
            sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
            async with ws_connect(BULK_URI, close_timeout=10) as ws:
                async def send_all():
                    for _ in range(count):
                        message = os.urandom(MIB)
                        sent_hash.update(message)
                        await ws.send(message)

                async def receive_all():
                    got, types = 0, set()
                    while got < count * MIB:
                        message = await asyncio.wait_for(ws.recv(), 30)
                        types.add(type(message))
                        got_hash.update(message if isinstance(message, bytes)
                                        else message.encode())
                        got += len(message)
                    return got, types
                _, (got, types) = await asyncio.gather(send_all(), receive_all())
            return got, types, sent_hash.hexdigest(), got_hash.hexdigest()

        got, types, sent_digest, got_digest = run_async(go(), timeout=120)
        self.assertEqual(got, count * MIB)
        self.assertEqual(types, {bytes})
        self.assertEqual(got_digest, sent_digest, "the bytes that came back differ")
        self.assertEqual(self.echo.bytes_in - bytes_in, count * MIB)


if __name__ == "__main__":
    unittest.main()
