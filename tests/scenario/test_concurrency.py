"""Many real clients at once: 50 WebSocket clients each echo 100 messages, every reply in
order and byte-identical. Address: 127.0.18.1."""

import asyncio
import os
import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import run_async, ws_connect

HOST, PORT = "127.0.18.1", 8000
URI = f"ws://{HOST}:{PORT}/echo"
CLIENTS, MESSAGES = 50, 100


class ManyClients(GatewayTestCase):
    config = gateway_xml(service_xml("WebSocket echo", URI))

    def test_50_clients_each_echo_100_messages(self):
        async def client(n):
            sent = []
            for i in range(MESSAGES):
                if i % 2:
                    sent.append(os.urandom((n * 131 + i * 37) % 3000))
                else:
                    sent.append(f"client {n} message {i} " + "ä" * (i % 50))
            async with ws_connect(URI, open_timeout=20) as ws:
                received = []
                for start in range(0, MESSAGES, 10):   # 10 in flight, then their replies
                    for m in sent[start:start + 10]:
                        await ws.send(m)
                    for _ in range(10):
                        received.append(await ws.recv())
                await ws.close()
            mismatches = sum(1 for a, b in zip(sent, received) if a != b)
            return len(received), mismatches

        async def everyone():
            return await asyncio.gather(*(client(n) for n in range(CLIENTS)))

        results = run_async(everyone(), timeout=90)
        self.assertEqual([r[0] for r in results], [MESSAGES] * CLIENTS)
        self.assertEqual(sum(r[1] for r in results), 0, "replies that differ from what was sent")


if __name__ == "__main__":
    unittest.main()
