"""RFC 6455 conformance cases for a WebSocket echo endpoint, numbered after the server cases of
the Autobahn TestSuite (1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes, 5 fragmentation,
6 UTF-8, 7 close, 9 large messages) plus H (the opening handshake, RFC 6455 4.2).

A case is a function of one argument, `connect`:
  connect()            -> a client.Conn after a checked upgrade (101, accept key, no extension)
  connect.raw()        -> a client.Conn with no request sent yet
  connect.request(**k) -> (Conn, Response) for upgrade_request(**k) with a fresh key;
                          connect.last_key is that key
It raises client.CaseFailure (or any exception) when the server is wrong. The echo may frame
its answers as it likes (README: each chunk is echoed as it arrives), so cases compare
*messages* (type and reassembled payload), never frames. Strictness: what RFC 6455 says MUST
or SHOULD, the server does; where the RFC leaves a choice (e.g. answer only the latest of
several pings, 5.5.3), every allowed answer passes.

KNOWN_FAILURES lists the cases that fail because of postern defects: the runner reports them
as XFAIL with the reason and does not count them as failures.
"""

import os
import time

from client import (CLOSE_TIMEOUT_S, IO_TIMEOUT_S, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING,
                    OP_PONG, OP_TEXT, CaseFailure, Event, accept_key, close_payload,
                    encode_frame, short)

# Known postern defects: (case id or id prefix, paths (None: all), reason). A prefix "6.10"
# covers 6.10.x. Empty: the proxy defects this suite found (the 2 s linger after failing a
# client, the lost echo of messages before a bad frame, a close frame cut into a forwarded one)
# are fixed; an entry goes here only with the RFC text the case breaks.
PROXY_PATHS = ("proxy", "reverse")
KNOWN_FAILURES = []


class Case:
    def __init__(self, case_id, title, run):
        self.id, self.title, self.run = case_id, title, run


CASES = []


def add(case_id, title, run):
    assert all(c.id != case_id for c in CASES), case_id
    CASES.append(Case(case_id, title, run))


def case(case_id, title):
    def register(run):
        add(case_id, title, run)
        return run
    return register


def known_failure(case_id, path):
    """The reason case_id is a known failure on path, or None."""
    for prefix, paths, reason in KNOWN_FAILURES:
        if (case_id == prefix or case_id.startswith(prefix + ".")) and \
                (paths is None or path in paths):
            return reason
    return None


# ---- expectations ----------------------------------------------------------------------------

def _fmt(events):
    return "[" + ", ".join(repr(Event(e)) for e in events) + "]" if events else "nothing"


def expect(conn, expected, timeout=IO_TIMEOUT_S):
    """The next events are the messages and pongs of expected, data messages in their order and
    pongs in theirs (the server may put a pong between the frames of an echo). Anything else
    (a close, EOF, an unexpected message or pong) fails."""
    want_data = [Event(e) for e in expected if e[0] in ("text", "binary")]
    want_pongs = [Event(e) for e in expected if e[0] == "pong"]
    got_data, got_pongs = [], []
    deadline = time.monotonic() + timeout
    while len(got_data) < len(want_data) or len(got_pongs) < len(want_pongs):
        ev = conn.event(max(0.001, deadline - time.monotonic()))
        seen = _fmt(got_data + got_pongs)
        if ev[0] in ("text", "binary") and len(got_data) < len(want_data):
            want = want_data[len(got_data)]
            if ev != want:
                raise CaseFailure(f"expected {want!r} (data message {len(got_data) + 1} of "
                                  f"{len(want_data)}), got {ev!r}")
            got_data.append(ev)
        elif ev[0] == "pong" and len(got_pongs) < len(want_pongs):
            want = want_pongs[len(got_pongs)]
            if ev != want:
                raise CaseFailure(f"expected {want!r}, got {ev!r}")
            got_pongs.append(ev)
        elif ev[0] == "timeout":
            missing = want_data[len(got_data):] + want_pongs[len(got_pongs):]
            raise CaseFailure(f"expected {_fmt(missing)} within {timeout} s, got nothing more "
                              f"(received so far: {seen})")
        else:
            raise CaseFailure(f"expected {_fmt(expected)}, got {ev!r} after {seen}")


def expect_close(conn, codes, before=(), partial_of=None, pongs_optional=(),
                 timeout=IO_TIMEOUT_S, label="", reply=False):
    """Reads to the server's close: first the events of before (as expect() matches them), then
    a close frame with a code in codes (an int, None for no code, or a set), then the end of
    the TCP connection within CLOSE_TIMEOUT_S (RFC 6455 7.1.1: after sending and receiving a
    close the server MUST close TCP, and closes it first). reply: the client answers the
    server's close with a close of the same code first, as a conforming client does (5.5.1);
    otherwise the server must close TCP without that answer (7.1.7: a failing endpoint closes
    the connection and processes nothing more, not even a close reply). partial_of: the echo of the unfinished
    message may have been streamed before the close; its payload must then be a prefix of
    partial_of (never more than the valid part that was sent). pongs_optional: payloads of
    pongs that may come (pings sent before the error that the server may answer)."""
    codes = codes if isinstance(codes, (set, frozenset)) else {codes}
    want = [Event(e) for e in before]
    optional = [Event(("pong", p)) for p in pongs_optional]
    got = []
    deadline = time.monotonic() + timeout
    what = f"close {'/'.join(str(c) for c in sorted(codes, key=str))}{label}"
    while True:
        ev = conn.event(max(0.001, deadline - time.monotonic()))
        if ev[0] == "close":
            break
        if ev[0] == "partial" and partial_of is not None and partial_of.startswith(ev[2]):
            continue
        if ev in optional:
            optional.remove(ev)
            continue
        if ev[0] in ("text", "binary", "pong", "ping", "partial") and \
                len(got) < len(want) and ev == want[len(got)]:
            got.append(ev)
            continue
        if ev[0] == "timeout":
            raise CaseFailure(f"expected {_fmt(want[len(got):])} then {what} within {timeout} s; "
                              f"got {_fmt(got)} and then nothing")
        if ev[0] == "eof":
            raise CaseFailure(f"the server closed the TCP connection without a close frame "
                              f"(expected {_fmt(want[len(got):])} then {what}; got {_fmt(got)})")
        if ev[0] == "partial" and len(got) < len(want) and want[len(got)][0] == ev[1] and \
                want[len(got)][1].startswith(ev[2]):
            raise CaseFailure(f"the echo of a message sent before the error was cut off by the "
                              f"close: expected {want[len(got)]!r} then {what}, got {ev!r} then "
                              f"{conn.event(CLOSE_TIMEOUT_S)!r}")
        if ev[0] == "partial":
            raise CaseFailure(f"expected {what}; the unfinished echo before it holds bytes that "
                              f"were not a valid prefix of what was sent: {ev!r}")
        raise CaseFailure(f"expected {_fmt(want[len(got):])} then {what}, got {ev!r} "
                          f"(after {_fmt(got)})")
    if len(got) < len(want):
        raise CaseFailure(f"{ev!r} came before {_fmt(want[len(got):])} (expected those first)")
    if ev[1] not in codes:
        raise CaseFailure(f"expected {what}, got {ev!r}")
    if reply:
        conn.send_frame(OP_CLOSE, close_payload(ev[1]), tolerate_closed=True)
    after = conn.event(CLOSE_TIMEOUT_S)
    if after[0] == "timeout":
        answered = "after the client answered it with a close" if reply else \
            "without waiting for a close from the client"
        raise CaseFailure(f"{ev!r} came, but the server did not close the TCP connection within "
                          f"{CLOSE_TIMEOUT_S} s {answered} (7.1.1/7.1.7)")
    if after[0] != "eof":
        raise CaseFailure(f"after its {ev!r} the server sent {after!r}")
    return ev


def finish(conn):
    """The client's normal close: close 1000, answered by close 1000 and the end of TCP."""
    conn.send_frame(OP_CLOSE, close_payload(1000))
    expect_close(conn, 1000, label=" (answer to the client's close 1000)")


def fail(conn, code, before=(), partial_of=None, pongs_optional=(), reply=True,
         timeout=IO_TIMEOUT_S):
    """The server fails the connection with code (7.1.7), after the events of before; the
    client answers its close as a conforming client does, unless reply is False."""
    expect_close(conn, code, before, partial_of, pongs_optional, timeout=timeout,
                 label=" (failing the connection)", reply=reply)


def name_of(opcode):
    return "text" if opcode == OP_TEXT else "binary"


def frames(*specs):
    """The bytes of several frames: each spec is (opcode, payload[, fin[, rsv]])."""
    out = b""
    for spec in specs:
        opcode, payload = spec[0], spec[1]
        fin = spec[2] if len(spec) > 2 else True
        rsv = spec[3] if len(spec) > 3 else 0
        out += encode_frame(opcode, payload, fin=fin, rsv=rsv)
    return out


def send(conn, data, how):
    """how: "whole" (one write), "chopped" (1-byte writes), "frames" (one frame per write is
    done by the caller), or an int (writes of that many bytes)."""
    if how == "whole":
        conn.send(data)
    elif how == "chopped":
        conn.send_chopped(data, 1)
    else:
        conn.send_chopped(data, how)


# ---- 1 framing -------------------------------------------------------------------------------

LENGTHS = [0, 125, 126, 127, 128, 65535, 65536]


def echo_one(opcode, payload, how="whole"):
    def run(connect):
        conn = connect()
        data = encode_frame(opcode, payload)
        if how == "whole" and len(data) > 65536:
            conn.send_in_background(data)
        else:
            send(conn, data, how)
        expect(conn, [(name_of(opcode), payload)])
        conn.wait_sent()
        finish(conn)
    return run


for group, opcode in (("1.1", OP_TEXT), ("1.2", OP_BINARY)):
    for i, n in enumerate(LENGTHS, 1):
        body = (b"*" * n) if opcode == OP_TEXT else bytes((j * 7 + 1) % 256 for j in range(n))
        add(f"{group}.{i}", f"{name_of(opcode)} message, {n}-byte payload", echo_one(opcode, body))
    add(f"{group}.8", f"{name_of(opcode)} message, 65536 bytes, written in 997-byte chunks",
        echo_one(opcode, (b"*" * 65536) if opcode == OP_TEXT else os.urandom(65536), 997))

add("1.3.1", "binary message of 127 bytes written one byte at a time",
    echo_one(OP_BINARY, os.urandom(127), "chopped"))
add("1.3.2", "text message of 126 bytes (16-bit length) written one byte at a time",
    echo_one(OP_TEXT, b"x" * 126, "chopped"))


@case("1.3.3", "64-bit length header written byte by byte with pauses, then the payload")
def _(connect):
    conn = connect()
    payload = os.urandom(70000)
    data = encode_frame(OP_BINARY, payload)
    conn.send_chopped(data[:14], 1, pause_s=0.01)   # 2 + 8 length bytes + 4 mask bytes
    conn.send(data[14:])
    expect(conn, [("binary", payload)])
    finish(conn)


@case("1.4.1", "unmasked client frame: fail with 1002 (5.1)")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, b"not masked", masked=False)
    fail(conn, 1002)


@case("1.4.2", "valid message, then an unmasked frame: echo, then 1002")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"first")) + encode_frame(OP_TEXT, b"bad", masked=False))
    fail(conn, 1002, before=[("text", b"first")])


@case("1.4.3", "masking key 00000000 and ffffffff are valid")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, b"zero mask", mask=b"\0\0\0\0")
    conn.send_frame(OP_BINARY, b"\x01\x02\x03\x04\x05", mask=b"\xff\xff\xff\xff")
    expect(conn, [("text", b"zero mask"), ("binary", b"\x01\x02\x03\x04\x05")])
    finish(conn)


@case("1.4.4", "every frame its own masking key (a message over several keys)")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"abc", False), (OP_CONT, b"def", False), (OP_CONT, b"ghi", True)))
    expect(conn, [("text", b"abcdefghi")])
    finish(conn)


@case("1.5.1", "100 text messages in one write are echoed in order")
def _(connect):
    conn = connect()
    msgs = [f"message {i:03d} ".encode() * (i % 7 + 1) for i in range(100)]
    conn.send(b"".join(encode_frame(OP_TEXT, m) for m in msgs))
    expect(conn, [("text", m) for m in msgs])
    finish(conn)


@case("1.5.2", "text and binary messages alternating, empty ones among them")
def _(connect):
    conn = connect()
    msgs = [(OP_TEXT, b""), (OP_BINARY, b""), (OP_TEXT, b"t"), (OP_BINARY, b"\0"),
            (OP_BINARY, b""), (OP_TEXT, "é".encode())]
    conn.send(b"".join(encode_frame(o, p) for o, p in msgs))
    expect(conn, [(name_of(o), p) for o, p in msgs])
    finish(conn)


@case("1.6.1", "64-bit length with the most significant bit set: fail (5.2: MUST be 0)")
def _(connect):
    conn = connect()
    conn.send(bytes([0x82, 0xFF]) + b"\x80\0\0\0\0\0\0\x05" + os.urandom(4) + b"12345")
    fail(conn, {1002, 1009})


# ---- 2 ping / pong ---------------------------------------------------------------------------

def ping_case(payload, how="whole"):
    def run(connect):
        conn = connect()
        send(conn, encode_frame(OP_PING, payload), how)
        expect(conn, [("pong", payload)])
        finish(conn)
    return run


add("2.1", "ping without payload: pong without payload", ping_case(b""))
add("2.2", "ping with a text payload: pong with the same payload", ping_case(b"Hello, world!"))
add("2.3", "ping with a binary payload: pong with the same payload",
    ping_case(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"))
add("2.4", "ping with a 125-byte payload: pong with the same payload",
    ping_case(bytes(range(125))))
add("2.6", "ping with a 125-byte payload written one byte at a time",
    ping_case(bytes(range(125)), "chopped"))
add("2.12", "ping payload that is not UTF-8 comes back unchanged", ping_case(b"\xc0\xaf\xff"))


@case("2.5", "ping with a 126-byte payload: fail with 1002 (5.5)")
def _(connect):
    conn = connect()
    conn.send_frame(OP_PING, b"\xfe" * 126)
    fail(conn, 1002)


@case("2.5.2", "ping announcing a 64-bit length of 65536: fail with 1002, no wait for the payload")
def _(connect):
    conn = connect()
    conn.send(bytes([0x89, 0xFF]) + (65536).to_bytes(8, "big") + os.urandom(4))
    fail(conn, 1002)


def unsolicited_pong(payload):
    def run(connect):
        conn = connect()
        conn.send_frame(OP_PONG, payload)
        conn.send_frame(OP_PING, b"marker")    # the first answer must be to this ping
        expect(conn, [("pong", b"marker")])
        finish(conn)
    return run


add("2.7", "unsolicited pong without payload: no answer", unsolicited_pong(b""))
add("2.8", "unsolicited pong with payload: no answer", unsolicited_pong(b"unsolicited pong payload"))


@case("2.9", "unsolicited pong, then ping: one pong with the ping's payload")
def _(connect):
    conn = connect()
    conn.send(frames((OP_PONG, b"unsolicited"), (OP_PING, b"ping payload")))
    expect(conn, [("pong", b"ping payload")])
    conn.send_frame(OP_TEXT, b"after")
    expect(conn, [("text", b"after")])   # no second pong came before the echo
    finish(conn)


def ten_pings(pause_s, how):
    def run(connect):
        conn = connect()
        payloads = [f"payload-{i}".encode() for i in range(10)]
        for p in payloads:
            send(conn, encode_frame(OP_PING, p), how)
            if pause_s:
                time.sleep(pause_s)
        # 5.5.3: pongs in order; an endpoint may answer only the most recent ping.
        got, deadline = [], time.monotonic() + IO_TIMEOUT_S
        while not got or got[-1] != payloads[-1]:
            ev = conn.event(max(0.001, deadline - time.monotonic()))
            if ev[0] != "pong":
                raise CaseFailure(f"expected pongs ending with {short(payloads[-1])}, got {ev!r} "
                                  f"after {len(got)} pongs")
            if ev[1] not in payloads or (got and payloads.index(ev[1]) <= payloads.index(got[-1])):
                raise CaseFailure(f"pong {short(ev[1])} out of order or not for a ping sent "
                                  f"(after {[short(g) for g in got]})")
            got.append(ev[1])
        finish(conn)
    return run


add("2.10", "10 pings in a row: pongs in order, the last one answered", ten_pings(0, "whole"))
add("2.11", "10 pings, written one byte at a time with pauses", ten_pings(0.01, "chopped"))


# ---- 3 reserved bits -------------------------------------------------------------------------

@case("3.1", "text frame with RSV1 set: fail with 1002 (5.2)")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, b"Hello, world!", rsv=4)
    fail(conn, 1002)


def rsv_after_valid(rsv, how, bad_opcode=OP_TEXT, bad_payload=b"Hello, world!"):
    def run(connect):
        conn = connect()
        data = [encode_frame(OP_TEXT, b"valid first"),
                encode_frame(bad_opcode, bad_payload, rsv=rsv),
                encode_frame(OP_PING, b"not to be answered")]
        if how == "frames":
            for d in data:
                conn.send(d)
                time.sleep(0.05)
        else:
            send(conn, b"".join(data), how)
        # The valid message is echoed (the data before the error is processed); the ping after
        # the bad frame is not (7.1.7: no processing after the failure).
        fail(conn, 1002, before=[("text", b"valid first")])
    return run


add("3.2", "valid text, text with RSV2, ping: echo, 1002, no pong", rsv_after_valid(2, "whole"))
add("3.3", "same with RSV3, one frame per write", rsv_after_valid(1, "frames"))
add("3.4", "same with RSV1+2, written one byte at a time", rsv_after_valid(6, "chopped"))
add("3.5", "binary with RSV1+3 after a valid text", rsv_after_valid(5, "whole", OP_BINARY, b"\0\1\2"))
add("3.6", "ping with RSV2+3 after a valid text", rsv_after_valid(3, "whole", OP_PING, b"p"))
add("3.7", "close with RSV1+2+3 after a valid text",
    rsv_after_valid(7, "whole", OP_CLOSE, close_payload(1000)))
add("3.8", "continuation with RSV1 inside a fragmented message",
    lambda connect: _rsv_in_continuation(connect))


def _rsv_in_continuation(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"part one ", False), (OP_CONT, b"part two", True, 4)))
    fail(conn, 1002, partial_of=b"part one ")


# ---- 4 opcodes -------------------------------------------------------------------------------

def reserved_opcode(opcode, variant):
    def run(connect):
        conn = connect()
        if variant == 1:
            conn.send_frame(opcode)
            fail(conn, 1002)
        elif variant == 2:
            conn.send_frame(opcode, b"reserved opcode payload")
            fail(conn, 1002)
        else:
            conn.send(frames((OP_TEXT, b"Hello, world!"), (opcode, b""), (OP_PING, b"")))
            fail(conn, 1002, before=[("text", b"Hello, world!")])
    return run


for group, ops in (("4.1", range(0x3, 0x8)), ("4.2", range(0xB, 0x10))):
    kind = "non-control" if group == "4.1" else "control"
    for op in ops:
        for variant, what in ((1, "empty"), (2, "with payload"), (3, "after a valid text, before a ping")):
            add(f"{group}.{op:x}.{variant}", f"reserved {kind} opcode {op:#x}, {what}: 1002",
                reserved_opcode(op, variant))


# ---- 5 fragmentation -------------------------------------------------------------------------

@case("5.1", "ping in 2 fragments: fail with 1002 (5.5)")
def _(connect):
    conn = connect()
    conn.send(frames((OP_PING, b"frag1", False), (OP_CONT, b"frag2", True)))
    fail(conn, 1002)


@case("5.2", "pong in 2 fragments: fail with 1002 (5.5)")
def _(connect):
    conn = connect()
    conn.send(frames((OP_PONG, b"frag1", False), (OP_CONT, b"frag2", True)))
    fail(conn, 1002)


def two_fragments(opcode, how):
    def run(connect):
        conn = connect()
        parts = [encode_frame(opcode, b"fragment1", fin=False), encode_frame(OP_CONT, b"fragment2")]
        if how == "frames":
            for p in parts:
                conn.send(p)
                time.sleep(0.1)
        else:
            send(conn, b"".join(parts), how)
        expect(conn, [(name_of(opcode), b"fragment1fragment2")])
        finish(conn)
    return run


add("5.3", "text in 2 fragments", two_fragments(OP_TEXT, "whole"))
add("5.4", "text in 2 fragments, written one byte at a time", two_fragments(OP_TEXT, "chopped"))
add("5.5", "text in 2 fragments, one frame per write with a pause",
    two_fragments(OP_TEXT, "frames"))
add("5.5.2", "binary in 2 fragments, one frame per write with a pause",
    two_fragments(OP_BINARY, "frames"))


def ping_between(how, control=OP_PING):
    def run(connect):
        conn = connect()
        parts = [encode_frame(OP_TEXT, b"fragment1", fin=False),
                 encode_frame(control, b"between"), encode_frame(OP_CONT, b"fragment2")]
        if how == "frames":
            for p in parts:
                conn.send(p)
                time.sleep(0.1)
        else:
            send(conn, b"".join(parts), how)
        want = [("text", b"fragment1fragment2")]
        if control == OP_PING:
            want.append(("pong", b"between"))
        expect(conn, want)
        finish(conn)
    return run


add("5.6", "text in 2 fragments with a ping between: pong and echo", ping_between("whole"))
add("5.7", "same, written one byte at a time", ping_between("chopped"))
add("5.8", "same, one frame per write with pauses", ping_between("frames"))
add("5.8.2", "text in 2 fragments with an unsolicited pong between: echo only",
    ping_between("whole", OP_PONG))


def orphan_continuation(fin, how):
    def run(connect):
        conn = connect()
        data = encode_frame(OP_CONT, b"non-continuation payload", fin=fin)
        send(conn, data, how)
        fail(conn, 1002)
    return run


add("5.9", "continuation (FIN) without a message: 1002", orphan_continuation(True, "whole"))
add("5.10", "same, written one byte at a time", orphan_continuation(True, "chopped"))
add("5.11", "same, written in 3-byte chunks", orphan_continuation(True, 3))
add("5.12", "continuation (no FIN) without a message: 1002", orphan_continuation(False, "whole"))
add("5.13", "same, written one byte at a time", orphan_continuation(False, "chopped"))


@case("5.14", "text and continuation frames, then an orphan continuation: echo, then 1002")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"fragment1", False), (OP_CONT, b"fragment2", True),
                     (OP_CONT, b"fragment3", False), (OP_TEXT, b"fragment4", True)))
    fail(conn, 1002, before=[("text", b"fragment1fragment2")])


@case("5.15", "continuation, text (no FIN), continuation: 1002 at the first frame")
def _(connect):
    conn = connect()
    conn.send(frames((OP_CONT, b"fragment1", False), (OP_TEXT, b"fragment2", False),
                     (OP_CONT, b"fragment3", True)))
    fail(conn, 1002)


@case("5.16", "text (no FIN) then a new text: 1002 (5.4)")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"fragment1", False), (OP_TEXT, b"fragment2", True)))
    fail(conn, 1002, partial_of=b"fragment1")


@case("5.17", "binary (no FIN) then a new binary: 1002 (5.4)")
def _(connect):
    conn = connect()
    conn.send(frames((OP_BINARY, b"fragment1", False), (OP_BINARY, b"fragment2", False)))
    fail(conn, 1002, partial_of=b"fragment1")


@case("5.18", "text (no FIN) then binary: 1002 (5.4)")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"fragment1", False), (OP_BINARY, b"fragment2", True)))
    fail(conn, 1002, partial_of=b"fragment1")


def pings_and_pauses(how):
    def run(connect):
        conn = connect()
        parts, want_pongs = [], []
        for i in range(1, 6):
            op = OP_TEXT if i == 1 else OP_CONT
            parts.append(encode_frame(op, f"fragment{i}".encode(), fin=(i == 5)))
            if i in (1, 3):
                parts.append(encode_frame(OP_PING, f"pongme {i}!".encode()))
                want_pongs.append(("pong", f"pongme {i}!".encode()))
        for p in parts:
            send(conn, p, how)
            time.sleep(0.25)
        expect(conn, [("text", b"fragment1fragment2fragment3fragment4fragment5")] + want_pongs)
        finish(conn)
    return run


add("5.19", "text in 5 fragments with pings between and pauses", pings_and_pauses("whole"))
add("5.20", "same, every frame written one byte at a time", pings_and_pauses("chopped"))


@case("5.21", "empty fragments: empty first, empty middle, empty final continuation")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"", False), (OP_CONT, b"ab", False), (OP_CONT, b"", False),
                     (OP_CONT, b"cd", False), (OP_CONT, b"", True)))
    conn.send(frames((OP_BINARY, b"", False), (OP_CONT, b"", True)))
    expect(conn, [("text", b"abcd"), ("binary", b"")])
    finish(conn)


@case("5.22", "a message of 100 fragments with pings between every 10")
def _(connect):
    conn = connect()
    data, pongs = b"", []
    for i in range(100):
        data += encode_frame(OP_BINARY if i == 0 else OP_CONT, bytes([i]) * i, fin=(i == 99))
        if i % 10 == 5:
            data += encode_frame(OP_PING, b"p%d" % i)
            pongs.append(("pong", b"p%d" % i))
    conn.send(data)
    expect(conn, [("binary", b"".join(bytes([i]) * i for i in range(100)))] + pongs)
    finish(conn)


@case("5.23", "text fragment, then the client's close: close 1000, nothing more echoed")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"unfinished", False), (OP_CLOSE, close_payload(1000)),
                     (OP_CONT, b"after close", True)))
    expect_close(conn, 1000, partial_of=b"unfinished")


# ---- 6 UTF-8 ---------------------------------------------------------------------------------

def first_bad_byte(data):
    """The index of the first byte at which data stops being the start of valid UTF-8
    (Unicode table 3-7), or None when it is valid or only cut short at its end."""
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            need, lo, hi = 1, 0x80, 0xBF
        elif b == 0xE0:
            need, lo, hi = 2, 0xA0, 0xBF
        elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
            need, lo, hi = 2, 0x80, 0xBF
        elif b == 0xED:
            need, lo, hi = 2, 0x80, 0x9F
        elif b == 0xF0:
            need, lo, hi = 3, 0x90, 0xBF
        elif 0xF1 <= b <= 0xF3:
            need, lo, hi = 3, 0x80, 0xBF
        elif b == 0xF4:
            need, lo, hi = 3, 0x80, 0x8F
        else:
            return i
        for k in range(need):
            j = i + 1 + k
            if j >= n:
                return None
            c = data[j]
            if not ((lo <= c <= hi) if k == 0 else (0x80 <= c <= 0xBF)):
                return j
        i += need + 1
    return None


@case("6.1.1", "empty text message")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, b"")
    expect(conn, [("text", b"")])
    finish(conn)


@case("6.1.2", "text message of 3 empty fragments")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"", False), (OP_CONT, b"", False), (OP_CONT, b"", True)))
    expect(conn, [("text", b"")])
    finish(conn)


HELLO = "Hello-µ@ßöäüàá-UTF-8!!".encode()
KOSME = "κόσμε".encode()
VALID = [
    ("6.2", "Hello-µ@ßöäüàá-UTF-8!!", HELLO),
    ("6.5.1", "κόσμε", KOSME),
    ("6.7.1", "first 1-byte sequence U+0000", "\u0000".encode()),
    ("6.7.2", "first 2-byte sequence U+0080", "\u0080".encode()),
    ("6.7.3", "first 3-byte sequence U+0800", "\u0800".encode()),
    ("6.7.4", "first 4-byte sequence U+10000", "\U00010000".encode()),
    ("6.8.1", "last 1-byte sequence U+007F", "\u007f".encode()),
    ("6.8.2", "last 2-byte sequence U+07FF", "\u07ff".encode()),
    ("6.8.3", "last 3-byte sequence U+FFFF", "\uffff".encode()),
    ("6.8.4", "last 4-byte sequence U+10FFFF", "\U0010ffff".encode()),
    ("6.9.1", "U+D7FF (before the surrogates)", "\ud7ff".encode()),
    ("6.9.2", "U+E000 (after the surrogates)", "\ue000".encode()),
    ("6.9.3", "U+FFFD", "\ufffd".encode()),
    ("6.9.4", "noncharacters U+FFFE U+FDD0 U+1FFFE (valid UTF-8)",
     "\ufffe\ufdd0\U0001fffe".encode()),
    ("6.9.5", "every 1-byte character", bytes(range(128))),
    ("6.9.6", "mixed scripts", "aé€😀 Ωω ∑ 日本語 \U0010fffd".encode()),
]


def valid_text(payload, split):
    def run(connect):
        conn = connect()
        if split == "one":
            conn.send_frame(OP_TEXT, payload)
            expect(conn, [("text", payload)])
        elif split == "offsets":
            # Split in 2 fragments at every byte offset: valid UTF-8 may be cut anywhere.
            for k in range(len(payload) + 1):
                conn.send(frames((OP_TEXT, payload[:k], False), (OP_CONT, payload[k:], True)))
            expect(conn, [("text", payload)] * (len(payload) + 1))
        else:
            # One fragment per byte.
            specs = [(OP_TEXT if i == 0 else OP_CONT, payload[i:i + 1], i == len(payload) - 1)
                     for i in range(len(payload))] or [(OP_TEXT, b"")]
            conn.send(frames(*specs))
            expect(conn, [("text", payload)])
        finish(conn)
    return run


for vid, title, payload in VALID:
    add(f"{vid}.1", f"valid UTF-8 {title}, one frame", valid_text(payload, "one"))
    add(f"{vid}.2", f"valid UTF-8 {title}, 2 fragments split at every offset",
        valid_text(payload, "offsets"))
    add(f"{vid}.3", f"valid UTF-8 {title}, one fragment per byte", valid_text(payload, "bytes"))

INVALID = [
    ("6.3", "κόσμε then a surrogate U+D800", KOSME + b"\xed\xa0\x80edited"),
    ("6.10.1", "lone continuation 0x80", b"\x80"),
    ("6.10.2", "lone continuation 0xbf", b"\xbf"),
    ("6.10.3", "two continuation bytes", b"\x80\xbf"),
    ("6.10.4", "all 64 continuation bytes", bytes(range(0x80, 0xC0))),
    ("6.11.1", "2-byte start 0xc0 then a space", b"\xc0 "),
    ("6.11.2", "2-byte start 0xdf then a space", b"\xdf "),
    ("6.11.3", "3-byte start 0xe0 then a space", b"\xe0 "),
    ("6.11.4", "4-byte start 0xf0 then a space", b"\xf0 "),
    ("6.11.5", "5-byte start 0xf8 then a space", b"\xf8 "),
    ("6.11.6", "6-byte start 0xfc then a space", b"\xfc "),
    ("6.12.1", "2-byte sequence without its last byte, then text", b"\xc2z"),
    ("6.12.2", "3-byte sequence without its last byte, then text", b"\xe2\x82z"),
    ("6.12.3", "4-byte sequence without its last byte, then text", b"\xf0\x9f\x98z"),
    ("6.12.4", "incomplete sequences concatenated", b"\xc2\xe2\x82\xf0\x9f\x98"),
    ("6.13.1", "impossible byte 0xfe", b"\xfe"),
    ("6.13.2", "impossible byte 0xff", b"\xff"),
    ("6.13.3", "impossible bytes fe fe ff ff", b"\xfe\xfe\xff\xff"),
    ("6.14.1", "overlong '/' in 2 bytes", b"\xc0\xaf"),
    ("6.14.2", "overlong '/' in 3 bytes", b"\xe0\x80\xaf"),
    ("6.14.3", "overlong '/' in 4 bytes", b"\xf0\x80\x80\xaf"),
    ("6.14.4", "overlong '/' in 5 bytes", b"\xf8\x80\x80\x80\xaf"),
    ("6.14.5", "largest overlong 2-byte c1 bf", b"\xc1\xbf"),
    ("6.14.6", "largest overlong 3-byte e0 9f bf", b"\xe0\x9f\xbf"),
    ("6.14.7", "largest overlong 4-byte f0 8f bf bf", b"\xf0\x8f\xbf\xbf"),
    ("6.14.8", "overlong NUL in 2 bytes", b"\xc0\x80"),
    ("6.14.9", "overlong NUL in 3 bytes", b"\xe0\x80\x80"),
    ("6.15.1", "surrogate U+D800", b"\xed\xa0\x80"),
    ("6.15.2", "surrogate U+DB7F", b"\xed\xad\xbf"),
    ("6.15.3", "surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("6.15.4", "surrogate pair U+D800 U+DC00", b"\xed\xa0\x80\xed\xb0\x80"),
    ("6.16.1", "U+110000 (f4 90 80 80)", b"\xf4\x90\x80\x80"),
    ("6.16.2", "f5 80 80 80", b"\xf5\x80\x80\x80"),
    ("6.16.3", "f7 bf bf bf", b"\xf7\xbf\xbf\xbf"),
]


def invalid_whole(payload):
    """The whole invalid message in one frame: 1007 (8.1); an echo streamed before the close
    holds only bytes before the first bad one."""
    def run(connect):
        conn = connect()
        bad = first_bad_byte(payload)
        conn.send_frame(OP_TEXT, payload)
        fail(conn, 1007, partial_of=payload[:bad if bad is not None else len(payload)])
    return run


def invalid_fail_fast(payload, bad, mode):
    """Only the bytes up to and including the first bad one are sent; the close 1007 must come
    without more (the server validates as bytes arrive). mode "frame": inside one frame whose
    header announces the whole payload; "fragments": one fragment per byte, message unfinished."""
    def run(connect):
        conn = connect()
        sent = payload[:bad + 1]
        if mode == "frame":
            whole = encode_frame(OP_TEXT, payload + b" and the rest of the frame")
            head = len(whole) - len(payload) - len(b" and the rest of the frame")
            conn.send(whole[:head + bad + 1])
        else:
            conn.send(frames(*[(OP_TEXT if i == 0 else OP_CONT, sent[i:i + 1], False)
                               for i in range(len(sent))]))
        try:
            fail(conn, 1007, partial_of=payload[:bad])
        except CaseFailure as error:
            raise CaseFailure(f"{error} [sent only {short(sent)}, the rest held back]") from None
    return run


for iid, title, body in INVALID:
    payload = b"ok " + body + b" tail"
    bad = first_bad_byte(payload)
    assert bad is not None, iid
    add(f"{iid}.1", f"invalid UTF-8 {title}, whole message in one frame: 1007",
        invalid_whole(payload))
    add(f"{iid}.2", f"invalid UTF-8 {title}, fail fast within a frame: 1007 before its rest",
        invalid_fail_fast(payload, bad, "frame"))
    add(f"{iid}.3", f"invalid UTF-8 {title}, fail fast in 1-byte fragments: 1007 before the rest",
        invalid_fail_fast(payload, bad, "fragments"))


@case("6.4.1", "κόσμε, then a fragment with U+110000, pause: 1007 before the last fragment")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, KOSME, fin=False)
    time.sleep(0.1)
    conn.send_frame(OP_CONT, b"\xf4\x90\x80\x80", fin=False)
    fail(conn, 1007, partial_of=KOSME + b"\xf4")   # f4 is valid until 90
    # the third fragment ("edited") is never sent


@case("6.4.2", "fragment κόσμε\\xf4, then \\x90: 1007 before the last fragment")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, KOSME + b"\xf4", fin=False)
    time.sleep(0.1)
    conn.send_frame(OP_CONT, b"\x90", fin=False)
    fail(conn, 1007, partial_of=KOSME + b"\xf4")   # f4 is valid until 90


@case("6.4.3", "one frame, payload sent up to the bad byte, pause: 1007 before the rest")
def _(connect):
    conn = connect()
    payload = KOSME + b"\xf4\x90\x80\x80edited"
    data = encode_frame(OP_TEXT, payload)
    head = len(data) - len(payload)
    conn.send(data[:head + len(KOSME)])
    time.sleep(0.1)
    conn.send(data[head + len(KOSME):head + len(KOSME) + 2])   # f4 90: invalid at 90
    fail(conn, 1007, partial_of=KOSME + b"\xf4")   # f4 is valid until 90


@case("6.4.4", "same, the bad sequence written one byte at a time")
def _(connect):
    conn = connect()
    payload = KOSME + b"\xf4\x90\x80\x80edited"
    data = encode_frame(OP_TEXT, payload)
    head = len(data) - len(payload)
    conn.send(data[:head + len(KOSME)])
    for k in range(2):
        time.sleep(0.05)
        conn.send(data[head + len(KOSME) + k:head + len(KOSME) + k + 1])
    fail(conn, 1007, partial_of=KOSME + b"\xf4")   # f4 is valid until 90


def truncated_at_end(body, fragmented):
    def run(connect):
        conn = connect()
        payload = b"ok " + body
        if fragmented:
            conn.send(frames((OP_TEXT, payload[:-1], False), (OP_CONT, payload[-1:], True)))
        else:
            conn.send_frame(OP_TEXT, payload)
        # Every byte sent is the start of valid UTF-8 until the message ends: an echo streamed
        # before the close may hold all of it.
        fail(conn, 1007, partial_of=payload)
    return run


for k, (title, body) in enumerate((("2-byte", b"\xc2"), ("3-byte", b"\xe2\x82"),
                                    ("4-byte", b"\xf0\x9f\x98")), 1):
    add(f"6.17.{k}.1", f"message ends inside a {title} sequence: 1007",
        truncated_at_end(body, False))
    add(f"6.17.{k}.2", f"message ends inside a {title} sequence, last fragment: 1007",
        truncated_at_end(body, True))


@case("6.18", "binary messages are not checked for UTF-8")
def _(connect):
    conn = connect()
    conn.send_frame(OP_BINARY, b"\xff\xfe\xc0\xaf\xed\xa0\x80")
    expect(conn, [("binary", b"\xff\xfe\xc0\xaf\xed\xa0\x80")])
    finish(conn)


@case("6.19", "valid text, then invalid text: the valid message echoed, then 1007")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, HELLO), (OP_TEXT, b"bad \xff")))
    fail(conn, 1007, before=[("text", HELLO)], partial_of=b"bad ")


# ---- 7 close ---------------------------------------------------------------------------------

@case("7.1.1", "echo, then the client's close 1000: close 1000 and TCP closed by the server")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, b"Hello World!")
    expect(conn, [("text", b"Hello World!")])
    finish(conn)


@case("7.1.2", "close, then a second close: one close answered, nothing more")
def _(connect):
    conn = connect()
    conn.send(frames((OP_CLOSE, close_payload(1000)), (OP_CLOSE, close_payload(1001))))
    expect_close(conn, 1000)


@case("7.1.3", "close, then ping: close answered, the ping is not")
def _(connect):
    conn = connect()
    conn.send(frames((OP_CLOSE, close_payload(1000)), (OP_PING, b"after close")))
    expect_close(conn, 1000)


@case("7.1.4", "close, then text: close answered, the text not echoed")
def _(connect):
    conn = connect()
    conn.send(frames((OP_CLOSE, close_payload(1000)), (OP_TEXT, b"after close")))
    expect_close(conn, 1000)


@case("7.1.5", "text fragment, close, continuation: close answered, continuation not echoed")
def _(connect):
    conn = connect()
    conn.send(frames((OP_TEXT, b"fragment1", False), (OP_CLOSE, close_payload(1000)),
                     (OP_CONT, b"fragment2", True)))
    expect_close(conn, 1000, partial_of=b"fragment1")


@case("7.1.6", "256 KiB text, ping, close: echo and pong come before the close")
def _(connect):
    conn = connect()
    big = b"BAsd7&jh23" * (256 * 1024 // 10)
    conn.send_in_background(frames((OP_TEXT, big), (OP_PING, b"before close"),
                                   (OP_CLOSE, close_payload(1000))))
    expect_close(conn, 1000, before=[("text", big), ("pong", b"before close")], timeout=15)
    conn.wait_sent()


@case("7.1.7", "the client's close answered without waiting for the client to stop reading")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, "bye"))
    expect_close(conn, 1000)


@case("7.1.8", "failing with 1002, the server closes TCP without waiting for the client's close")
def _(connect):
    conn = connect()
    conn.send_frame(0x3, b"reserved opcode")
    fail(conn, 1002, reply=False)


@case("7.1.9", "failing with 1007, the server closes TCP without waiting for the client's close")
def _(connect):
    conn = connect()
    conn.send_frame(OP_TEXT, b"bad \xff", fin=False)
    fail(conn, 1007, partial_of=b"bad ", reply=False)


@case("7.1.10", "failing with 1009, the server closes TCP without waiting for the client's close")
def _(connect):
    conn = connect()
    conn.send(bytes([0x82, 0xFF]) + (MIB + 1).to_bytes(8, "big") + os.urandom(4))
    fail(conn, 1009, reply=False)


@case("7.3.1", "close without payload: close without code or 1000")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, b"")
    expect_close(conn, {None, 1000})


@case("7.3.2", "close with a 1-byte payload: fail with 1002 (5.5.1)")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, b"\x03")
    fail(conn, 1002)


@case("7.3.3", "close 1000 without reason: close 1000")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000))
    expect_close(conn, 1000)


@case("7.3.4", "close 1000 with a reason: close 1000")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, "Hello World!"))
    expect_close(conn, 1000)


@case("7.3.5", "close 1000 with a 123-byte reason (125-byte payload): close 1000")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, "*" * 123))
    expect_close(conn, 1000)


@case("7.3.6", "close 1000 with a 124-byte reason (126-byte payload): fail with 1002")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, "*" * 124))
    fail(conn, 1002)


@case("7.5.1", "close reason that is not UTF-8: fail with 1007 (8.1)")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, KOSME + b"\xed\xa0\x80edited"))
    fail(conn, 1007)


@case("7.5.2", "close reason of multi-byte UTF-8: close 1000")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, KOSME + "€😀".encode()))
    expect_close(conn, 1000)


@case("7.5.3", "close reason ending inside a UTF-8 sequence: fail with 1007")
def _(connect):
    conn = connect()
    conn.send_frame(OP_CLOSE, close_payload(1000, b"cut \xe2\x82"))
    fail(conn, 1007)


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def valid_code(code):
    def run(connect):
        conn = connect()
        conn.send_frame(OP_CLOSE, close_payload(code))
        # 5.5.1: the endpoint answers a close with a close, typically echoing the code; both
        # sides are WebSocket on every path, so the code is kept (DESIGN §4).
        expect_close(conn, {code, 1000} if code == 1000 else code,
                     label=f" (echo of the client's {code})")
    return run


def invalid_code(code):
    def run(connect):
        conn = connect()
        conn.send_frame(OP_CLOSE, close_payload(code))
        fail(conn, 1002)
    return run


for k, code in enumerate(VALID_CODES, 1):
    add(f"7.7.{k}", f"close with valid code {code}: the code is echoed", valid_code(code))
for k, code in enumerate(INVALID_CODES, 1):
    add(f"7.9.{k}", f"close with code {code}, not allowed on the wire (7.4): 1002",
        invalid_code(code))


# ---- 9 large and heavily fragmented messages -------------------------------------------------

MIB = 1 << 20


def big_message(opcode, size, fragment=None):
    def run(connect):
        conn = connect()
        unit = b"0123456789abcdef\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" if opcode == OP_TEXT \
            else os.urandom(4096)
        payload = (unit * (size // len(unit) + 1))[:size]
        if opcode == OP_TEXT:
            while True:   # cut at a character boundary
                try:
                    payload.decode()
                    break
                except UnicodeDecodeError:
                    payload = payload[:-1] + b"."
        if fragment is None:
            data = encode_frame(opcode, payload)
        else:
            pieces = [payload[i:i + fragment] for i in range(0, len(payload), fragment)]
            data = b"".join(encode_frame(opcode if i == 0 else OP_CONT, p,
                                         fin=(i == len(pieces) - 1))
                            for i, p in enumerate(pieces))
        conn.send_in_background(data)
        expect(conn, [(name_of(opcode), payload)], timeout=30)
        conn.wait_sent()
        finish(conn)
    return run


for group, opcode in (("9.1", OP_TEXT), ("9.2", OP_BINARY)):
    for k, size in enumerate((64 * 1024, 256 * 1024, MIB), 1):
        add(f"{group}.{k}", f"{name_of(opcode)} message of {size // 1024} KiB in one frame",
            big_message(opcode, size))
for group, opcode in (("9.3", OP_TEXT), ("9.4", OP_BINARY)):
    for k, frag in enumerate((64, 256, 1024, 4096, 16384, 65536), 1):
        add(f"{group}.{k}", f"{name_of(opcode)} message of 1 MiB in {frag}-byte fragments",
            big_message(opcode, MIB, frag))
add("9.3.7", "text message of 16 KiB in 1-byte fragments (characters split)",
    big_message(OP_TEXT, 16 * 1024, 1))
add("9.4.7", "binary message of 64 KiB in 1-byte fragments", big_message(OP_BINARY, 64 * 1024, 1))


@case("9.5.1", "1000 text messages of 100 bytes in one stream, echoed in order")
def _(connect):
    conn = connect()
    msgs = [(b"%04d" % i) * 25 for i in range(1000)]
    conn.send_in_background(b"".join(encode_frame(OP_TEXT, m) for m in msgs))
    expect(conn, [("text", m) for m in msgs], timeout=20)
    conn.wait_sent()
    finish(conn)


@case("9.6.1", "a frame announcing 1 MiB + 1 (over ws.maximum.message.size): 1009 at its header")
def _(connect):
    conn = connect()
    conn.send(bytes([0x82, 0xFF]) + (MIB + 1).to_bytes(8, "big") + os.urandom(4) + b"x" * 100)
    fail(conn, 1009)


@case("9.6.2", "fragments adding up to 1 MiB + 1: 1009 at the header of the last")
def _(connect):
    conn = connect()
    conn.send_in_background(encode_frame(OP_BINARY, b"a" * MIB, fin=False) +
                            encode_frame(OP_CONT, b"b", fin=True)[:6])
    event = expect_close(conn, 1009, partial_of=b"a" * MIB, timeout=15,
                         label=" (message over ws.maximum.message.size)")
    del event


@case("9.6.3", "a message of exactly 1 MiB in 2 fragments is accepted")
def _(connect):
    conn = connect()
    half = MIB // 2
    conn.send_in_background(encode_frame(OP_BINARY, b"a" * half, fin=False) +
                            encode_frame(OP_CONT, b"b" * half, fin=True))
    expect(conn, [("binary", b"a" * half + b"b" * half)], timeout=30)
    conn.wait_sent()
    finish(conn)


# ---- H the opening handshake (RFC 6455 4.2) --------------------------------------------------

def refused(resp, statuses, what):
    if resp.status == 101:
        raise CaseFailure(f"{what}: the server upgraded (101): {short(resp.raw, 300)}")
    if resp.status not in statuses:
        raise CaseFailure(f"{what}: expected {'/'.join(map(str, statuses))}, got {resp.status}: "
                          f"{short(resp.raw, 300)}")


@case("H.1", "valid upgrade: 101 with Upgrade, Connection and the accept key (4.2.2)")
def _(connect):
    conn, resp = connect.request()
    if resp.status != 101:
        raise CaseFailure(f"expected 101, got {short(resp.raw, 300)}")
    if "websocket" not in resp.tokens("Upgrade"):
        raise CaseFailure(f"101 without Upgrade: websocket: {short(resp.raw, 300)}")
    if "upgrade" not in resp.tokens("Connection"):
        raise CaseFailure(f"101 without Connection: Upgrade: {short(resp.raw, 300)}")
    if resp.header("Sec-WebSocket-Accept") != [accept_key(connect.last_key)]:
        raise CaseFailure(f"wrong Sec-WebSocket-Accept: {resp.header('Sec-WebSocket-Accept')}")
    conn.send_frame(OP_TEXT, b"after the handshake")
    expect(conn, [("text", b"after the handshake")])
    finish(conn)


@case("H.2", "header names and the Upgrade/Connection tokens are case-insensitive, in lists")
def _(connect):
    conn, resp = connect.request(omit=("Upgrade", "Connection"),
                                 extra=(("upgrade", "WebSocket"),
                                        ("CONNECTION", "keep-alive, UPGRADE")))
    if resp.status != 101:
        raise CaseFailure(f"expected 101, got {short(resp.raw, 300)}")
    conn.send_frame(OP_BINARY, b"ok")
    expect(conn, [("binary", b"ok")])
    finish(conn)


@case("H.3", "permessage-deflate offered: not accepted, no extension in the 101 (9.1)")
def _(connect):
    conn, resp = connect.request(extra=(("Sec-WebSocket-Extensions",
                                         "permessage-deflate; client_max_window_bits"),))
    if resp.status != 101:
        raise CaseFailure(f"expected 101, got {short(resp.raw, 300)}")
    if resp.header("Sec-WebSocket-Extensions"):
        raise CaseFailure(f"the server accepted an extension: {resp.header('Sec-WebSocket-Extensions')}")
    conn.send_frame(OP_TEXT, b"plain")
    expect(conn, [("text", b"plain")])
    finish(conn)


@case("H.4", "subprotocol offered: 101 with none or one of those offered (4.2.2)")
def _(connect):
    conn, resp = connect.request(extra=(("Sec-WebSocket-Protocol", "chat, superchat"),))
    if resp.status == 101:
        chosen = resp.header("Sec-WebSocket-Protocol")
        if chosen and (len(chosen) > 1 or chosen[0] not in ("chat", "superchat")):
            raise CaseFailure(f"the server chose a subprotocol not offered: {chosen}")
        conn.close()
    elif resp.status // 100 != 4:
        raise CaseFailure(f"expected 101 or a 4xx, got {resp.status}")


@case("H.5", "version 8: 426 with Sec-WebSocket-Version: 13 (4.4)")
def _(connect):
    _, resp = connect.request(version="8")
    refused(resp, (426, 400), "Sec-WebSocket-Version: 8")
    if "13" not in resp.tokens("Sec-WebSocket-Version"):
        raise CaseFailure(f"no Sec-WebSocket-Version: 13 in the refusal (4.4): {short(resp.raw, 300)}")


@case("H.6", "version 14: refused with Sec-WebSocket-Version: 13 (4.4)")
def _(connect):
    _, resp = connect.request(version="14")
    refused(resp, (426, 400), "Sec-WebSocket-Version: 14")
    if "13" not in resp.tokens("Sec-WebSocket-Version"):
        raise CaseFailure(f"no Sec-WebSocket-Version: 13 in the refusal (4.4): {short(resp.raw, 300)}")


@case("H.7", "no Sec-WebSocket-Version: refused (4.2.1)")
def _(connect):
    _, resp = connect.request(omit=("Sec-WebSocket-Version",))
    refused(resp, (400, 426), "no version")


@case("H.8", "no Sec-WebSocket-Key: 400 (4.2.1)")
def _(connect):
    _, resp = connect.request(omit=("Sec-WebSocket-Key",))
    refused(resp, (400,), "no key")


@case("H.9", "key of 8 bytes in base64: 400 (4.1: 16 bytes)")
def _(connect):
    _, resp = connect.request(key="AAAAAAAAAAA=")
    refused(resp, (400,), "8-byte key")


@case("H.10", "key that is not base64: 400")
def _(connect):
    _, resp = connect.request(key="not base64 at all!!!!!==")
    refused(resp, (400,), "key not base64")


@case("H.11", "key of 17 bytes in base64: 400")
def _(connect):
    _, resp = connect.request(key="AAAAAAAAAAAAAAAAAAAAAAA=")
    refused(resp, (400,), "17-byte key")


@case("H.12", "two Sec-WebSocket-Key fields: 400")
def _(connect):
    _, resp = connect.request(extra=(("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="),))
    refused(resp, (400,), "two keys")


@case("H.13", "POST instead of GET: refused (4.1: the method MUST be GET)")
def _(connect):
    _, resp = connect.request(method="POST")
    refused(resp, (400, 405), "POST")


@case("H.14", "HTTP/1.0: refused (4.1: HTTP/1.1 or higher)")
def _(connect):
    _, resp = connect.request(http="HTTP/1.0")
    refused(resp, (400, 426, 505), "HTTP/1.0")


@case("H.15", "no Host: 400 (4.1, RFC 7230 5.4)")
def _(connect):
    _, resp = connect.request(omit=("Host",))
    refused(resp, (400,), "no Host")


@case("H.16", "no Upgrade field: refused")
def _(connect):
    _, resp = connect.request(omit=("Upgrade",))
    refused(resp, (400, 426), "no Upgrade")


@case("H.17", "Upgrade: h2c instead of websocket: refused")
def _(connect):
    _, resp = connect.request(omit=("Upgrade",), extra=(("Upgrade", "h2c"),))
    refused(resp, (400, 426), "Upgrade: h2c")


@case("H.18", "Connection without the Upgrade token: refused")
def _(connect):
    _, resp = connect.request(omit=("Connection",), extra=(("Connection", "keep-alive"),))
    refused(resp, (400, 426), "Connection: keep-alive")


@case("H.19", "frames sent with the request are taken only after the 101")
def _(connect):
    conn = connect.raw()
    key = connect.new_key()
    text = connect.request_text(key=key)
    conn.send(text.encode() + encode_frame(OP_TEXT, b"early frame"))
    resp = conn.request(b"")
    if resp.status != 101:
        raise CaseFailure(f"expected 101, got {short(resp.raw, 300)}")
    expect(conn, [("text", b"early frame")])
    finish(conn)


@case("9.6.4", "1 MiB binary then a reserved opcode: the whole echo, then 1002 (no cut frame)")
def _(connect):
    conn = connect()
    payload = os.urandom(MIB)
    conn.send_in_background(encode_frame(OP_BINARY, payload) + encode_frame(0x3, b""))
    fail(conn, 1002, before=[("binary", payload)], timeout=15)
    conn.wait_sent()
