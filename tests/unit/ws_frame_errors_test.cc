// ws_frame errors: every protocol error with its close code (1002, 1007, 1009) and the byte
// at which it is decided, the message size limit, and text validation in data frames. Every
// stream is decoded whole, split at every byte offset, and byte by byte, and must give the
// same events (tests/unit/ws_frame_test_util.h).
#include "net/ws_frame.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tests/unit/ws_frame_test_util.h"

namespace postern::net {
namespace {

using namespace ws_frame_test_util;

// ---- errors -------------------------------------------------------------------------------

struct header_error {
  const char* name;
  decode_opts opts;
  bytes in;
  std::uint16_t code;
  std::size_t decided_at;  // the error shows once this many bytes arrived, not before
  std::vector<rec> before{};
};

decode_opts with_max(std::uint64_t max) {
  decode_opts o = client;
  o.max_message_bytes = max;
  return o;
}

TEST(WsFrameErrors, EachProtocolErrorHasItsCodeAndIsDecidedAtTheRightByte) {
  std::vector<header_error> cases = {
      {"RSV1", client, b({0xC1, 0x00}), 1002, 2},
      {"RSV2", client, b({0xA2, 0x00}), 1002, 2},
      {"RSV3", client, b({0x91, 0x00}), 1002, 2},
      {"fragmented ping", client, b({0x09, 0x00}), 1002, 2},
      {"fragmented close", client, b({0x08, 0x00}), 1002, 2},
      {"fragmented pong", client, b({0x0A, 0x00}), 1002, 2},
      {"ping of 126 bytes", client, b({0x89, 0x7E, 0x00, 0x7E}), 1002, 2},
      {"close of 127-form length", client, b({0x88, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}), 1002, 2},
      {"continuation without message", client, b({0x80, 0x01, 0x61}), 1002, 2},
      {"unfinished continuation without message", client, b({0x00, 0x00}), 1002, 2},
      {"text while text open", client, b({0x01, 0x01, 0x61, 0x81, 0x00}), 1002, 5,
       {begin(op::text, false, 1, 2), data(op::text, "a")}},
      {"binary while text open", client, b({0x01, 0x01, 0x61, 0x02, 0x00}), 1002, 5,
       {begin(op::text, false, 1, 2), data(op::text, "a")}},
      {"64-bit length with MSB", client, b({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}), 1002, 10},
      {"16-bit form for 125", client, b({0x82, 0x7E, 0x00, 0x7D}), 1002, 4},
      {"16-bit form for 0", client, b({0x82, 0x7E, 0x00, 0x00}), 1002, 4},
      {"64-bit form for 65535", client, b({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}), 1002, 10},
      {"64-bit form for 5", client, b({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5}), 1002, 10},
      {"unmasked frame from a client", server, b({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}),
       1002, 2},
      {"masked frame from a server", client, b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f}),
       1002, 2},
      {"unmasked ping from a client", server, b({0x89, 0x00}), 1002, 2},
      {"frame over the limit", with_max(4), b({0x82, 0x05, 1, 2, 3, 4, 5}), 1009, 2},
      {"16-bit frame over the limit", with_max(255), b({0x82, 0x7E, 0x01, 0x00}), 1009, 4},
      {"64-bit frame over the limit", client, b({0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                                 0xFF, 0xFF}), 1009, 10},
      {"fragments over the limit", with_max(5), b({0x02, 0x03, 1, 2, 3, 0x80, 0x03, 4, 5, 6}),
       1009, 7, {begin(op::binary, false, 3, 2), data(op::binary, "\x01\x02\x03")}},
      {"close of 1 byte", client, b({0x88, 0x01, 0x03}), 1002, 3},
      {"close reason not UTF-8", client, b({0x88, 0x04, 0x03, 0xE8, 0xC0, 0x80}), 1007, 6},
      {"close reason truncated UTF-8", client, b({0x88, 0x03, 0x03, 0xE8, 0xC2}), 1007, 5},
      {"masked close reason not UTF-8", server,
       frame(true, op::close, b({0x03, 0xE8, 0xED, 0xA0, 0x80}), &rfc_key), 1007, 11},
  };
  for (int opcode : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    cases.push_back({"reserved opcode", client, b({0x80 | opcode, 0x00}), 1002, 2});
  }
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    cases.push_back(
        {"invalid close code", client, b({0x88, 0x02, code >> 8, code & 0xFF}), 1002, 4});
  }
  for (const header_error& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<rec> want = c.before;
    want.push_back(error(c.code));
    expect_same_every_split(c.in, c.opts, want);
    // Not decided one byte early; decided exactly when the deciding byte arrives.
    const bytes early(c.in.begin(), c.in.begin() + static_cast<long>(c.decided_at) - 1);
    EXPECT_EQ(decode(early, c.opts).log, c.before);
    const bytes exact(c.in.begin(), c.in.begin() + static_cast<long>(c.decided_at));
    EXPECT_EQ(decode(exact, c.opts).log, want);
  }
}

TEST(WsFrameErrors, MessageExactlyAtTheLimitIsAccepted) {
  expect_same_every_split(b({0x02, 0x03, 1, 2, 3, 0x80, 0x03, 4, 5, 6}), with_max(6),
                          {begin(op::binary, false, 3, 2), data(op::binary, "\x01\x02\x03"),
                           begin(op::continuation, true, 3, 2, op::binary),
                           data(op::binary, "\x04\x05\x06"), end(op::binary)});
  // The limit applies per message: a second message starts from zero, control frames don't count.
  expect_same_every_split(b({0x82, 0x02, 1, 2, 0x89, 0x03, 7, 7, 7, 0x82, 0x02, 3, 4}),
                          with_max(2),
                          {begin(op::binary, true, 2, 2), data(op::binary, "\x01\x02"),
                           end(op::binary), ping("\x07\x07\x07"), begin(op::binary, true, 2, 2),
                           data(op::binary, "\x03\x04"), end(op::binary)});
}

TEST(WsFrameErrors, TooBigIsDecidedBeforeAnyPayload) {
  bytes in = cat({b({0x82, 0x7E, 0x04, 0x00}), pattern(1024)});
  ws_frame_decoder d(ws_role::client, 1023);
  const ws_event ev = d.next(in);
  EXPECT_EQ(ev.kind, kind::error);
  EXPECT_EQ(ev.close_code, 1009);
  EXPECT_EQ(ev.consumed, 4u);  // the header only
  EXPECT_TRUE(d.failed());
}

// ---- text validation in data frames -----------------------------------------------------

TEST(WsFrameText, InvalidUtf8FailsOnTheChunkThatCarriesIt) {
  // Fed byte by byte: "ab" is delivered, the error comes with the 0xC0 and nothing after.
  const bytes in = cat({b({0x81, 0x06}), s("ab\xC0\x80" "cd")});
  std::vector<std::size_t> every;
  for (std::size_t k = 1; k < in.size(); ++k) every.push_back(k);
  const run_result r = decode(in, client, every);
  EXPECT_EQ(r.broken, "");
  EXPECT_EQ(r.log, (std::vector<rec>{begin(op::text, true, 6, 2), data(op::text, "ab", false),
                                     error(1007)}));
  EXPECT_EQ(r.fed_at_end, 5u);  // header, 'a', 'b', 0xC0
  EXPECT_EQ(decode(in, client).log,
            (std::vector<rec>{begin(op::text, true, 6, 2), error(1007)}));
}

TEST(WsFrameText, InvalidUtf8InTheFirstFragmentFailsBeforeTheRestArrives) {
  // Only the first fragment is there; the message is far from over.
  const bytes first = cat({b({0x01, 0x04}), s("ok\xED\xA0")});
  EXPECT_EQ(decode(first, client).log,
            (std::vector<rec>{begin(op::text, false, 4, 2), error(1007)}));
  decode_opts masked = server;
  EXPECT_EQ(decode(frame(false, op::text, s("ok\xF4\x90"), &rfc_key), masked).log,
            (std::vector<rec>{begin(op::text, false, 4, 6), error(1007)}));
}

TEST(WsFrameText, CodePointSplitAcrossFragmentsIsValid) {
  // U+20AC split 1+2 across two fragments, with a ping in between.
  expect_same_every_split(b({0x01, 0x02, 0x61, 0xE2, 0x89, 0x00, 0x80, 0x02, 0x82, 0xAC}), client,
                          {begin(op::text, false, 2, 2), data(op::text, "a\xE2"), ping(""),
                           begin(op::continuation, true, 2, 2, op::text),
                           data(op::text, "\x82\xAC"), end(op::text)});
  // The same split with a bad continuation fails in the second fragment.
  const run_result bad = decode(b({0x01, 0x02, 0x61, 0xE2, 0x80, 0x02, 0x41, 0xAC}), client);
  EXPECT_EQ(bad.log, (std::vector<rec>{begin(op::text, false, 2, 2), data(op::text, "a\xE2"),
                                       begin(op::continuation, true, 2, 2, op::text),
                                       error(1007)}));
}

TEST(WsFrameText, MessageEndingInsideACodePointFails) {
  EXPECT_EQ(decode(b({0x81, 0x02, 0x61, 0xE2}), client).log,
            (std::vector<rec>{begin(op::text, true, 2, 2), error(1007)}));
  // Split before the last byte: "a" is delivered, the final chunk is refused.
  EXPECT_EQ(decode(b({0x81, 0x02, 0x61, 0xE2}), client, {3}).log,
            (std::vector<rec>{begin(op::text, true, 2, 2), data(op::text, "a", false),
                              error(1007)}));
  // An empty final fragment after an unfinished sequence.
  expect_same_every_split(b({0x01, 0x02, 0x61, 0xE2, 0x80, 0x00}), client,
                          {begin(op::text, false, 2, 2), data(op::text, "a\xE2"),
                           begin(op::continuation, true, 0, 2, op::text), error(1007)});
  // Binary messages are not validated.
  expect_same_every_split(b({0x82, 0x02, 0x61, 0xE2}), client,
                          {begin(op::binary, true, 2, 2), data(op::binary, "a\xE2"),
                           end(op::binary)});
}

}  // namespace
}  // namespace postern::net
