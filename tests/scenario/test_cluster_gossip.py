"""<cluster> gossip between postern processes (issue 5, item 1): members on 127.0.35.x-127.0.39.x
of this host form a cluster over UDP multicast (groups 239.255.35.x-239.255.38.x, each joined on
the member's own address) or over unicast seeds; members log `cluster: member ID joined`, `left`
(SIGTERM: said at once), `failed` (SIGKILL: after the failure timeout); datagrams without the
cluster key's tag change nothing; a balancer spreads clients over every member. Each test uses
its own addresses and cluster port, so tests and runs do not hear each other."""

import hashlib
import hmac
import os
import re
import signal
import socket
import struct
import time
import unittest

from harness import Gateway, MultiGatewayTestCase, gateway_xml, service_xml
from wire import RawConnection, upgrade_request

WS_PORT = 8000


def cluster_xml(name, accept, connects, key_file=None, extra=()):
    lines = ["  <cluster>", f"    <name>{name}</name>", f"    <accept>{accept}</accept>"]
    lines += [f"    <connect>{c}</connect>" for c in connects]
    if key_file:
        lines.append(f"    <key-file>{key_file}</key-file>")
    lines += [f"    {e}" for e in extra]
    lines.append("  </cluster>")
    return "\n".join(lines)


def identity(address, port):
    return f"tcp://{address}:{port}"


def echo_member(address, cluster):
    return gateway_xml(service_xml(f"Echo {address}", f"ws://{address}:{WS_PORT}/echo"), cluster)


# ---- a datagram as another process would forge it (cluster/gossip_codec.h, version 1) ----

def fnv1a64(text):
    h = 0xcbf29ce484222325
    for c in text.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def gossip_datagram(cluster_name, member_id, address, port, key=None, incarnation=1, sequence=1):
    """A heartbeat of member_id with no balances; tagged with HMAC-SHA256 under key if given."""
    body = b"PSTG" + bytes([1, 1 if key else 0])
    body += struct.pack("!QQQ", fnv1a64(cluster_name), incarnation, sequence)
    body += bytes([len(member_id)]) + member_id.encode()
    body += bytes([4]) + socket.inet_aton(address) + struct.pack("!H", port)
    body += struct.pack("!QIB", int(time.time() * 1000), 0, 0)
    if key:
        body += hmac.new(key, body, hashlib.sha256).digest()
    return body


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


class ClusterGossip(MultiGatewayTestCase):
    def setUp(self):
        super().setUp()
        self.tmp_files = []

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            for path in self.tmp_files:
                os.unlink(path)

    def assert_log(self, g, pattern, timeout, start=0):
        line = g.wait_for_log(pattern, timeout, start)
        self.assertIsNotNone(line, f"no log line {pattern!r} within {timeout} s\n" + g.describe_log(start))
        return line

    def assert_all_see_each_other(self, members, ids, timeout=3.0):
        for g, own in zip(members, ids):
            for other in ids:
                if other != own:
                    self.assert_log(g, f"cluster: member {other} joined", timeout)

    def key_file(self, secret):
        path = os.path.join(self.gateways[0].tmp if self.gateways else "/tmp",
                            f"postern-cluster-key-{os.getpid()}-{len(self.tmp_files)}")
        with open(path, "wb") as f:
            f.write(secret)
        os.chmod(path, 0o600)
        self.tmp_files.append(path)
        return path

    def test_multicast_members_join_leave_and_fail(self):
        addresses = ["127.0.35.1", "127.0.35.2", "127.0.35.3"]
        ids = [identity(a, 5935) for a in addresses]
        members = [self.start(echo_member(a, cluster_xml("gossip-35", i, ["udp://239.255.35.1:5935"])))
                   for a, i in zip(addresses, ids)]
        self.assert_all_see_each_other(members, ids)
        for g in members:
            self.assert_log(g, "cluster: no <key-file>", 0)

        marks = [g.log_size() for g in members]
        members[2].signal(signal.SIGTERM)
        for g, mark in zip(members[:2], marks):
            self.assert_log(g, f"cluster: member {ids[2]} left", 1.0, mark)
        self.assertEqual(members[2].wait_exit(10), 0)

        mark = members[0].log_size()
        members[1].signal(signal.SIGKILL)
        self.assert_log(members[0], f"cluster: member {ids[1]} failed", 2.0, mark)
        self.assertNotIn(f"member {ids[1]} left", members[0].log_text()[mark:])

    def test_configured_suspect_and_failure_timeouts_are_kept(self):
        # <suspect-timeout> 1 s and <failure-timeout> 3 s instead of 600 ms and 1.5 s: a killed
        # member is suspected after about 1 s and failed after about 3 s of silence (its last
        # heartbeat came up to one 200 ms interval before the kill; ticks run every interval).
        addresses = ["127.0.39.5", "127.0.39.6"]
        ids = [identity(a, 5940) for a in addresses]
        timings = ["<suspect-timeout>1 second</suspect-timeout>", "<failure-timeout>3 seconds</failure-timeout>"]
        members = [self.start(echo_member(a, cluster_xml("gossip-39b", i, ["udp://239.255.39.5:5940"], extra=timings)))
                   for a, i in zip(addresses, ids)]
        self.assert_all_see_each_other(members, ids)
        mark = members[0].log_size()
        killed = time.monotonic()
        members[1].signal(signal.SIGKILL)
        self.assert_log(members[0], f"cluster: member {ids[1]} suspected", 2.0, mark)
        suspected = time.monotonic() - killed
        self.assert_log(members[0], f"cluster: member {ids[1]} failed", 5.0, mark)
        failed = time.monotonic() - killed
        self.assertGreater(suspected, 0.7, "suspected before <suspect-timeout> (1 s)")
        self.assertGreater(failed, 2.7, "failed before <failure-timeout> (3 s)")
        self.assertLess(failed, 4.5, "failed long after <failure-timeout> (3 s)")

    def test_unicast_seeds(self):
        addresses = ["127.0.36.1", "127.0.36.2", "127.0.36.3"]
        ids = [identity(a, 5936) for a in addresses]
        seed = [ids[0]]  # members 2 and 3 know only the seed, and learn of each other through it
        members = [self.start(echo_member(a, cluster_xml("gossip-36", i, seed))) for a, i in zip(addresses, ids)]
        self.assert_all_see_each_other(members, ids)
        marks = [g.log_size() for g in members]
        members[1].signal(signal.SIGTERM)
        for g, mark in zip((members[0], members[2]), (marks[0], marks[2])):
            self.assert_log(g, f"cluster: member {ids[1]} left", 1.0, mark)

    def test_datagrams_forged_with_another_key_are_ignored(self):
        key = b"k" * 40
        path = self.key_file(key + b"\n")
        own = identity("127.0.37.1", 5937)
        g = self.start(echo_member("127.0.37.1", cluster_xml("gossip-37", own, [own], key_file=path)))
        self.assertNotIn("no <key-file>", g.log_text())
        forged, genuine = identity("127.0.37.9", 5937), identity("127.0.37.8", 5937)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.37.5", 0))
            s.sendto(gossip_datagram("gossip-37", forged, "127.0.37.9", 5937, key=b"x" * 40), ("127.0.37.1", 5937))
            self.assert_log(g, "cluster: ignored 1 gossip datagram(s): bad tag (1 rejected in all)", 2.0)
            # Untagged, as a keyless member would send: rejected too (counted, not logged again).
            s.sendto(gossip_datagram("gossip-37", forged, "127.0.37.9", 5937), ("127.0.37.1", 5937))
            # The control: the same encoder with the cluster's key is accepted, so the datagrams
            # above were refused for their tag and nothing else.
            s.sendto(gossip_datagram("gossip-37", genuine, "127.0.37.8", 5937, key=key), ("127.0.37.1", 5937))
            self.assert_log(g, f"cluster: member {genuine} joined", 2.0)
        text = g.log_text()
        self.assertNotIn(f"member {forged}", text)
        # The second rejection of the same kind within a minute is counted, not logged.
        self.assertEqual(len(re.findall(r"cluster: ignored \d+ gossip datagram", text)), 1, text)

    def test_accept_address_not_local_is_refused(self):
        config = echo_member("127.0.39.1", cluster_xml("gossip-39", "tcp://192.0.2.1:5939",
                                                       ["udp://239.255.38.9:5939"]))
        g = Gateway(config_text=config)
        self.gateways.append(g)
        with self.assertRaises(AssertionError):
            g.start()
        self.assertEqual(g.exit_status, 1)
        self.assertIn("<cluster><accept> tcp://192.0.2.1:5939: 192.0.2.1:5939 is not an address of this host",
                      g.log_text())

    def test_balancer_spreads_300_clients_over_three_members(self):
        addresses = ["127.0.38.1", "127.0.38.2", "127.0.38.3"]
        self.spread_300_clients(addresses, 5938, lambda ids: ["udp://239.255.38.1:5938"])

    def test_balancer_spreads_300_clients_over_three_members_with_seeds(self):
        addresses = ["127.0.33.1", "127.0.33.2", "127.0.33.3"]
        self.spread_300_clients(addresses, 5933, lambda ids: [ids[0]])

    def spread_300_clients(self, addresses, cluster_port, connects_of):
        ids = [identity(a, cluster_port) for a in addresses]
        balance_uri = f"ws://balance.example:{WS_PORT}/app"
        members = []
        for a, i in zip(addresses, ids):
            bind = {"tcp.bind": f"{a}:{WS_PORT}"}
            balancer = service_xml(f"Balancer {a}", balance_uri, type_="balancer", accept_options=bind)
            echo = service_xml(f"Echo {a}", f"ws://{a}:{WS_PORT}/app", accept_options=bind)
            echo = echo.replace("    <type>", f"    <balance>{balance_uri}</balance>\n    <type>", 1)
            members.append(self.start(gateway_xml(balancer, echo,
                                                  cluster_xml(f"gossip-{cluster_port}", i, connects_of(ids)))))
        self.assert_all_see_each_other(members, ids)
        time.sleep(0.5)  # every member has gossiped its balance entry at least twice since
        clients = []
        try:
            for n in range(300):
                conn = RawConnection(addresses[0], WS_PORT)
                clients.append(conn)
                resp = conn.request(upgrade_request("/app", f"balance.example:{WS_PORT}"))
                self.assertEqual(resp.status, 101, f"client {n}")
                conn.send_frame(0x1, b"client %d" % n)
                self.assertEqual(conn.read_message()[:2], (0x1, b"client %d" % n))
                time.sleep(0.01)  # loads travel with the heartbeats (every 200 ms)
            remote = [established_to(a, WS_PORT) for a in addresses[1:]]
            # Member 1's clients: every client minus those spliced to the other two members
            # (a spliced client is one connection from member 1 to the member's accept).
            local = 300 - sum(remote)
            counts = [local] + remote
            for who, count in zip(ids, counts):
                self.assertTrue(80 <= count <= 120, f"{who} got {count} of 300 clients: {counts}")
        finally:
            for conn in clients:
                conn.close()


if __name__ == "__main__":
    unittest.main()
