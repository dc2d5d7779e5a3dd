"""RFC 6455 violations sent by hand over raw sockets to the echo service: each must get the
right close code (1002 protocol error, 1007 invalid UTF-8) and then the end of the TCP
connection, and nothing is echoed. Address: 127.0.11.1."""

import time
import unittest

from harness import GatewayTestCase, gateway_xml, service_xml
from wire import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, close_payload,
                  encode_frame, open_websocket)

HOST, PORT = "127.0.11.1", 8000


class ProtocolErrors(GatewayTestCase):
    shared_gateway = True
    config = gateway_xml(service_xml("WebSocket echo", f"ws://{HOST}:{PORT}/echo"))

    def connect(self):
        return open_websocket(self, HOST, PORT)

    def assert_refused(self, data, code, timeout=5, echo_first=False):
        """data gets close code. echo_first: the valid start of a message sent before the error
        may be echoed first (the echo service may stream messages); otherwise nothing may be."""
        conn = self.connect()
        conn.send(data)
        conn.expect_close(self, code, timeout=timeout, echo_first=echo_first)

    # ---- 1002 ----

    def test_unmasked_client_frame_gets_1002(self):
        self.assert_refused(encode_frame(OP_TEXT, "not masked", masked=False), 1002)

    def test_reserved_bits_get_1002(self):
        for rsv in (4, 2, 1):   # RSV1, RSV2, RSV3: no extension was negotiated
            with self.subTest(rsv=rsv):
                self.assert_refused(encode_frame(OP_TEXT, "x", rsv=rsv), 1002)

    def test_reserved_opcodes_get_1002(self):
        for opcode in (0x3, 0x7, 0xB, 0xF):
            with self.subTest(opcode=opcode):
                self.assert_refused(encode_frame(opcode, b"x"), 1002)

    def test_fragmented_ping_gets_1002(self):
        self.assert_refused(encode_frame(OP_PING, b"half", fin=False), 1002)

    def test_control_frames_with_126_byte_payload_get_1002(self):
        for opcode in (OP_PING, OP_PONG, OP_CLOSE):
            with self.subTest(opcode=opcode):
                payload = close_payload(1000, "r" * 124) if opcode == OP_CLOSE else b"p" * 126
                self.assertEqual(len(payload), 126)
                self.assert_refused(encode_frame(opcode, payload), 1002)

    def test_continuation_without_a_start_gets_1002(self):
        self.assert_refused(encode_frame(OP_CONT, "orphan", fin=True), 1002)

    def test_text_frame_during_an_open_fragmented_message_gets_1002(self):
        self.assert_refused(encode_frame(OP_TEXT, "start ", fin=False) +
                            encode_frame(OP_TEXT, "another start", fin=True), 1002,
                            echo_first=True)

    def test_binary_frame_during_an_open_fragmented_message_gets_1002(self):
        self.assert_refused(encode_frame(OP_BINARY, b"start", fin=False) +
                            encode_frame(OP_BINARY, b"again", fin=False), 1002,
                            echo_first=True)

    def test_close_with_a_1_byte_payload_gets_1002(self):
        self.assert_refused(encode_frame(OP_CLOSE, b"\x03"), 1002)

    def test_close_with_a_code_not_allowed_on_the_wire_gets_1002(self):
        for code in (0, 999, 1005, 1006, 1015, 5000, 65535):
            with self.subTest(code=code):
                self.assert_refused(encode_frame(OP_CLOSE, close_payload(code)), 1002)

    def test_valid_message_before_a_protocol_error_is_still_echoed(self):
        conn = self.connect()
        conn.send(encode_frame(OP_TEXT, "valid first") + encode_frame(OP_TEXT, "x", rsv=4))
        self.assertEqual(conn.read_message(), (OP_TEXT, b"valid first", []))
        conn.expect_close(self, 1002)

    # ---- 1007 ----

    def test_invalid_utf8_in_a_first_fragment_gets_1007_before_the_message_ends(self):
        conn = self.connect()
        # FIN=0 and the rest is never sent: the server must not wait for the end of the message.
        conn.send_frame(OP_TEXT, b"valid start \xff then garbage", fin=False)
        conn.expect_close(self, 1007, timeout=2, echo_first=True)

    def test_invalid_utf8_in_a_later_fragment_gets_1007_before_the_message_ends(self):
        conn = self.connect()
        conn.send_frame(OP_TEXT, "fine so far ".encode(), fin=False)
        conn.send_frame(OP_CONT, b"\xc3\x28", fin=False)   # lead byte followed by a non-continuation
        conn.expect_close(self, 1007, timeout=2, echo_first=True)

    def test_invalid_utf8_text_messages_get_1007(self):
        cases = {
            "lone continuation byte": b"\x80",
            "overlong slash": b"\xc0\xaf",
            "utf-16 surrogate": b"\xed\xa0\x80",
            "above U+10FFFF": b"\xf4\x90\x80\x80",
            "truncated at the end": b"euro \xe2\x82",
        }
        for name, payload in cases.items():
            with self.subTest(name):
                self.assert_refused(encode_frame(OP_TEXT, payload), 1007, echo_first=True)

    def test_utf8_sequence_cut_at_the_end_of_a_fragmented_message_gets_1007(self):
        self.assert_refused(encode_frame(OP_TEXT, b"abc", fin=False) +
                            encode_frame(OP_CONT, b"\xf0\x9f\x98", fin=True), 1007,
                            echo_first=True)

    def test_invalid_utf8_in_a_close_reason_gets_1007(self):
        self.assert_refused(encode_frame(OP_CLOSE, close_payload(1000, b"bad \xff reason")), 1007)

    def test_binary_messages_are_not_checked_for_utf8(self):
        conn = self.connect()
        conn.send_frame(OP_BINARY, b"\xff\xfe\xc0\xaf")
        self.assertEqual(conn.read_message(), (OP_BINARY, b"\xff\xfe\xc0\xaf", []))

    def test_valid_four_byte_utf8_split_across_fragments_is_accepted(self):
        conn = self.connect()
        emoji = "😀".encode()
        conn.send_frame(OP_TEXT, b"a" + emoji[:1], fin=False)
        conn.send_frame(OP_CONT, emoji[1:3], fin=False)
        time.sleep(0.01)   # let the server see the incomplete sequence before the rest
        conn.send_frame(OP_CONT, emoji[3:] + b"z", fin=True)
        self.assertEqual(conn.read_message(), (OP_TEXT, b"a" + emoji + b"z", []))


if __name__ == "__main__":
    unittest.main()
