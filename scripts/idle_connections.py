#!/usr/bin/python3
"""Opens N WebSocket connections (ws:// or wss://) to a gateway, upgrades each, holds them idle,
and prints the gateway's RSS growth per connection (from /proc/PID/status VmRSS).
usage: idle_connections.py PID URL N [--ca FILE] [--server-name NAME]"""
import argparse
import resource
import socket
import ssl
import sys
import time
from urllib.parse import urlparse


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("url")
    ap.add_argument("n", type=int)
    ap.add_argument("--ca")
    ap.add_argument("--server-name", default="localhost")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    u = urlparse(args.url)
    secure = u.scheme == "wss"
    ctx = ssl.create_default_context(cafile=args.ca) if secure else None
    before = rss(args.pid)
    held = []
    request = (f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    deadline = time.monotonic() + 300
    for _ in range(args.n):
        if time.monotonic() > deadline:
            sys.exit("gave up after 300 s")
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        if secure:
            s = ctx.wrap_socket(s, server_hostname=args.server_name)
        s.sendall(request)
        reply = s.recv(4096)
        if b" 101 " not in reply.split(b"\r\n", 1)[0]:
            sys.exit(f"upgrade refused: {reply[:200]!r}")
        held.append(s)
    time.sleep(1.0)
    after = rss(args.pid)
    print(f"{args.url}: {args.n} idle connections: RSS {before // 1024} KiB -> {after // 1024} KiB, "
          f"{(after - before) / args.n / 1024:.1f} KiB per connection")
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
