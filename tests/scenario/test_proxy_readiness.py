"""Readiness of a proxy's backend as the log shows it: a backend that is down when postern
starts gets a line containing `unreachable` naming its URI; once it comes up, a line
containing `reachable` (not `unreachable`) naming it follows within about 2 s (the probe backs
off from 500 ms up to maximum.recovery.interval, here 1 second), and clients are served. A
backend that is up from the start is never called unreachable. One gateway per test.
Address: 127.0.23.1.
"""

import re
import unittest

from backends import BackendTestCase, TcpEcho
from harness import gateway_xml, service_xml
from wire import recv_bytes, run_async, ws_connect

HOST = "127.0.23.1"
LATE_URI, EARLY_URI = f"tcp://{HOST}:9001", f"tcp://{HOST}:9002"


def naming(word, uri):
    """A regex for a log line that contains word as a whole word (so `reachable` does not match
    `unreachable`) and names uri (not as the prefix of a longer port)."""
    return re.compile(rf"(?=.*(?<![A-Za-z]){word}(?![A-Za-z]))(?=.*{re.escape(uri)}(?![\d.]))")


class Readiness(BackendTestCase):

    @classmethod
    def start_backends(cls):
        cls.early = cls.backends.start(TcpEcho(HOST, 9002))

    @classmethod
    def make_config(cls):
        one_second = {"maximum.recovery.interval": "1 second"}
        return gateway_xml(
            service_xml("late backend", f"ws://{HOST}:8000/late", type_="proxy",
                        connects=LATE_URI, properties=one_second),
            service_xml("early backend", f"ws://{HOST}:8000/early", type_="proxy",
                        connects=EARLY_URI, properties=one_second))

    def echo_once(self, path):
        async def go():
            async with ws_connect(f"ws://{HOST}:8000/{path}") as ws:
                await ws.send(b"ready?")
                return (await recv_bytes(ws, 6))[0]
        return run_async(go())

    def test_down_backend_is_logged_unreachable_then_reachable_when_it_comes_up(self):
        down = self.gateway.wait_for_log(naming("unreachable", LATE_URI), 5)
        self.assertIsNotNone(down, f"no 'unreachable' line naming {LATE_URI} within 5 s of start")
        after_down = self.gateway.log_text().index(down) + len(down)

        late = self.backends.start(TcpEcho(HOST, 9001))
        self.addCleanup(self.backends.stop_server, late)
        up = self.gateway.wait_for_log(naming("reachable", LATE_URI), 3, start=after_down)
        seen = [line for line in self.gateway.log_text()[after_down:].splitlines()
                if "reachable" in line]
        self.assertIsNotNone(up, f"no 'reachable' line naming {LATE_URI} within 3 s of it "
                             f"coming up (the probe interval is at most 1 s); lines with "
                             f"'reachable' since: {seen}")
        self.assertEqual(self.echo_once("late"), b"ready?")
        self.assertGreaterEqual(late.accepted, 1)

    def test_backend_up_from_the_start_is_never_unreachable(self):
        self.assertEqual(self.echo_once("early"), b"ready?")
        # The late backend's line shows that probing has run by now.
        self.assertIsNotNone(self.gateway.wait_for_log(naming("unreachable", LATE_URI), 5))
        self.assertIsNone(self.gateway.wait_for_log(naming("unreachable", EARLY_URI), 0),
                          f"{EARLY_URI} was called unreachable while it was up")


if __name__ == "__main__":
    unittest.main()
