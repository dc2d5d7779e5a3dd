"""The conformance suite's WebSocket client: raw frames over a plain socket, and a reader that
turns the server's frames into *events* (whole messages, pings, pongs, the close, EOF), so that
cases compare what a user of the connection sees, not how the server chose to frame it.

Every frame the server sends is checked against RFC 6455 as it is read (5.1 unmasked, 5.2 no
RSV bit without an extension, known opcodes, 5.4 continuation only inside a message, 5.5 control
frames unfragmented and at most 125 bytes, 5.5.1 close payload shape and nothing after a close,
5.6 a text message is valid UTF-8, 7.4 the close code may be sent); a violation raises
CaseFailure. Every read has a deadline.
"""

import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path

# The frame, accept-key and close-payload helpers are the scenario tests' (tests/scenario/wire.py).
_SCENARIO = str(Path(__file__).resolve().parent.parent / "scenario")
if _SCENARIO not in sys.path:
    sys.path.insert(0, _SCENARIO)

import wire  # noqa: E402
from wire import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402,F401
                  accept_key, close_payload)

OP_NAMES = {OP_CONT: "continuation", OP_TEXT: "text", OP_BINARY: "binary", OP_CLOSE: "close",
            OP_PING: "ping", OP_PONG: "pong"}
IO_TIMEOUT_S = 5.0      # a reply that should come
CLOSE_TIMEOUT_S = 1.0   # the TCP close after a close frame (immediate in a conforming server)


class CaseFailure(AssertionError):
    """The server did not do what RFC 6455 requires; the message says what and where."""


def short(data, limit=48):
    """A short printable form of a payload for failure messages."""
    if isinstance(data, str):
        data = data.encode()
    data = bytes(data)
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r}... ({len(data)} bytes)"


def encode_frame(opcode, payload=b"", fin=True, rsv=0, masked=True, mask=None, length=None):
    """One client frame, as wire.encode_frame writes it, with one difference kept on purpose:
    mask defaults to 4 random bytes per frame (RFC 6455 5.3: unpredictable), where the scenario
    tests' default is one fixed mask. length overrides the announced payload length (the
    payload given is still what is sent); rsv is the 3-bit RSV field."""
    return wire.encode_frame(opcode, payload, fin=fin, rsv=rsv, masked=masked,
                             mask=os.urandom(4) if mask is None else bytes(mask), length=length)


def close_code_sendable(code):
    """Whether an endpoint may put code in a close frame (RFC 6455 7.4.1, 7.4.2)."""
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011) or \
        1012 <= code <= 1014 or 3000 <= code <= 4999


def upgrade_request(path, host, key, version="13", method="GET", http="HTTP/1.1", extra=(),
                    omit=()):
    """The text of an upgrade request; extra: (name, value) pairs appended; omit: names of the
    standard fields to leave out."""
    fields = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    fields = [(k, v) for k, v in fields if k not in omit] + list(extra)
    lines = [f"{method} {path} {http}"] + [f"{k}: {v}" for k, v in fields]
    return "\r\n".join(lines) + "\r\n\r\n"


class Response:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw

    def header(self, name):
        """The values of the fields named name (case-insensitive), in order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def tokens(self, name):
        """The comma-separated tokens of every field named name, lower-cased."""
        return [t.strip().lower() for v in self.header(name) for t in v.split(",") if t.strip()]


class Event(tuple):
    """What the user of a connection sees: ("text", payload), ("binary", payload),
    ("partial", opcode name, payload) (a message still open when the close came), ("ping", p),
    ("pong", p), ("close", code or None, reason bytes), ("eof",), ("timeout",)."""

    def __repr__(self):
        kind = self[0]
        if kind in ("text", "binary", "ping", "pong"):
            return f"{kind} {short(self[1])}"
        if kind == "partial":
            return f"unfinished {self[1]} message {short(self[2])}"
        if kind == "close":
            return f"close {self[1]} {short(self[2])}" if self[2] else f"close {self[1]}"
        return kind


class Conn:
    """One TCP connection speaking WebSocket by hand. Raises CaseFailure on anything the server
    sends that RFC 6455 forbids."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=IO_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.open_message = None     # (opcode, bytearray) of a server message not yet finished
        self.pending = []            # events decoded but not yet returned
        self.close_seen = False
        self.eof = False
        self._sender = None
        self._send_error = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- sending ----

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as error:
            raise CaseFailure(f"sending failed: {error} (the server closed the connection early)")

    def send_frame(self, opcode, payload=b"", tolerate_closed=False, **kw):
        """tolerate_closed: a server that already closed the connection is no failure (a
        close answering the server's close may find it gone)."""
        try:
            self.sock.sendall(encode_frame(opcode, payload, **kw))
        except OSError as error:
            if not tolerate_closed:
                raise CaseFailure(f"sending failed: {error} (the server closed the connection "
                                  "early)") from None

    def send_chopped(self, data, size, pause_s=0.0):
        """data in writes of size bytes, with pause_s between them."""
        for i in range(0, len(data), size):
            self.send(data[i:i + size])
            if pause_s:
                time.sleep(pause_s)

    def send_in_background(self, data, chunk=64 * 1024):
        """Writes data from a thread, so that a large message can be echoed while it is still
        being sent; wait_sent() joins it."""
        def run():
            try:
                view = memoryview(data)
                for i in range(0, len(view), chunk):
                    self.sock.sendall(view[i:i + chunk])
            except OSError as error:
                self._send_error.append(error)
        self._sender = threading.Thread(target=run, daemon=True)
        self._sender.start()

    def wait_sent(self, timeout=30.0):
        if self._sender is not None:
            self._sender.join(timeout)
            if self._sender.is_alive():
                raise CaseFailure(f"the server did not take the data within {timeout} s")
            self._sender = None
        if self._send_error:
            raise CaseFailure(f"sending failed: {self._send_error[0]}")

    # ---- HTTP ----

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 18)
        except socket.timeout:
            raise TimeoutError from None
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise EOFError
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _take(self, n, deadline):
        while len(self.buf) - self.pos < n:
            self._fill(deadline)
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def request(self, text, timeout=IO_TIMEOUT_S):
        """Sends an HTTP request and reads the response head: a Response."""
        self.send(text.encode("latin-1") if isinstance(text, str) else text)
        deadline = time.monotonic() + timeout
        try:
            while b"\r\n\r\n" not in self.buf[self.pos:]:
                if len(self.buf) - self.pos > 65536:
                    raise CaseFailure("no end of the response head within 64 KiB")
                self._fill(deadline)
        except TimeoutError:
            raise CaseFailure(f"no HTTP response within {timeout} s") from None
        except EOFError:
            raise CaseFailure(f"the server closed the connection without an HTTP response "
                              f"(got {short(self.buf[self.pos:])})") from None
        end = self.buf.index(b"\r\n\r\n", self.pos) + 4
        raw = bytes(self.buf[self.pos:end])
        self.pos = end
        lines = raw[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise CaseFailure(f"not an HTTP/1.x status line: {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        return Response(int(parts[1]), headers, raw)

    # ---- WebSocket frames and events ----

    def _read_frame(self, deadline):
        head = self._take(2, deadline)
        fin, rsv, opcode = bool(head[0] & 0x80), (head[0] >> 4) & 7, head[0] & 0xF
        masked, n = bool(head[1] & 0x80), head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
            if n >> 63:
                raise CaseFailure("server frame with the most significant length bit set (5.2)")
        if masked:
            raise CaseFailure(f"the server sent a masked {OP_NAMES.get(opcode, hex(opcode))} "
                              "frame (RFC 6455 5.1: a server MUST NOT mask)")
        if rsv:
            raise CaseFailure(f"the server sent RSV bits {rsv:#x} without an extension (5.2)")
        if opcode not in OP_NAMES:
            raise CaseFailure(f"the server sent reserved opcode {opcode:#x} (5.2)")
        if opcode >= 0x8 and (not fin or n > 125):
            raise CaseFailure(f"the server sent a {OP_NAMES[opcode]} frame with fin={fin}, "
                              f"{n} bytes (5.5: control frames are unfragmented, <= 125 bytes)")
        if n > (64 << 20):
            raise CaseFailure(f"the server announced a {n}-byte frame")
        return fin, opcode, self._take(n, deadline)

    def _frame_to_events(self, fin, opcode, payload):
        if self.close_seen:
            raise CaseFailure(f"the server sent a {OP_NAMES[opcode]} frame after its close "
                              f"frame (5.5.1): {short(payload)}")
        if opcode == OP_CLOSE:
            self.close_seen = True
            if len(payload) == 1:
                raise CaseFailure("the server sent a close frame with a 1-byte payload (5.5.1)")
            code = struct.unpack("!H", payload[:2])[0] if payload else None
            if code is not None and not close_code_sendable(code):
                raise CaseFailure(f"the server sent close code {code}, which may not be sent (7.4)")
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise CaseFailure(f"the server's close reason is not UTF-8: {short(payload)}") from None
            if self.open_message is not None:
                op, data = self.open_message
                self.open_message = None
                self.pending.append(Event(("partial", OP_NAMES[op], bytes(data))))
            self.pending.append(Event(("close", code, payload[2:])))
        elif opcode in (OP_PING, OP_PONG):
            self.pending.append(Event((OP_NAMES[opcode], payload)))
        elif opcode == OP_CONT:
            if self.open_message is None:
                raise CaseFailure(f"the server sent a continuation frame outside a message (5.4): "
                                  f"{short(payload)}")
            self.open_message[1].extend(payload)
            if fin:
                self._finish_message()
        else:
            if self.open_message is not None:
                raise CaseFailure(f"the server began a new {OP_NAMES[opcode]} message inside an "
                                  f"unfinished {OP_NAMES[self.open_message[0]]} message (5.4)")
            self.open_message = (opcode, bytearray(payload))
            if fin:
                self._finish_message()

    def _finish_message(self):
        op, data = self.open_message
        self.open_message = None
        if op == OP_TEXT:
            try:
                bytes(data).decode("utf-8")
            except UnicodeDecodeError as error:
                raise CaseFailure(f"the server sent a text message that is not UTF-8 ({error}): "
                                  f"{short(data)}") from None
        self.pending.append(Event((OP_NAMES[op], bytes(data))))

    def event(self, timeout=IO_TIMEOUT_S):
        """The next event; ("timeout",) when none comes within timeout seconds."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            if self.eof:
                return Event(("eof",))
            try:
                self._frame_to_events(*self._read_frame(deadline))
            except TimeoutError:
                return Event(("timeout",))
            except EOFError:
                self.eof = True
                if self.pos < len(self.buf):
                    raise CaseFailure(f"the server closed the connection in the middle of a frame "
                                      f"({short(self.buf[self.pos:])})") from None
                if self.open_message is not None:
                    op, data = self.open_message
                    self.open_message = None
                    self.pending.append(Event(("partial", OP_NAMES[op], bytes(data))))
        return self.pending.pop(0)
