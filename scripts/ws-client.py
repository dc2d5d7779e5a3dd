#!/usr/bin/python3
"""ws-client.py — a small WebSocket client for trying postern by hand (python3-websockets).

  scripts/ws-client.py URL [--at IP] [--ca FILE] [--count N] [MESSAGE]

Connects to URL (ws:// or wss://), sending its host in the Host header and the TLS SNI, but
dialing IP when --at is given (the topology's hosts are names that need not resolve). Sends
MESSAGE (default "hello") N times (default 1) and prints each echo; exits 1 on any failure,
naming it.
"""
import argparse
import asyncio
import ssl
import sys
from urllib.parse import urlsplit

import websockets


async def run(args):
    url = urlsplit(args.url)
    secure = url.scheme == "wss"
    port = url.port or (443 if secure else 80)
    ctx = None
    if secure:
        ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl.create_default_context()
    async with websockets.connect(args.url, ssl=ctx, host=args.at or url.hostname, port=port,
                                  server_hostname=url.hostname if secure else None, open_timeout=10) as ws:
        for i in range(args.count):
            await ws.send(args.message)
            reply = await asyncio.wait_for(ws.recv(), 10)
            print(f"{i}: {reply!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("message", nargs="?", default="hello")
    p.add_argument("--at", help="IP address to dial instead of resolving the URL's host")
    p.add_argument("--ca", help="PEM file of the CA to trust for wss://")
    p.add_argument("--count", type=int, default=1)
    args = p.parse_args()
    try:
        asyncio.run(run(args))
    except Exception as e:  # noqa: BLE001 - a hand tool: say what failed and exit 1
        print(f"ws-client: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
