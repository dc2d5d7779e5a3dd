"""cross-site-constraint: which Origin headers get the upgrade (101) and which get 403.
Address: 127.0.14.1."""

import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import RawConnection, run_async, upgrade_request, ws_connect

HOST, PORT = "127.0.14.1", 8000
HOST_HEADER = f"{HOST}:{PORT}"


class CrossSiteConstraint(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(
        service_xml("Strict echo", f"ws://{HOST}:{PORT}/strict",
                    allow_origin="http://allowed.example"),
        service_xml("Open echo", f"ws://{HOST}:{PORT}/open", allow_origin="*"))

    def status_for(self, path, origin):
        extra = [] if origin is None else [("Origin", origin)]
        with RawConnection(HOST, PORT) as conn:
            resp = conn.request(upgrade_request(path, HOST_HEADER, extra=extra))
            if resp.status != 101:
                conn.read_to_eof(timeout=5)   # a refusal ends the connection
            return resp.status

    def test_allowed_origin_gets_101(self):
        self.assertEqual(self.status_for("/strict", "http://allowed.example"), 101)

    def test_other_origin_gets_403(self):
        self.assertEqual(self.status_for("/strict", "http://evil.example"), 403)

    def test_origins_that_only_look_alike_get_403(self):
        for origin in ("https://allowed.example", "http://allowed.example.evil",
                       "http://sub.allowed.example", "http://allowed.example:8080", "null"):
            with self.subTest(origin=origin):
                self.assertEqual(self.status_for("/strict", origin), 403)

    def test_no_origin_gets_101(self):
        self.assertEqual(self.status_for("/strict", None), 101)

    def test_star_accepts_any_origin(self):
        for origin in ("http://evil.example", "http://allowed.example", "https://x.test:444",
                       None):
            with self.subTest(origin=origin):
                self.assertEqual(self.status_for("/open", origin), 101)

    def test_allowed_origin_echoes_with_a_real_client(self):
        async def go():
            async with ws_connect(f"ws://{HOST_HEADER}/strict",
                                  origin="http://allowed.example") as ws:
                await ws.send("from the allowed origin")
                return await ws.recv()
        self.assertEqual(run_async(go()), "from the allowed origin")


if __name__ == "__main__":
    unittest.main()
