"""Backends for the proxy scenario tests, run by the test process itself: one asyncio event
loop in a daemon thread (BackendLoop) hosts any number of small servers.

    loop = BackendLoop()                         # starts the thread
    echo = loop.start(TcpEcho("127.0.20.1", 9001))
    ...                                          # echo.port, echo.accepted, echo.eofs, ...
    loop.stop()                                  # closes every server and connection, joins

Servers (each records what a test asserts on; counters are updated on the loop's thread and
read from the test's thread, which is safe for plain ints and lists in CPython):
- TcpEcho: echoes bytes; on the client's EOF it sends EOF back after all of them. With an
  ssl.SSLContext it is a TLS echo (asyncio's TLS has no half-close: when the client's
  close_notify comes, echoes not yet written are lost, so TLS tests end only after the echo).
- Flooder: on accept, writes as fast as TCP lets it until `seconds` pass, `max_bytes` are
  written or stop() is called; `sent` is what the kernel took.
- Closer: closes each connection right after accepting it or after its first bytes, with a
  FIN (shutdown) or a reset (SO_LINGER 0).
- Sink: accepts and reads nothing until resume_reading(), then counts every byte.
- Blackhole: a listener that never answers a connection attempt (connecting times out).
- WsEcho: a websockets 10.4 server that echoes messages (types kept), records each upgrade
  request's path and headers and each close code it received, closes with code N when it gets
  the text "close N", and with refuse_status answers every upgrade with that HTTP status.

BackendTestCase runs a BackendLoop for a GatewayTestCase class.

Port 0 asks the kernel for a free port; `port` holds the bound one after start(). Every wait
here is bounded; stop() ends everything within a few seconds.
"""

import asyncio
import http
import os
import re
import socket
import ssl
import struct
import threading
import time

import websockets

from harness import GatewayTestCase

STOP_TIMEOUT_S = 10.0


class BackendLoop:
    """An asyncio loop in a daemon thread. start() runs a server's start on it; stop() closes
    every server started here, then stops the loop and joins the thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._on_exception)
        self.errors = []        # what asyncio would print about unhandled errors (kept quiet)
        self.servers = []
        self._thread = threading.Thread(target=self._run, name="backends", daemon=True)
        self._thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _on_exception(self, loop, context):
        self.errors.append(context.get("message", "?"))

    def call(self, coro, timeout=STOP_TIMEOUT_S):
        """Runs coro on the loop and returns its result (raises its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call_soon(self, function, *args):
        self.loop.call_soon_threadsafe(function, *args)

    def start(self, server):
        """Starts server on this loop (binds its port) and returns it."""
        server.backend_loop = self
        self.call(server.start())
        self.servers.append(server)
        return server

    def stop_server(self, server):
        """Closes one server started here (its port is free again afterwards)."""
        self.servers.remove(server)
        self.call(server.close())

    def stop(self):
        for server in reversed(self.servers):
            try:
                self.call(server.close())
            except Exception:       # one server failing to close must not keep the rest open
                pass
        self.servers = []

        async def cancel_the_rest():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)
        try:
            self.call(cancel_the_rest())
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        if not self._thread.is_alive():
            self.loop.close()


def wait_until(predicate, timeout, interval=0.02):
    """True as soon as predicate() is true; False when it is still false after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def set_linger_zero(sock):
    """Makes close() on sock send a reset (RST) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class StreamServer:
    """Base of the TCP/TLS servers: counts connections; subclasses define serve()."""

    def __init__(self, host, port=0, ssl=None):
        self.host, self.port, self.ssl = host, port, ssl
        self.accepted = 0        # TCP connections accepted (TLS: before the handshake)
        # Connections whose peer sent at least one byte (counted by subclasses that read): a
        # gateway's readiness probes connect every 2 s and close without one, so a test that
        # counts its clients' backend connections counts these.
        self.talked = 0
        self.handshake_failures = 0   # TLS handshakes that failed (the peer refused ours, ...)
        self.open = 0            # connections open now
        self.peak_open = 0       # most connections open at once
        self._server = None
        self._writers = set()
        self.backend_loop = None

    async def start(self):
        # TLS is started per connection (start_tls) so that connections whose handshake fails
        # are counted too.
        self._server = await asyncio.start_server(self._connection, self.host, self.port,
                                                  backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self):
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 5)
        for writer in list(self._writers):
            writer.transport.abort()

    async def _connection(self, reader, writer):
        self.accepted += 1
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        self._writers.add(writer)
        try:
            if self.ssl is not None:
                try:
                    await writer.start_tls(self.ssl, ssl_handshake_timeout=10)
                except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError):
                    self.handshake_failures += 1
                    return
            await self.serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self.open -= 1
            if self.abort_at_end:
                writer.transport.abort()
            else:
                writer.close()

    abort_at_end = False

    async def serve(self, reader, writer):
        raise NotImplementedError


class TcpEcho(StreamServer):
    """Echoes bytes. Counts bytes_in, eofs (connections the client ended with EOF, after which
    the echo sends its own EOF: TLS close_notify for TLS) and resets (ended by an error)."""

    def __init__(self, host, port=0, ssl=None):
        super().__init__(host, port, ssl)
        self.bytes_in = 0
        self.eofs = 0
        self.resets = 0

    async def serve(self, reader, writer):
        talked = False
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                if not talked:
                    talked = True
                    self.talked += 1
                self.bytes_in += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            self.resets += 1
            return
        self.eofs += 1
        if writer.can_write_eof():
            writer.write_eof()
            await writer.drain()


class Flooder(StreamServer):
    """Writes to each connection as fast as TCP accepts until `seconds` pass, max_bytes are
    written to it or stop() is called, then drops it (asyncio's abort: what waits in asyncio's
    buffer is discarded). sent: bytes the kernel took,
    over all connections (what still waits in asyncio's buffer is not counted); done:
    connections that ended (for any reason). A connection that closes within 50 ms without a
    byte — the gateway's readiness probe — is neither flooded nor counted."""

    abort_at_end = True      # do not flush asyncio's buffer at the end: count only what went

    def __init__(self, host, port=0, seconds=10.0, max_bytes=256 << 20):
        super().__init__(host, port)
        self.seconds, self.max_bytes = seconds, max_bytes
        self.sent = 0
        self.done = 0
        self._chunk = os.urandom(1 << 16)
        self._stops = set()

    def stop(self):
        """Ends the connections open now (later ones flood again)."""
        def set_all():
            for event in self._stops:
                event.set()
        self.backend_loop.call_soon(set_all)

    async def serve(self, reader, writer):
        try:
            if await asyncio.wait_for(reader.read(1), 0.05) == b"":
                return  # a probe: connected and closed
        except asyncio.TimeoutError:
            pass
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        stop = asyncio.Event()
        self._stops.add(stop)
        transport = writer.transport
        transport.set_write_buffer_limits(high=len(self._chunk))
        written = taken = 0
        try:
            while written < self.max_bytes and not stop.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                if transport.get_write_buffer_size() < len(self._chunk):
                    writer.write(self._chunk)
                    written += len(self._chunk)
                try:
                    await asyncio.wait_for(writer.drain(), min(remaining, 0.1))
                except asyncio.TimeoutError:
                    pass
                now = written - transport.get_write_buffer_size()
                self.sent += now - taken
                taken = now
        finally:
            self._stops.discard(stop)
            self.done += 1


class Closer(StreamServer):
    """Ends each connection right after accepting it (when="accept") or after its first bytes
    arrive (when="data"): how="fin" shuts down writing and then reads until the peer closes;
    how="reset" sends a reset. closed: connections it ended so."""

    def __init__(self, host, port=0, when="data", how="fin"):
        super().__init__(host, port)
        assert when in ("accept", "data") and how in ("fin", "reset")
        self.when, self.how = when, how
        self.closed = 0

    async def serve(self, reader, writer):
        if self.when == "data":
            if not await asyncio.wait_for(reader.read(1 << 16), STOP_TIMEOUT_S):
                return
        if self.how == "reset":
            set_linger_zero(writer.get_extra_info("socket"))
            writer.transport.abort()
            self.closed += 1
            return
        writer.write_eof()
        self.closed += 1
        deadline = asyncio.get_running_loop().time() + STOP_TIMEOUT_S
        while await asyncio.wait_for(reader.read(1 << 16),
                                     max(0.01, deadline - asyncio.get_running_loop().time())):
            pass


class Sink(StreamServer):
    """Reads nothing (beyond what asyncio buffers: about 128 KiB per connection) until
    resume_reading(); then reads and counts every byte (bytes_in) until the peer closes."""

    def __init__(self, host, port=0):
        super().__init__(host, port)
        self.bytes_in = 0
        self._go = None

    async def start(self):
        self._go = asyncio.Event()
        await super().start()

    def resume_reading(self):
        self.backend_loop.call_soon(self._go.set)

    async def serve(self, reader, writer):
        await self._go.wait()
        while True:
            data = await reader.read(1 << 20)
            if not data:
                return
            self.bytes_in += len(data)


class Blackhole:
    """A listener whose accept queue is full and never drained: the kernel drops further SYNs,
    so connecting to it times out. start() fills the queue with connections of its own."""

    def __init__(self, host, port=0):
        self.host, self.port = host, port
        self._sockets = []
        self.backend_loop = None

    async def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sockets.append(listener)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(0)
        self.port = listener.getsockname()[1]
        for _ in range(20):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            self._sockets.append(filler)
            filler.connect_ex((self.host, self.port))
            await asyncio.sleep(0.2)
            try:
                filler.getpeername()
            except OSError:
                return          # this one got no answer: the queue is full
        raise AssertionError(f"could not fill the accept queue of {self.host}:{self.port}")

    async def close(self):
        for sock in self._sockets:
            sock.close()
        self._sockets = []


class WsRequest:
    def __init__(self, path, headers, remote):
        self.path, self.headers, self.remote = path, headers, remote

    def header(self, name):
        """Values of the header fields named name (case-insensitive), in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


class WsEcho:
    """A websockets server. requests: WsRequest per upgrade it accepted; close_codes: the code
    of each connection's close as websockets reports it (1006 when the TCP connection ended
    without a close frame); messages: data messages received."""

    def __init__(self, host, port=0, ssl=None, refuse_status=None, max_size=4 << 20):
        self.host, self.port, self.ssl = host, port, ssl
        self.refuse_status = refuse_status
        self.max_size = max_size
        self.requests = []
        self.close_codes = []
        self.messages = 0
        self.refused = 0
        self._server = None
        self.backend_loop = None

    async def start(self):
        self._server = await websockets.serve(
            self._handler, self.host, self.port, ssl=self.ssl, process_request=self._process,
            ping_interval=None, compression=None, max_size=self.max_size, close_timeout=5)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self):
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 10)

    async def _process(self, path, request_headers):
        if self.refuse_status is None:
            return None
        self.refused += 1
        return http.HTTPStatus(self.refuse_status), [("Content-Length", "7")], b"refused"

    async def _handler(self, ws, path=None):
        self.requests.append(WsRequest(ws.path, list(ws.request_headers.raw_items()),
                                       ws.remote_address))
        try:
            async for message in ws:
                self.messages += 1
                if isinstance(message, str) and message.startswith("close "):
                    await ws.close(int(message.split()[1]), "backend closes")
                    break
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        self.close_codes.append(ws.close_code)


class BackendTestCase(GatewayTestCase):
    """A GatewayTestCase whose class owns a BackendLoop (cls.backends), started before any
    gateway: subclasses start their servers in start_backends() and return the gateway's config
    text from make_config() (both classmethods; servers' ports are known by then). The loop is
    stopped after the class's last test (and when its set-up fails)."""

    @classmethod
    def start_backends(cls):
        pass

    @classmethod
    def make_config(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.backends = BackendLoop()
        try:
            cls.start_backends()
            cls.config = cls.make_config()
            super().setUpClass()
        except BaseException:
            cls.backends.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.backends.stop()

    _PROBE_RESULT = re.compile(r"service '.*': backend (\S+ reachable|unreachable)")

    def setUp(self):
        super().setUp()
        self._await_readiness_probes()

    def _await_readiness_probes(self):
        """At start the gateway probes each proxy service's backends once (readiness). Tests
        that count the connections a backend accepted wait for those probes to land first."""
        gateway = self.gateway
        if getattr(gateway, "_probes_settled", False):
            return
        expected = (self.config or "").count("<type>proxy</type>")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen = sum(1 for line in gateway.log_text().splitlines() if self._PROBE_RESULT.search(line))
            if seen >= expected:
                break
            time.sleep(0.02)
        time.sleep(0.05)   # the backends' own threads accept the probe connections
        gateway._probes_settled = True
