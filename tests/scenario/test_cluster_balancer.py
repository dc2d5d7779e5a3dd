"""The balancer service without <cluster> (KAAZING's standalone balancer): the table holds only
this member, so an upgrade on the balancer's accept is served by the local service registered
under it (proxy mode), answered 302 with that service's http URI (redirect mode), or 503 with
Retry-After when the local service is not ready. Addresses 127.0.31.1-127.0.31.3; gossip
between members (multicast, seeds) is not covered here: see the report of issue 5."""

import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import RawConnection, upgrade_request

PORT = 8000
LOCAL, REDIRECT, NONE_READY = "127.0.31.1", "127.0.31.2", "127.0.31.3"
DEAD_BACKEND = "ws://127.0.31.9:9/none"


def with_balance(service, balance_uri):
    """A service_xml(...) text with <balance>balance_uri</balance> before its <type>."""
    return service.replace("    <type>", f"    <balance>{balance_uri}</balance>\n    <type>", 1)


def balancer_pair(address, balance_host, member_type="echo", connects=(), mode=None):
    balance_uri = f"ws://{balance_host}:{PORT}/app"
    bind = {"tcp.bind": f"{address}:{PORT}"}
    balancer = service_xml(f"Balancer {address}", balance_uri, type_="balancer", accept_options=bind,
                           properties={"balancer.mode": mode} if mode else None)
    member = with_balance(service_xml(f"Member {address}", f"ws://{address}:{PORT}/app", type_=member_type,
                                      connects=connects, accept_options=bind), balance_uri)
    return [balancer, member]


class StandaloneBalancer(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(*balancer_pair(LOCAL, "balance.example"),
                         *balancer_pair(REDIRECT, "redirect.example", mode="redirect"),
                         *balancer_pair(NONE_READY, "none.example", member_type="proxy",
                                        connects=DEAD_BACKEND))

    def head(self, address, host):
        with RawConnection(address, PORT) as conn:
            resp = conn.request(upgrade_request("/app", host))
            if resp.status != 101:
                conn.read_to_eof(timeout=5)
            return resp

    def test_proxy_mode_serves_with_the_local_member(self):
        with RawConnection(LOCAL, PORT) as conn:
            resp = conn.request(upgrade_request("/app", f"balance.example:{PORT}"))
            self.assertEqual(resp.status, 101)
            conn.send_frame(0x1, b"through the balancer")
            opcode, payload, _ = conn.read_message()
            self.assertEqual((opcode, payload), (0x1, b"through the balancer"))

    def test_redirect_mode_answers_302_with_the_member_http_uri(self):
        resp = self.head(REDIRECT, f"redirect.example:{PORT}")
        self.assertEqual(resp.status, 302)
        self.assertEqual(resp.header("Location"), [f"http://{REDIRECT}:{PORT}/app"])

    def test_no_ready_member_gives_503_with_retry_after(self):
        resp = self.head(NONE_READY, f"none.example:{PORT}")
        self.assertEqual(resp.status, 503)
        self.assertEqual(resp.header("Retry-After"), ["1"])
        self.gateway.wait_for_log("no ready member for ws://none.example:8000/app", timeout=5)

    def test_the_member_is_still_reachable_directly(self):
        resp = self.head(LOCAL, f"{LOCAL}:{PORT}")
        self.assertEqual(resp.status, 101)


if __name__ == "__main__":
    unittest.main()
