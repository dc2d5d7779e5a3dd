"""Routing upgrades to services: by path on one listener, and by Host on a listener shared
through tcp.bind. Addresses: 127.0.12.1 (paths), 127.0.12.2 (host names)."""

import os
import unittest

import websockets

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import RawConnection, run_async, upgrade_request, ws_connect

PATH_HOST, HOST_BIND = "127.0.12.1", "127.0.12.2"
PORT = 8000


class Routing(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(
        service_xml("Echo a", f"ws://{PATH_HOST}:{PORT}/a"),
        # b refuses messages over 1000 bytes: that tells which service answered.
        service_xml("Echo b", f"ws://{PATH_HOST}:{PORT}/b",
                    accept_options={"ws.maximum.message.size": "1000"}),
        service_xml("Echo one", f"ws://one.example:{PORT}/echo",
                    accept_options={"tcp.bind": f"{HOST_BIND}:{PORT}"},
                    allow_origin="http://one.origin"),
        service_xml("Echo two", f"ws://two.example:{PORT}/echo",
                    accept_options={"tcp.bind": f"{HOST_BIND}:{PORT}"},
                    allow_origin="http://two.origin"))

    def status_for(self, address, host_header, path, origin=None):
        extra = [] if origin is None else [("Origin", origin)]
        with RawConnection(address, PORT) as conn:
            resp = conn.request(upgrade_request(path, host_header, extra=extra))
            if resp.status != 101:
                conn.read_to_eof(timeout=5)
            return resp.status

    def echo(self, uri, message, **kw):
        async def go():
            async with ws_connect(uri, **kw) as ws:
                await ws.send(message)
                try:
                    return await ws.recv()
                except websockets.ConnectionClosed:
                    return ws.close_code
        return run_async(go())

    # ---- by path ----

    def test_paths_a_and_b_on_one_listener_both_echo(self):
        self.assertEqual(self.echo(f"ws://{PATH_HOST}:{PORT}/a", "to a"), "to a")
        self.assertEqual(self.echo(f"ws://{PATH_HOST}:{PORT}/b", "to b"), "to b")

    def test_each_path_reaches_its_own_service(self):
        big = os.urandom(2000)
        self.assertEqual(self.echo(f"ws://{PATH_HOST}:{PORT}/a", big), big)
        self.assertEqual(self.echo(f"ws://{PATH_HOST}:{PORT}/b", big), 1009)

    def test_unknown_path_c_gets_404(self):
        self.assertEqual(self.status_for(PATH_HOST, f"{PATH_HOST}:{PORT}", "/c"), 404)

    def test_path_match_is_exact(self):
        for path in ("/a/", "/a/x", "/ab", "/A", "//a"):
            with self.subTest(path=path):
                self.assertEqual(self.status_for(PATH_HOST, f"{PATH_HOST}:{PORT}", path), 404)

    # ---- by host ----

    def test_host_one_reaches_service_one(self):
        self.assertEqual(self.status_for(HOST_BIND, f"one.example:{PORT}", "/echo",
                                         "http://one.origin"), 101)
        self.assertEqual(self.status_for(HOST_BIND, f"one.example:{PORT}", "/echo",
                                         "http://two.origin"), 403)

    def test_host_two_reaches_service_two(self):
        self.assertEqual(self.status_for(HOST_BIND, f"two.example:{PORT}", "/echo",
                                         "http://two.origin"), 101)
        self.assertEqual(self.status_for(HOST_BIND, f"two.example:{PORT}", "/echo",
                                         "http://one.origin"), 403)

    def test_host_routed_services_echo_with_a_real_client(self):
        for name in ("one", "two"):
            with self.subTest(name=name):
                reply = self.echo(f"ws://{name}.example:{PORT}/echo", f"hello {name}",
                                  host=HOST_BIND, port=PORT, origin=f"http://{name}.origin")
                self.assertEqual(reply, f"hello {name}")

    def test_unknown_host_three_gets_404(self):
        self.assertEqual(self.status_for(HOST_BIND, f"three.example:{PORT}", "/echo"), 404)

    def test_path_below_the_accept_path_gets_404(self):
        self.assertEqual(self.status_for(HOST_BIND, f"one.example:{PORT}", "/echo/x"), 404)

    def test_query_string_is_allowed(self):
        self.assertEqual(self.status_for(HOST_BIND, f"one.example:{PORT}", "/echo?x=1&y=two"),
                         101)
        reply = self.echo(f"ws://one.example:{PORT}/echo?token=abc", "with query",
                          host=HOST_BIND, port=PORT, origin="http://one.origin")
        self.assertEqual(reply, "with query")


if __name__ == "__main__":
    unittest.main()
