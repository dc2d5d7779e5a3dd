"""Backpressure through the proxy (maximum.pending.bytes, default 1 MiB per direction): when
one side stops reading, the gateway stops reading the other side instead of queueing, so its
memory stays bounded and the writer is held back by TCP; when reading resumes, the flow
resumes with nothing lost.

- A backend floods (it would send 256 MiB within seconds) to a ws client that stops reading:
  the gateway's RSS (VmRSS) grows by less than 64 MiB and the flooder cannot get more than
  64 MiB past what the client read; then the client reads again and the flood flows again.
- A ws client floods a backend that stops reading: the same bounds; then the backend reads and
  gets every payload byte the client sent, exactly.
The bounds leave room for the kernel's socket buffers on both legs (a few MiB each; the test
client's own buffer is fixed at 256 KiB).
One gateway per test. Address: 127.0.26.1.
"""

import errno
import select
import time
import unittest

from backends import BackendTestCase, Flooder, Sink, wait_until
from harness import gateway_xml, service_xml
from wire import OP_BINARY, OP_CONT, encode_frame, open_websocket

HOST, PORT = "127.0.26.1", 8000
MIB = 1024 * 1024
BOUND = 64 * MIB
STALL_S = 4.0
SMALL_BUFFER = 256 * 1024   # the test client's own socket buffer: keeps the kernel's share small


class Backpressure(BackendTestCase):

    @classmethod
    def start_backends(cls):
        # The flooder's 256 MiB cap is its "attempts": reaching it means nothing held it back.
        cls.flooder = cls.backends.start(Flooder(HOST, 9001, seconds=60, max_bytes=256 * MIB))
        cls.sink = cls.backends.start(Sink(HOST, 9002))

    @classmethod
    def make_config(cls):
        return gateway_xml(
            service_xml("to a flooder", f"ws://{HOST}:{PORT}/flood", type_="proxy",
                        connects=f"tcp://{HOST}:9001"),
            service_xml("to a sink", f"ws://{HOST}:{PORT}/sink", type_="proxy",
                        connects=f"tcp://{HOST}:9002"))

    def read_payload(self, conn, at_least):
        """Reads binary data frames until at least at_least payload bytes came; returns the count."""
        count = 0
        while count < at_least:
            frame = conn.read_frame(timeout=10)
            self.assertIn(frame.opcode, (OP_BINARY, OP_CONT), f"unexpected frame {frame!r}")
            count += len(frame.payload)
        return count

    def sample_rss_for(self, seconds, during=None):
        """The highest VmRSS seen while seconds pass (sampled about every 50 ms); during, when
        given, is called between samples instead of sleeping."""
        peak = self.gateway.rss_bytes()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if during is None:
                time.sleep(0.05)
            else:
                during()
            peak = max(peak, self.gateway.rss_bytes())
        return peak

    def test_client_that_stops_reading_holds_back_a_flooding_backend(self):
        self.addCleanup(self.flooder.stop)
        sent0, done0 = self.flooder.sent, self.flooder.done
        conn = open_websocket(self, HOST, PORT, path="/flood", rcvbuf=SMALL_BUFFER)
        read = self.read_payload(conn, 8 * MIB)   # the flood flows through the proxy
        baseline = self.gateway.rss_bytes()

        peak = self.sample_rss_for(STALL_S)       # the client reads nothing now
        sent = self.flooder.sent - sent0
        self.assertEqual(self.flooder.done, done0,
                         f"the flooder finished: it sent {sent} bytes without being held back")
        self.assertLess(peak - baseline, BOUND,
                        f"RSS grew from {baseline} to {peak} bytes while the client did not read")
        self.assertLess(sent - read, BOUND,
                        f"the flooder got {sent - read} bytes past what the client read")

        # Reading again, the client gets past everything the flooder had sent during the
        # stall: the gateway read from the flooder again.
        self.read_payload(conn, sent - read + MIB)
        self.flooder.stop()
        conn.close()

    def test_client_that_floods_a_backend_that_stops_reading_is_held_back(self):
        bytes_in0 = self.sink.bytes_in
        conn = open_websocket(self, HOST, PORT, path="/sink", sndbuf=SMALL_BUFFER)
        payload = bytes(range(256)) * 256       # 64 KiB per frame
        frame = encode_frame(OP_BINARY, payload)
        sock = conn.sock
        sock.setblocking(False)
        sent = 0                                # bytes of the frame stream the kernel took

        def push():
            nonlocal sent
            _, writable, _ = select.select([], [sock], [], 0.05)
            if not writable:
                return
            offset = sent % len(frame)
            try:
                sent += sock.send(frame[offset:])
            except BlockingIOError:
                pass
            except OSError as error:
                self.fail(f"sending failed: {errno.errorcode.get(error.errno, error)}")

        for _ in range(20):                     # warm up: the first frames are accepted
            push()
        baseline = self.gateway.rss_bytes()
        peak = self.sample_rss_for(STALL_S, during=push)
        self.assertGreater(sent, 0)
        self.assertLess(peak - baseline, BOUND,
                        f"RSS grew from {baseline} to {peak} bytes while the backend did not read")
        self.assertLess(sent, BOUND, f"the client could write {sent} bytes towards a backend that "
                        "reads nothing")

        self.sink.resume_reading()
        sock.setblocking(True)
        sock.settimeout(20)
        rest = (-sent) % len(frame)             # finish the frame cut short
        if rest:
            sock.sendall(frame[len(frame) - rest:])
        expected = (sent + rest) // len(frame) * len(payload)
        def got():
            return self.sink.bytes_in - bytes_in0
        self.assertTrue(wait_until(lambda: got() >= expected, 20),
                        f"the backend got {got()} of {expected} payload bytes")
        time.sleep(0.2)                         # anything extra would show up by now
        self.assertEqual(got(), expected)
        conn.close()


if __name__ == "__main__":
    unittest.main()
