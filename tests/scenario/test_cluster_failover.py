"""Failover in a <cluster> of postern processes (issue 5, item 5): where the balancer may and may
not send a client when a member dies, comes back, or has a backend that is down.

- SIGKILL a member (multicast, and again with unicast seeds): once the others log it `failed`,
  every client through a surviving member's balancer is served (101 and its echo) and none
  reaches the dead member's address (a listener of the test's own sits there); restarted with
  the same config, the others log it `joined` and clients through a balancer land on it again.
- SIGKILL a member, with <suspect-timeout> 4 s: until the others suspect it, it is still
  offered, and a balancer that picks it finds its port closed and splices the client to the next
  ready member instead (logged): every client is served, none by the dead member.
- A member whose service is a proxy with a dead backend is never chosen; once the backend comes
  up the member becomes ready and clients land on it.
- wss:// everywhere (test PKI): a client through member A's balancer (which serves nothing
  itself) is spliced to member B over TLS and echoes.

Which member served a client is told from the TCP connections of this host: a client spliced
to member M is one ESTABLISHED connection from the balancing member to M's service address
(/proc/net/tcp); a client that adds none was served by the balancing member itself. Nothing is
asserted on how evenly clients spread (the members' load accounting is being changed).

Addresses 127.0.34.1-127.0.34.33 (ws port 8000, cluster ports 5341-5343 and 5345, multicast
groups 239.255.34.1, 239.255.34.3 and 239.255.34.5), and 127.0.0.7/127.0.0.8 (in server.pem's SANs; wss port 8347,
cluster port 5344, group 239.255.34.4).
"""

import signal
import socket
import struct
import time
import unittest

from backends import BackendLoop, TcpEcho
from harness import MultiGatewayTestCase, gateway_xml, require_test_pki, security_xml, service_xml
from wire import Closed, RawConnection, client_ssl_context, upgrade_request

WS_PORT = 8000
BALANCE_HOST = "balance.example"
FAILED_WAIT_S = 4.0        # the default failure timeout is 1.5 s
JOIN_WAIT_S = 3.0
MAX_ATTEMPTS = 60          # clients tried before a member is declared never chosen


def cluster_xml(name, address, port, connects, extra=()):
    lines = ["  <cluster>", f"    <name>{name}</name>", f"    <accept>tcp://{address}:{port}</accept>"]
    lines += [f"    <connect>{c}</connect>" for c in connects]
    lines += [f"    {e}" for e in extra]
    lines.append("  </cluster>")
    return "\n".join(lines)


def identity(address, port):
    return f"tcp://{address}:{port}"


def with_balance(service, balance_uri):
    """A service_xml(...) text with <balance>balance_uri</balance> before its <type>."""
    return service.replace("    <type>", f"    <balance>{balance_uri}</balance>\n    <type>", 1)


def member_config(address, cluster, scheme="ws", port=WS_PORT, balancer=True, member=True,
                  member_type="echo", connects=(), properties=None, security=None,
                  balance_host=BALANCE_HOST):
    """A member: a balancer on {scheme}://balance_host:port/app and a service on
    {scheme}://address:port/app balanced under it, both on the listener address:port."""
    balance_uri = f"{scheme}://{balance_host}:{port}/app"
    bind = {"tcp.bind": f"{address}:{port}"}
    services = []
    if balancer:
        services.append(service_xml(f"Balancer {address}", balance_uri, type_="balancer",
                                    accept_options=bind))
    if member:
        services.append(with_balance(service_xml(f"Member {address}", f"{scheme}://{address}:{port}/app",
                                                 type_=member_type, connects=connects,
                                                 accept_options=bind, properties=properties),
                                     balance_uri))
    return gateway_xml(*services, cluster, security=security)


def established_to(address, port):
    """ESTABLISHED TCP sockets of this host whose peer is address:port (/proc/net/tcp)."""
    want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(address))[0], port)
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[2] == want and fields[3] == "01":
                count += 1
    return count


class Sentinel:
    """A plain listener on a dead member's service address: counts the connections that reach
    it (a balancer that still chose the dead member would connect here)."""

    def __init__(self, address, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.accepted = 0

    def drain(self):
        for _ in range(1000):
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                break
            conn.close()
            self.accepted += 1
        return self.accepted

    def close(self):
        self.drain()
        self.sock.close()


class ClusterFailover(MultiGatewayTestCase):
    def setUp(self):
        super().setUp()
        self.clients = []

    def tearDown(self):
        for conn in self.clients:
            conn.close()
        super().tearDown()

    # ---- helpers ----

    def assert_log(self, g, pattern, timeout, start=0):
        line = g.wait_for_log(pattern, timeout, start)
        self.assertIsNotNone(line, f"no log line {pattern!r} within {timeout} s\n" + g.describe_log(start))
        return line

    def assert_all_see_each_other(self, members, ids, timeout=JOIN_WAIT_S):
        for g, own in zip(members, ids):
            for other in ids:
                if other != own:
                    self.assert_log(g, f"cluster: member {other} joined", timeout)

    def kill(self, g):
        g.signal(signal.SIGKILL)
        self.assertEqual(g.wait_exit(5), -signal.SIGKILL)

    def client(self, via, addresses, what, port=WS_PORT, ssl_context=None, server_hostname=None,
               balance_host=BALANCE_HOST):
        """One client through the balancer of the member at `via`: asserts the upgrade (101) and
        the echo of a message, keeps the connection open, and returns the address of the member
        that serves it (one of addresses)."""
        others = [a for a in addresses if a != via]
        before = {a: established_to(a, port) for a in others}
        conn = RawConnection(via, port, ssl_context=ssl_context, server_hostname=server_hostname)
        self.clients.append(conn)
        resp = conn.request(upgrade_request("/app", f"{balance_host}:{port}"))
        self.assertEqual(resp.status, 101, f"{what}: upgrade through {via}'s balancer refused: {resp.raw!r}")
        payload = f"{what} via {via}".encode()
        conn.send_frame(0x1, payload)
        received = b""
        try:
            for _ in range(16):     # a proxy to a TCP backend may split the echo into messages
                received += conn.read_message()[1]
                if len(received) >= len(payload):
                    break
        except (Closed, TimeoutError) as error:
            self.fail(f"{what}: no echo through {via}'s balancer ({error}); got {received!r}")
        self.assertEqual(received, payload, f"{what}: wrong echo through {via}'s balancer")
        after = {a: established_to(a, port) for a in others}
        landed = [a for a in others if after[a] > before[a]]
        self.assertLessEqual(len(landed), 1, f"{what}: new connections to several members: {before} -> {after}")
        time.sleep(0.01)            # loads travel with the heartbeats (every 200 ms)
        return landed[0] if landed else via

    def clients_until(self, via, addresses, target, what, **kw):
        """Clients through via's balancer (each must be served) until one lands on target, at
        most MAX_ATTEMPTS; returns where each landed."""
        landed = []
        for n in range(MAX_ATTEMPTS):
            landed.append(self.client(via, addresses, f"{what} {n}", **kw))
            if landed[-1] == target:
                break
        self.assertEqual(landed[-1], target,
                         f"{what}: none of {MAX_ATTEMPTS} clients through {via} landed on {target}: "
                         f"{ {a: landed.count(a) for a in addresses} }")
        return landed

    def kill_serve_restart(self, addresses, ids, configs, members, via_after):
        """SIGKILL the last member, assert the survivors fail it and serve every client without
        it, restart it with the same config, assert they log it joined and clients through
        via_after's balancer land on it again."""
        dead, dead_id = addresses[-1], ids[-1]
        survivors = members[:-1]
        marks = [g.log_size() for g in survivors]
        self.kill(members[-1])
        for g, mark in zip(survivors, marks):
            self.assert_log(g, f"cluster: member {dead_id} failed", FAILED_WAIT_S, mark)

        sentinel = Sentinel(dead, WS_PORT)
        try:
            landed = [self.client(addresses[n % len(survivors)], addresses, f"after the kill, client {n}")
                      for n in range(30)]
            self.assertEqual(sentinel.drain(), 0,
                             f"{sentinel.accepted} client(s) were sent to the failed member {dead}")
        finally:
            sentinel.close()
        self.assertNotIn(dead, landed)

        marks = [g.log_size() for g in survivors]
        members[-1] = self.start(configs[-1])
        for g, mark in zip(survivors, marks):
            self.assert_log(g, f"cluster: member {dead_id} joined", JOIN_WAIT_S, mark)
        self.clients_until(via_after, addresses, dead, "after the restart")

    # ---- the tests ----

    def test_multicast_killed_member_is_avoided_then_serves_again_after_restart(self):
        addresses = ["127.0.34.1", "127.0.34.2", "127.0.34.3"]
        ids = [identity(a, 5341) for a in addresses]
        configs = [member_config(a, cluster_xml("failover-341", a, 5341, ["udp://239.255.34.1:5341"]))
                   for a in addresses]
        members = [self.start(c) for c in configs]
        self.assert_all_see_each_other(members, ids)
        time.sleep(0.5)   # every member has gossiped its balance entry since
        self.kill_serve_restart(addresses, ids, configs, members, via_after=addresses[0])

    def test_unicast_seeds_killed_member_rejoins_and_serves_again(self):
        addresses = ["127.0.34.11", "127.0.34.12", "127.0.34.13"]
        ids = [identity(a, 5342) for a in addresses]
        seeds = [ids[0]]   # the others know only the first member
        configs = [member_config(a, cluster_xml("failover-342", a, 5342, seeds)) for a in addresses]
        members = [self.start(c) for c in configs]
        self.assert_all_see_each_other(members, ids)
        time.sleep(0.5)
        # Through the member that is not the seed: it learns of the restarted one via the seed.
        self.kill_serve_restart(addresses, ids, configs, members, via_after=addresses[1])

    def test_a_killed_member_not_yet_suspected_costs_no_client(self):
        addresses = ["127.0.34.31", "127.0.34.32", "127.0.34.33"]
        ids = [identity(a, 5345) for a in addresses]
        timings = ["<suspect-timeout>4 seconds</suspect-timeout>", "<failure-timeout>6 seconds</failure-timeout>"]
        configs = [member_config(a, cluster_xml("failover-345", a, 5345, ["udp://239.255.34.5:5345"], extra=timings))
                   for a in addresses]
        members = [self.start(c) for c in configs]
        self.assert_all_see_each_other(members, ids)
        time.sleep(0.5)   # every member has gossiped its balance entry since
        dead = addresses[2]
        marks = [g.log_size() for g in members[:2]]
        self.kill(members[2])
        killed = time.monotonic()
        # The clients stay connected, so the survivors' loads grow and their balancers send
        # clients to the others, the dead one included, whose last load (0) is the lowest.
        landed = [self.client(addresses[n % 2], addresses, f"right after the kill, client {n}") for n in range(40)]
        self.assertLess(time.monotonic() - killed, 4.0, "the clients took longer than <suspect-timeout>")
        self.assertNotIn(dead, landed)
        logs = "".join(g.log_text()[mark:] for g, mark in zip(members[:2], marks))
        self.assertNotIn("suspected", logs, "the dead member was suspected during the clients")
        self.assertIn(f"ws://{dead}:{WS_PORT}/app at {dead}:{WS_PORT} failed", logs,
                      "no balancer chose the dead member, so this test showed nothing")

    def test_member_with_dead_backend_is_never_chosen_until_it_comes_up(self):
        addresses = ["127.0.34.21", "127.0.34.22", "127.0.34.23"]
        backend_host, backend_port = "127.0.34.29", 9034
        backend_uri = f"tcp://{backend_host}:{backend_port}"
        ids = [identity(a, 5343) for a in addresses]

        def cluster(a):
            return cluster_xml("failover-343", a, 5343, ["udp://239.255.34.3:5343"])

        members = [self.start(member_config(a, cluster(a))) for a in addresses[:2]]
        proxy = self.start(member_config(addresses[2], cluster(addresses[2]), member_type="proxy",
                                         connects=backend_uri,
                                         properties={"maximum.recovery.interval": "1 second"}))
        members.append(proxy)
        self.assert_all_see_each_other(members, ids)
        self.assert_log(proxy, "unreachable", 5)
        time.sleep(0.5)

        landed = [self.client(addresses[0], addresses, f"backend down, client {n}") for n in range(60)]
        self.assertEqual(landed.count(addresses[2]), 0,
                         f"clients landed on the member whose backend is down: "
                         f"{ {a: landed.count(a) for a in addresses} }")

        loop = BackendLoop()
        self.addCleanup(loop.stop)
        echo = loop.start(TcpEcho(backend_host, backend_port))
        mark = proxy.log_size()
        self.assert_log(proxy, f"backend {backend_uri} reachable", 6, mark)
        time.sleep(0.5)   # its next heartbeats carry the ready flag
        accepted = echo.accepted
        self.clients_until(addresses[0], addresses, addresses[2], "backend up")
        self.assertGreater(echo.accepted, accepted, "the backend saw no client connection")

    def test_wss_balancer_splices_to_the_other_member_over_tls(self):
        pki = require_test_pki()
        a, b, port = "127.0.0.7", "127.0.0.8", 8347
        host = "balance.example.com"   # in server.pem's SANs (*.example.com)
        security = security_xml(keystore=pki / "server.pem", truststore=pki / "ca.pem")

        def cluster(address):
            return cluster_xml("failover-344", address, 5344, ["udp://239.255.34.4:5344"])

        # A only balances (it serves nothing itself), so a served client was spliced to B.
        ga = self.start(member_config(a, cluster(a), scheme="wss", port=port, member=False,
                                      security=security, balance_host=host))
        gb = self.start(member_config(b, cluster(b), scheme="wss", port=port, balancer=False,
                                      security=security, balance_host=host))
        self.assert_all_see_each_other([ga, gb], [identity(a, 5344), identity(b, 5344)])
        time.sleep(0.5)
        context = client_ssl_context(pki / "ca.pem")
        for n in range(3):
            served_by = self.client(a, [a, b], f"wss client {n}", port=port, ssl_context=context,
                                    server_hostname=host, balance_host=host)
            self.assertEqual(served_by, b, f"wss client {n} was not spliced to {b}")
        self.assertEqual(established_to(b, port), 3, "one TLS connection from A to B per open client")


if __name__ == "__main__":
    unittest.main()
