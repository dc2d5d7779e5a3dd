"""What `make run` serves: the repo's config/echo.xml (and the shared echo.xml), run with
`localhost` replaced by an address of this module so that the suite never takes
localhost:8000/8001, then a 1 MiB echo on its ws:// and its tcp:// accept.
Addresses: 127.0.17.1 (repo), 127.0.17.2 (shared)."""

import os
import re
import unittest

from harness import REPO, GatewayTestCase, require_shared
from wire import run_async, tcp_round_trip, ws_connect

MIB = 1024 * 1024


class ExampleConfig:
    """Mixin: subclasses name the source file and the address that replaces localhost."""
    address = None

    def source(self):
        """The config file to run (a Path)."""
        raise NotImplementedError

    def setUp(self):
        source = self.source()
        if not source.is_file():
            self.skipTest(f"{source} missing")
        text = source.read_text().replace("localhost", self.address)
        self.accepts = re.findall(r"<accept>\s*(\S+?)\s*</accept>", text)
        type(self).config = text
        super().setUp()

    def test_1_mib_echo_on_the_ws_accept(self):
        uris = [u for u in self.accepts if u.startswith("ws://")]
        self.assertTrue(uris, f"no ws:// accept in {self.source()}")
        data = os.urandom(MIB)

        async def go():
            async with ws_connect(uris[0]) as ws:
                await ws.send(data)
                return await ws.recv()
        self.assertEqual(run_async(go()), data)

    def test_1_mib_echo_on_the_tcp_accept(self):
        uris = [u for u in self.accepts if u.startswith("tcp://")]
        self.assertTrue(uris, f"no tcp:// accept in {self.source()}")
        host, port = uris[0][len("tcp://"):].rstrip("/").rsplit(":", 1)
        data = os.urandom(MIB)
        got, eof = tcp_round_trip(host, int(port), data)
        self.assertEqual(got, data)
        self.assertTrue(eof)


class RepoEchoConfig(ExampleConfig, GatewayTestCase):
    address = "127.0.17.1"

    def source(self):
        return REPO / "config" / "echo.xml"


class SharedEchoConfig(ExampleConfig, GatewayTestCase):
    address = "127.0.17.2"

    def source(self):
        return require_shared(self, "configs", "echo.xml")


if __name__ == "__main__":
    unittest.main()
