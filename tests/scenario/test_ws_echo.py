"""The echo service on ws:// accepts, seen by a real client (websockets) and by hand-written
frames: types kept, fragmented messages echoed whole, ping/pong, the close handshake, and the
message size limit (default 1 MiB, and ws.maximum.message.size). Address: 127.0.10.1."""

import os
import time
import unittest

import websockets

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, close_payload,
                  encode_frame, open_websocket, run_async, ws_connect)

HOST, PORT = "127.0.10.1", 8000
URI = f"ws://{HOST}:{PORT}/echo"
SMALL_URI = f"ws://{HOST}:{PORT}/small"
MIB = 1024 * 1024


class EchoService(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(
        service_xml("WebSocket echo", URI),
        service_xml("Small echo", SMALL_URI, accept_options={"ws.maximum.message.size": "1000"}))

    def echo_all(self, messages, uri=URI):
        async def go():
            async with ws_connect(uri) as ws:
                for m in messages:
                    await ws.send(m)
                return [await ws.recv() for _ in messages]
        return run_async(go())

    def refused_with(self, message, uri=URI):
        """Sends message with websockets and returns the close code the client sees."""
        async def go():
            async with ws_connect(uri) as ws:
                try:
                    await ws.send(message)
                    reply = await ws.recv()
                    self.fail(f"expected a close, got a message of {len(reply)}")
                except websockets.ConnectionClosed:
                    pass
                return ws.close_code
        return run_async(go())

    # ---- types and content ----

    def test_text_message_comes_back_as_the_same_text(self):
        text = "héllo wörld ✓ 😀"
        (reply,) = self.echo_all([text])
        self.assertIsInstance(reply, str)
        self.assertEqual(reply, text)

    def test_binary_message_comes_back_as_the_same_bytes(self):
        data = bytes(range(256)) * 4
        (reply,) = self.echo_all([data])
        self.assertIsInstance(reply, bytes)
        self.assertEqual(reply, data)

    def test_empty_text_and_binary_messages_come_back_empty(self):
        replies = self.echo_all(["", b""])
        self.assertEqual(replies, ["", b""])
        self.assertIsInstance(replies[0], str)
        self.assertIsInstance(replies[1], bytes)

    def test_messages_at_frame_length_boundaries_come_back_in_order(self):
        sizes = [1, 125, 126, 127, 65535, 65536, 65537, 200000]
        messages = []
        for i, n in enumerate(sizes):
            messages.append(os.urandom(n))
            messages.append(chr(ord("a") + i) * n)
        self.assertEqual(self.echo_all(messages), messages)

    # ---- fragmentation, control frames ----

    def test_fragmented_text_message_comes_back_as_one_whole_message(self):
        conn = open_websocket(self, HOST, PORT)
        whole = "fragmented wörld ✓".encode()
        cut1, cut2 = 5, whole.index("ö".encode()) + 1   # the second cut splits a UTF-8 sequence
        conn.send_frame(OP_TEXT, whole[:cut1], fin=False)
        conn.send_frame(OP_CONT, whole[cut1:cut2], fin=False)
        conn.send_frame(OP_CONT, whole[cut2:], fin=True)
        self.assertEqual(conn.read_message()[:2], (OP_TEXT, whole))

    def test_fragmented_binary_message_comes_back_as_one_whole_message(self):
        conn = open_websocket(self, HOST, PORT)
        parts = [os.urandom(100), b"", os.urandom(70000), os.urandom(3)]
        conn.send_frame(OP_BINARY, parts[0], fin=False)
        for i, part in enumerate(parts[1:]):
            conn.send_frame(OP_CONT, part, fin=(i == len(parts) - 2))
        opcode, payload, _ = conn.read_message()
        self.assertEqual(opcode, OP_BINARY)
        self.assertEqual(payload, b"".join(parts))

    def test_ping_gets_pong_with_the_same_payload(self):
        conn = open_websocket(self, HOST, PORT)
        for payload in (b"are you there?", b"", bytes(range(125))):
            conn.send_frame(OP_PING, payload)
            frame = conn.read_frame()
            self.assertEqual((frame.opcode, frame.fin, frame.payload), (OP_PONG, True, payload))

    def test_ping_between_fragments_gets_pong_then_the_whole_message(self):
        conn = open_websocket(self, HOST, PORT)
        conn.send_frame(OP_TEXT, "first half, ", fin=False)
        conn.send_frame(OP_PING, b"between")
        conn.send_frame(OP_CONT, "second half", fin=True)
        # The pong comes before the message ends (an echo that streams the message may send its
        # first half before the pong).
        opcode, payload, controls = conn.read_message()
        self.assertEqual((opcode, payload), (OP_TEXT, b"first half, second half"))
        self.assertEqual([(f.opcode, f.payload) for f in controls], [(OP_PONG, b"between")])

    def test_unsolicited_pong_gets_no_answer_and_echo_continues(self):
        conn = open_websocket(self, HOST, PORT)
        conn.send_frame(OP_PONG, b"heartbeat")
        conn.send_frame(OP_TEXT, "after pong")
        self.assertEqual(conn.read_message(), (OP_TEXT, b"after pong", []))

    def test_frames_split_at_every_byte_offset_still_echo(self):
        conn = open_websocket(self, HOST, PORT)
        for payload in (b"split me", b"x" * 300):   # 7-bit and 16-bit length forms
            frame = encode_frame(OP_BINARY, payload, mask=b"\x01\x80\xfe\x7f")
            for cut in range(1, len(frame)):
                conn.send(frame[:cut])
                time.sleep(0.002)   # lets the two halves arrive as separate reads
                conn.send(frame[cut:])
                self.assertEqual(conn.read_message(), (OP_BINARY, payload, []),
                                 f"frame cut at byte {cut}")

    def test_many_frames_in_one_write_all_come_back(self):
        conn = open_websocket(self, HOST, PORT)
        payloads = [f"message {i}".encode() for i in range(200)]
        conn.send(b"".join(encode_frame(OP_TEXT, p) for p in payloads))
        got = [conn.read_message()[1] for _ in payloads]
        self.assertEqual(got, payloads)

    # ---- close handshake ----

    def test_close_1000_completes_with_1000(self):
        async def go():
            async with ws_connect(URI) as ws:
                await ws.send("before close")
                self.assertEqual(await ws.recv(), "before close")
                await ws.close(1000, "done")
                return ws.close_code
        self.assertEqual(run_async(go()), 1000)

    def test_close_codes_are_echoed(self):
        for code in (1000, 1001, 1003, 1011, 3000, 4999):
            with self.subTest(code=code):
                conn = open_websocket(self, HOST, PORT)
                conn.send_frame(OP_CLOSE, close_payload(code, "bye"))
                conn.expect_close(self, code)

    def test_empty_close_is_answered_with_a_close_without_code(self):
        conn = open_websocket(self, HOST, PORT)
        conn.send_frame(OP_CLOSE, b"")
        frame = conn.expect_close(self, None)
        self.assertEqual(frame.payload, b"", "websockets would report 1005 only for an empty close")

    def test_no_data_frame_comes_after_the_close(self):
        conn = open_websocket(self, HOST, PORT)
        conn.send_frame(OP_CLOSE, close_payload(1000))
        conn.send_frame(OP_TEXT, "after close")   # must be ignored
        conn.expect_close(self, 1000)

    # ---- size limits ----

    def test_message_of_exactly_1_mib_echoes_intact(self):
        data = os.urandom(MIB)
        text = ("ü" * (MIB // 2))
        self.assertEqual(len(text.encode()), MIB)
        self.assertEqual(self.echo_all([data, text]), [data, text])

    def test_message_of_1_mib_plus_1_is_refused_with_1009(self):
        self.assertEqual(self.refused_with(os.urandom(MIB + 1)), 1009)

    def test_frame_header_announcing_2_mib_is_refused_with_1009_without_the_payload(self):
        conn = open_websocket(self, HOST, PORT)
        conn.send(encode_frame(OP_BINARY, b"", length=2 * MIB))   # header and mask only
        conn.expect_close(self, 1009, timeout=5)

    def test_fragments_adding_up_to_more_than_1_mib_are_refused_with_1009(self):
        conn = open_websocket(self, HOST, PORT)
        half = os.urandom(MIB // 2)
        conn.send_frame(OP_BINARY, half, fin=False)
        conn.send_frame(OP_CONT, half, fin=False)          # exactly 1 MiB so far: allowed
        conn.send(encode_frame(OP_CONT, b"", fin=True, length=1))   # one more byte announced
        conn.expect_close(self, 1009, echo_first=True)

    def test_limit_1000_passes_1000_bytes(self):
        data = os.urandom(1000)
        self.assertEqual(self.echo_all([data, "t" * 1000], uri=SMALL_URI), [data, "t" * 1000])

    def test_limit_1000_refuses_1001_bytes_with_1009(self):
        self.assertEqual(self.refused_with(os.urandom(1001), uri=SMALL_URI), 1009)

    def test_limit_1000_refuses_two_fragments_of_600_with_1009(self):
        conn = open_websocket(self, HOST, PORT, path="/small")
        conn.send_frame(OP_TEXT, "a" * 600, fin=False)
        conn.send_frame(OP_CONT, "b" * 600, fin=True)
        conn.expect_close(self, 1009, echo_first=True)


if __name__ == "__main__":
    unittest.main()
