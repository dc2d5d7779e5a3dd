"""Clients for the scenario tests: a raw-socket HTTP/WebSocket client that writes frames by hand
(so tests can send what real libraries refuse to send; over TLS too), a TCP helper, TLS contexts,
`openssl s_client` as a client, and a thin wrapper around the asyncio API of
python3-websockets 10.4.

Every read has a deadline; nothing here waits forever.
"""

import asyncio
import base64
import errno
import hashlib
import os
import select
import socket
import ssl
import struct
import subprocess
import threading
import time

import websockets

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_KEY = "dGhlIHNhbXBsZSBub25jZQ=="   # RFC 6455's example key (16 bytes in base64)
DEFAULT_MASK = b"\x37\xfa\x21\x3d"
IO_TIMEOUT_S = 5.0


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset) before the expected bytes arrived."""


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def encode_frame(opcode, payload=b"", fin=True, rsv=0, masked=True, mask=DEFAULT_MASK,
                 length=None):
    """One WebSocket frame. length overrides the announced payload length (the payload given is
    still what is sent); rsv is the 3-bit RSV field."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 1 << 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if masked:
        head += mask
        payload = apply_mask(payload, mask)
    return head + payload


def apply_mask(payload, mask):
    """payload XOR the 4-byte mask repeated (RFC 6455 5.3)."""
    n = len(payload)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


class Frame:
    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    @property
    def close_code(self):
        """The close code, or None for a close frame without one (websockets reports 1005)."""
        assert self.opcode == OP_CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        return (f"Frame(fin={self.fin}, rsv={self.rsv}, opcode={self.opcode:#x}, "
                f"masked={self.masked}, len={len(self.payload)}, head={self.payload[:40]!r})")


class HttpResponse:
    def __init__(self, status, reason, headers, raw):
        self.status, self.reason, self.headers, self.raw = status, reason, headers, raw

    def header(self, name):
        """Values of the header fields named name (case-insensitive), in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"HttpResponse({self.raw!r})"


class RawConnection:
    """A TCP (or, with ssl_context, TLS) connection that speaks HTTP/1.1 and WebSocket by hand.
    server_hostname: the name the TLS client sends and verifies (default: host); source: the
    local IP address to connect from; rcvbuf, sndbuf: SO_RCVBUF and SO_SNDBUF set before
    connecting (fixed sizes: the kernel then does not grow them), for tests that bound what
    may be in flight."""

    def __init__(self, host, port, timeout=IO_TIMEOUT_S, ssl_context=None, server_hostname=None,
                 source=None, rcvbuf=None, sndbuf=None):
        if rcvbuf is None and sndbuf is None:
            self.sock = socket.create_connection((host, port), timeout=timeout,
                                                 source_address=(source, 0) if source else None)
        else:
            family, kind, proto, _, address = socket.getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)[0]
            self.sock = socket.socket(family, kind, proto)
            try:
                for option, size in ((socket.SO_RCVBUF, rcvbuf), (socket.SO_SNDBUF, sndbuf)):
                    if size is not None:
                        self.sock.setsockopt(socket.SOL_SOCKET, option, size)
                if source:
                    self.sock.bind((source, 0))
                self.sock.settimeout(timeout)
                self.sock.connect(address)
            except BaseException:
                self.sock.close()
                raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            try:
                self.sock = ssl_context.wrap_socket(self.sock,
                                                    server_hostname=server_hostname or host)
            except BaseException:
                self.sock.close()
                raise
        self.host, self.port = host, port
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data before the deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("no data before the deadline") from None
        except (ConnectionResetError, ssl.SSLEOFError):
            raise Closed("connection reset") from None
        if not chunk:
            raise Closed("EOF")
        self.buf += chunk

    def read_exact(self, n, timeout=IO_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_until(self, marker, limit=1 << 20, timeout=IO_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError(f"no {marker!r} within {limit} bytes: {self.buf[:200]!r}")
            self._fill(deadline)
        end = self.buf.index(marker) + len(marker)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def read_to_eof(self, timeout=IO_TIMEOUT_S, limit=1 << 20):
        """Every byte until the peer closes (EOF or reset). TimeoutError if it does not close."""
        deadline = time.monotonic() + timeout
        while len(self.buf) <= limit:
            try:
                self._fill(deadline)
            except Closed:
                data, self.buf = self.buf, b""
                return data
        raise AssertionError(f"more than {limit} bytes and no EOF")

    def is_closed_by_peer(self, timeout=IO_TIMEOUT_S):
        """True when the peer closes the TCP connection within timeout with no further bytes;
        False on timeout; AssertionError when it sends more bytes."""
        try:
            extra = self.read_to_eof(timeout=timeout, limit=1 << 16)
        except TimeoutError:
            return False
        if extra:
            raise AssertionError(f"bytes after the end: {extra[:200]!r}")
        return True

    # ---- HTTP ----

    def read_response_head(self, timeout=IO_TIMEOUT_S):
        raw = self.read_until(b"\r\n\r\n", limit=64 * 1024, timeout=timeout)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        assert version.startswith("HTTP/1."), f"not an HTTP status line: {lines[0]!r}"
        code, _, reason = rest.partition(" ")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        return HttpResponse(int(code), reason, headers, raw)

    def request(self, data, timeout=IO_TIMEOUT_S):
        """Sends data (bytes or str) and reads the response head."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.send(data)
        return self.read_response_head(timeout=timeout)

    # ---- WebSocket ----

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(encode_frame(opcode, payload, **kw))

    def read_frame(self, timeout=IO_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        head = self.read_exact(2, timeout)
        fin, rsv, opcode = bool(head[0] & 0x80), (head[0] >> 4) & 7, head[0] & 0xF
        masked, n = bool(head[1] & 0x80), head[1] & 0x7F
        left = lambda: max(0.001, deadline - time.monotonic())
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2, left()))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8, left()))[0]
        mask = self.read_exact(4, left()) if masked else None
        payload = self.read_exact(n, left())
        if masked:
            payload = apply_mask(payload, mask)
        return Frame(fin, rsv, opcode, masked, payload)

    def read_message(self, timeout=IO_TIMEOUT_S):
        """The next data message, however the server framed it: (opcode, payload, controls),
        where controls lists the control frames that came between its first and last frame.
        The echo service may stream a message as several frames; a user sees one message."""
        deadline = time.monotonic() + timeout
        left = lambda: max(0.001, deadline - time.monotonic())
        controls = []
        first = self.read_frame(timeout)
        while first.opcode >= 0x8 and first.opcode != OP_CLOSE:
            controls.append(first)
            first = self.read_frame(left())
        assert first.opcode in (OP_TEXT, OP_BINARY), f"expected a data message, got {first!r}"
        assert not first.masked, "a server must not mask its frames"
        payload, done = first.payload, first.fin
        while not done:
            frame = self.read_frame(left())
            if frame.opcode in (OP_PING, OP_PONG):
                controls.append(frame)
                continue
            assert frame.opcode == OP_CONT, f"expected a continuation, got {frame!r}"
            payload += frame.payload
            done = frame.fin
        return first.opcode, payload, controls

    def expect_close(self, testcase, code, timeout=IO_TIMEOUT_S, echo_first=False):
        """Asserts that the next frame from the server is an unmasked close with code (None: no
        code), answers it with a close as a client should, and asserts that the server then
        closes the TCP connection. Returns the close frame. echo_first: data frames may come
        first (the echo of the valid part of a message that the server streams back)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = self.read_frame(max(0.001, deadline - time.monotonic()))
            except Closed as error:
                testcase.fail(f"the server closed the TCP connection ({error}) without a close "
                              f"frame (expected close {code})")
            except TimeoutError:
                testcase.fail(f"no close frame from the server within {timeout} s "
                              f"(expected close {code})")
            if not (echo_first and frame.opcode in (OP_CONT, OP_TEXT, OP_BINARY)):
                break
        testcase.assertEqual(frame.opcode, OP_CLOSE, f"expected a close frame, got {frame!r}")
        testcase.assertFalse(frame.masked, "a server must not mask its frames")
        testcase.assertEqual(frame.close_code, code, f"close frame {frame.payload!r}")
        if len(frame.payload) > 2:
            frame.payload[2:].decode("utf-8")   # the reason must be valid UTF-8
        try:
            self.send_frame(OP_CLOSE, frame.payload[:2])
        except OSError:
            pass   # the server may already have closed: that is allowed
        testcase.assertTrue(self.is_closed_by_peer(timeout),
                            "the server did not close the TCP connection after the close handshake")
        return frame


def upgrade_request(path, host, key=DEFAULT_KEY, version="13", method="GET", http="HTTP/1.1",
                    extra=(), omit=(), line_end="\r\n"):
    """The text of a WebSocket upgrade request. extra: (name, value) pairs appended; omit: names
    of the standard fields to leave out."""
    fields = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    fields = [(k, v) for k, v in fields if k not in omit] + list(extra)
    lines = [f"{method} {path} {http}"] + [f"{k}: {v}" for k, v in fields]
    return line_end.join(lines) + line_end + line_end


def open_websocket(testcase, host, port, path="/echo", host_header=None, extra=(),
                   **connection_options):
    """A RawConnection after a successful upgrade (asserts 101 and the accept key);
    connection_options go to RawConnection (ssl_context, source, rcvbuf, ...)."""
    conn = RawConnection(host, port, **connection_options)
    testcase.addCleanup(conn.close)
    key = base64.b64encode(os.urandom(16)).decode()
    resp = conn.request(upgrade_request(path, host_header or f"{host}:{port}", key=key,
                                        extra=extra))
    testcase.assertEqual(resp.status, 101, f"upgrade refused: {resp.raw!r}")
    testcase.assertEqual(resp.header("Sec-WebSocket-Accept"), [accept_key(key)])
    return conn


# ---- TCP -------------------------------------------------------------------------------------

def tcp_round_trip(host, port, data, timeout=30.0, chunk=64 * 1024):
    """Sends data on a new connection while reading the echo in parallel, then shuts down
    writing and reads to EOF. Returns (bytes received, saw_eof)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    received = bytearray()
    errors = []

    def writer():
        try:
            view = memoryview(data)
            for i in range(0, len(view), chunk):
                sock.sendall(view[i:i + chunk])
            sock.shutdown(socket.SHUT_WR)
        except OSError as error:
            errors.append(error)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    eof = False
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                piece = sock.recv(1 << 16)
            except socket.timeout:
                break
            if not piece:
                eof = True
                break
            received += piece
    finally:
        thread.join(timeout=timeout)
        sock.close()
    if errors:
        raise errors[0]
    return bytes(received), eof


def connection_refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        return error.errno == errno.ECONNREFUSED
    return False


# ---- TLS -------------------------------------------------------------------------------------

def client_ssl_context(cafile, certfile=None):
    """A TLS client context that verifies the server against cafile (host names checked);
    certfile: a PEM file with the client's certificate chain and key, to present."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(cafile))
    if certfile is not None:
        context.load_cert_chain(str(certfile))
    return context


def server_ssl_context(certfile, client_cafile=None):
    """A TLS server context presenting certfile (PEM: chain and key); with client_cafile it
    requires a client certificate signed by one of those CAs."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certfile))
    if client_cafile is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_cafile))
    return context


class SClient:
    """`openssl s_client -quiet` connected to host:port, verifying the server against cafile
    and server_name (sent as SNI too); certfile: PEM with the client certificate and key.
    send() writes to its stdin; read_exact() reads what it prints (the server's bytes);
    finish() ends it and returns (exit status, stderr text). Use as a context manager."""

    def __init__(self, host, port, cafile, server_name, certfile=None):
        cmd = ["openssl", "s_client", "-connect", f"{host}:{port}", "-CAfile", str(cafile),
               "-quiet", "-servername", server_name, "-verify_hostname", server_name,
               "-verify_return_error"]
        if certfile is not None:
            cmd += ["-cert", str(certfile), "-key", str(certfile)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._result = None

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_exact(self, n, timeout=IO_TIMEOUT_S):
        """n bytes of output; fewer when s_client ends or timeout passes first."""
        out = b""
        deadline = time.monotonic() + timeout
        while len(out) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                break
            piece = os.read(self.proc.stdout.fileno(), n - len(out))
            if not piece:
                break
            out += piece
        return out

    def wait(self, timeout):
        """s_client's exit status, or None when it still runs after timeout seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def finish(self):
        """Kills s_client if it still runs; (exit status, stderr text). Idempotent."""
        if self._result is None:
            if self.proc.poll() is None:
                self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            self._result = (self.proc.returncode, err.decode(errors="replace"))
        return self._result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()


# ---- websockets (the real client library) ----------------------------------------------------

def run_async(coro, timeout=30.0):
    """Runs coro in a fresh event loop, bounded by timeout seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_connect(uri, **kw):
    """websockets.connect with test defaults: no keep-alive pings, no compression, 4 MiB
    messages, bounded handshake and close."""
    options = dict(ping_interval=None, compression=None, max_size=4 << 20, open_timeout=5,
                   close_timeout=5)
    options.update(kw)
    return websockets.connect(uri, **options)


async def recv_bytes(ws, n, timeout=IO_TIMEOUT_S):
    """Reads messages from ws (websockets) until n bytes have come; returns (bytes, types)
    where types is the set of Python types of the messages ({bytes} when all were binary).
    Where a gateway turns a TCP byte stream into binary messages, their boundaries are not the
    sender's: a user reassembles the bytes. AssertionError when more than n bytes come."""
    received, types = bytearray(), set()
    while len(received) < n:
        message = await asyncio.wait_for(ws.recv(), timeout)
        types.add(type(message))
        received += message.encode() if isinstance(message, str) else message
    if len(received) > n:
        raise AssertionError(f"{len(received)} bytes came, {n} expected")
    return bytes(received), types
