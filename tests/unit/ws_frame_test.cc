// ws_frame: the RFC 6455 §5.7 examples, control frames between fragments, valid close frames,
// forwarding without unmasking, and encoder round trips; the error cases are in
// ws_frame_errors_test.cc. Every stream is decoded whole, split at every byte offset, and byte
// by byte, and must give the same events (tests/unit/ws_frame_test_util.h).
#include "net/ws_frame.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "tests/unit/ws_frame_test_util.h"

namespace postern::net {
namespace {

using namespace ws_frame_test_util;

// ---- RFC 6455 §5.7 examples -------------------------------------------------------------

TEST(WsFrameRfc, SingleFrameUnmaskedText) {
  expect_same_every_split(b({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), client,
                          {begin(op::text, true, 5, 2), data(op::text, "Hello"), end(op::text)});
}

TEST(WsFrameRfc, SingleFrameMaskedText) {
  const bytes in = b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  expect_same_every_split(in, server,
                          {begin(op::text, true, 5, 6), data(op::text, "Hello"), end(op::text)});
  // The mask key is reported in frame_begin.
  bytes copy = in;
  ws_frame_decoder d(ws_role::server, 1 << 20);
  const ws_event ev = d.next(copy);
  ASSERT_EQ(ev.kind, kind::frame_begin);
  EXPECT_TRUE(ev.header.masked);
  EXPECT_EQ(ev.header.mask, rfc_key);
}

TEST(WsFrameRfc, FragmentedUnmaskedText) {
  expect_same_every_split(
      b({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}), client,
      {begin(op::text, false, 3, 2), data(op::text, "Hel"),
       begin(op::continuation, true, 2, 2, op::text), data(op::text, "lo"), end(op::text)});
}

TEST(WsFrameRfc, UnmaskedPingAndMaskedPong) {
  expect_same_every_split(b({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), client,
                          {ping("Hello")});
  expect_same_every_split(b({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}),
                          server, {pong("Hello")});
}

TEST(WsFrameRfc, Binary256BytesWith16BitLength) {
  const bytes payload = pattern(256);
  expect_same_every_split(cat({b({0x82, 0x7E, 0x01, 0x00}), payload}), client,
                          {begin(op::binary, true, 256, 4), data(op::binary, str(payload)),
                           end(op::binary)});
  expect_same_every_split(frame(true, op::binary, payload, &rfc_key), server,
                          {begin(op::binary, true, 256, 8), data(op::binary, str(payload)),
                           end(op::binary)});
}

TEST(WsFrameRfc, Binary64KiBWith64BitLength) {
  const bytes payload = pattern(65536);
  const bytes in = cat({b({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}), payload});
  expect_same_every_split(in, client, {begin(op::binary, true, 65536, 10),
                                       data(op::binary, str(payload)), end(op::binary)});
  // Masked (the decoder writes the input, so every split needs a fresh copy): offsets at a
  // prime stride, which meets every mask key rotation.
  expect_same_every_split(frame(true, op::binary, payload, &rfc_key), server,
                          {begin(op::binary, true, 65536, 14), data(op::binary, str(payload)),
                           end(op::binary)},
                          61);
}

// ---- streams of frames ------------------------------------------------------------------

TEST(WsFrame, ControlFramesBetweenFragments) {
  const bytes in = cat({b({0x01, 0x03}), s("Hel"), b({0x89, 0x01}), s("x"), b({0x8A, 0x00}),
                        b({0x00, 0x01}), s("l"), b({0x80, 0x01}), s("o"),
                        b({0x82, 0x02, 0xAB, 0xCD}), b({0x88, 0x02, 0x03, 0xE8})});
  expect_same_every_split(in, client,
                          {begin(op::text, false, 3, 2), data(op::text, "Hel"), ping("x"),
                           pong(""), begin(op::continuation, false, 1, 2, op::text),
                           data(op::text, "l"), begin(op::continuation, true, 1, 2, op::text),
                           data(op::text, "o"), end(op::text), begin(op::binary, true, 2, 2),
                           data(op::binary, "\xAB\xCD"), end(op::binary),
                           close(1000, "", in.size())});
}

TEST(WsFrame, MaskedStreamWithControlFramesBetweenFragments) {
  const std::array<std::byte, 4> k2 = {std::byte{1}, std::byte{0x80}, std::byte{0xFE},
                                       std::byte{0x55}};
  const bytes in = cat({frame(false, op::binary, pattern(130), &rfc_key),
                        frame(true, op::ping, s("are you there"), &k2),
                        frame(true, op::continuation, pattern(7), &k2),
                        frame(true, op::close, cat({b({0x0B, 0xB8}), s("b\xC3\xA9")}), &rfc_key),
                        b({0x81, 0x85})});  // after close: never read
  std::string whole_payload = str(pattern(130));
  expect_same_every_split(in, server,
                          {begin(op::binary, false, 130, 8), data(op::binary, whole_payload),
                           ping("are you there"),
                           begin(op::continuation, true, 7, 6, op::binary),
                           data(op::binary, str(pattern(7))), end(op::binary),
                           close(3000, "b\xC3\xA9", in.size() - 2)});
}

TEST(WsFrame, ZeroLengthDataFrames) {
  expect_same_every_split(b({0x81, 0x00}), client, {begin(op::text, true, 0, 2), end(op::text)});
  expect_same_every_split(b({0x02, 0x00, 0x80, 0x00}), client,
                          {begin(op::binary, false, 0, 2),
                           begin(op::continuation, true, 0, 2, op::binary), end(op::binary)});
  expect_same_every_split(frame(true, op::text, {}, &rfc_key), server,
                          {begin(op::text, true, 0, 6), end(op::text)});
}

TEST(WsFrame, DataIsDeliveredAsItArrives) {
  bytes in = cat({b({0x81, 0x05}), s("Hello")});
  ws_frame_decoder d(ws_role::client, 100);
  ws_event ev = d.next(std::span(in).first(4));
  EXPECT_EQ(ev.kind, kind::frame_begin);
  EXPECT_EQ(ev.consumed, 2u);
  ev = d.next(std::span(in).subspan(2, 2));
  EXPECT_EQ(ev.kind, kind::data);
  EXPECT_EQ(str(ev.payload), "He");
  EXPECT_FALSE(ev.frame_end);
  EXPECT_TRUE(d.in_message());
  ev = d.next(std::span(in).subspan(4, 0));
  EXPECT_EQ(ev.kind, kind::need_more);
  EXPECT_EQ(ev.consumed, 0u);
  ev = d.next(std::span(in).subspan(4));
  EXPECT_EQ(ev.kind, kind::data);
  EXPECT_EQ(str(ev.payload), "llo");
  EXPECT_TRUE(ev.frame_end);
  ev = d.next(std::span(in).subspan(7));
  EXPECT_EQ(ev.kind, kind::message_end);
  EXPECT_EQ(ev.consumed, 0u);
  EXPECT_FALSE(d.in_message());
  EXPECT_EQ(d.next(std::span(in).subspan(7)).kind, kind::need_more);
}

// An empty span (null data()) while waiting for header, control or payload bytes is
// need_more, consumes nothing and changes nothing (and hands memcpy no null pointer).
TEST(WsFrame, EmptyInputWhileWaitingIsNeedMore) {
  bytes in = cat({frame(true, op::ping, s("Hi"), &rfc_key),
                  frame(true, op::binary, s("xyz"), &rfc_key)});
  ws_frame_decoder d(ws_role::server, 100);
  std::vector<kind> kinds;
  std::string payloads;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const ws_event idle = d.next(std::span<std::byte>{});
    ASSERT_EQ(idle.kind, kind::need_more) << i;
    ASSERT_EQ(idle.consumed, 0u) << i;
    const ws_event ev = d.next(std::span(in).subspan(i, 1));
    ASSERT_EQ(ev.consumed, 1u) << i;
    if (ev.kind != kind::need_more) kinds.push_back(ev.kind);
    payloads += str(ev.payload);
  }
  EXPECT_EQ(d.next(std::span<std::byte>{}).kind, kind::message_end);
  EXPECT_EQ(d.next(std::span<std::byte>{}).kind, kind::need_more);
  EXPECT_EQ(payloads, "Hixyz");
  EXPECT_EQ(kinds, (std::vector<kind>{kind::ping, kind::frame_begin, kind::data, kind::data,
                                      kind::data}));
}

// ---- forwarding without unmasking -------------------------------------------------------

TEST(WsFrame, ForwardingLeavesDataMaskedAndStillValidatesText) {
  const bytes in = b({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  decode_opts fwd = server;
  fwd.unmask = false;
  expect_same_every_split(in, fwd, {begin(op::text, true, 5, 6),
                                    data(op::text, "\x7f\x9f\x4d\x51\x58"), end(op::text)});
  // Control payloads are unmasked in the decoder's own buffer; the input stays as it was.
  bytes ping_in = frame(true, op::ping, s("Hello"), &rfc_key);
  const bytes original = ping_in;
  ws_frame_decoder d(ws_role::server, 100, false);
  const ws_event ev = d.next(ping_in);
  EXPECT_EQ(ev.kind, kind::ping);
  EXPECT_EQ(str(ev.payload), "Hello");
  EXPECT_EQ(ping_in, original);

  // A long masked text, valid and then with one bad byte: the stack-buffer validation has
  // to rotate the key at every chunk and split boundary.
  bytes text;
  for (int i = 0; i < 300; ++i) {
    const bytes piece = s(i % 3 == 0 ? "\xE2\x82\xAC" : i % 3 == 1 ? "\xF0\x9F\x98\x80" : "z");
    text.insert(text.end(), piece.begin(), piece.end());
  }
  const bytes good = frame(true, op::text, text, &rfc_key);
  const bytes masked_payload(good.begin() + 8, good.end());
  expect_same_every_split(good, fwd, {begin(op::text, true, text.size(), 8),
                                      data(op::text, str(masked_payload)), end(op::text)});
  bytes bad_text = text;
  bad_text[701] = std::byte{0xFF};
  const run_result bad = decode(frame(true, op::text, bad_text, &rfc_key), fwd);
  EXPECT_EQ(bad.log, (std::vector<rec>{begin(op::text, true, text.size(), 8), error(1007)}));
}

// ---- close frames ------------------------------------------------------------------------

TEST(WsFrameCloses, ValidCodesReasonsAndEmptyClose) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                   3000, 3999, 4000, 4999}) {
    SCOPED_TRACE(code);
    expect_same_every_split(b({0x88, 0x02, code >> 8, code & 0xFF}), client,
                            {close(static_cast<std::uint16_t>(code), "", 4)});
  }
  expect_same_every_split(b({0x88, 0x00}), client, {close(1005, "", 2)});
  expect_same_every_split(frame(true, op::close, {}, &rfc_key), server, {close(1005, "", 6)});
  expect_same_every_split(cat({b({0x88, 0x05, 0x03, 0xE9}), s("bye")}), client,
                          {close(1001, "bye", 7)});
  // Nothing after the close is read, however much follows it.
  const bytes tail = cat({b({0x88, 0x02, 0x03, 0xE8, 0x81, 0x05}), s("Hello")});
  expect_same_every_split(tail, client, {close(1000, "", 4)});
}
// ---- encoder ------------------------------------------------------------------------------

TEST(WsFrameEncoder, HeaderBytesUseTheMinimalLengthForm) {
  struct expect_header { std::uint64_t length; bytes unmasked; };
  const std::vector<expect_header> cases = {
      {0, b({0x82, 0x00})},
      {125, b({0x82, 0x7D})},
      {126, b({0x82, 0x7E, 0x00, 0x7E})},
      {65535, b({0x82, 0x7E, 0xFF, 0xFF})},
      {65536, b({0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00})},
      {(1ULL << 63) - 1, b({0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})},
  };
  for (const expect_header& c : cases) {
    SCOPED_TRACE(c.length);
    bytes out(14);
    out.resize(encode_ws_frame_header(out.data(), true, op::binary, c.length));
    EXPECT_EQ(out, c.unmasked);
    bytes masked(14);
    masked.resize(encode_ws_frame_header(masked.data(), true, op::binary, c.length, &rfc_key));
    bytes want = c.unmasked;
    want[1] |= std::byte{0x80};
    want.insert(want.end(), rfc_key.begin(), rfc_key.end());
    EXPECT_EQ(masked, want);
  }
  bytes out(14);
  out.resize(encode_ws_frame_header(out.data(), false, op::continuation, 3));
  EXPECT_EQ(out, b({0x00, 0x03}));
  out.resize(14);
  out.resize(encode_ws_frame_header(out.data(), true, op::close, 2));
  EXPECT_EQ(out, b({0x88, 0x02}));
}

TEST(WsFrameEncoder, RoundTripsThroughTheDecoder) {
  for (std::size_t length : {0u, 125u, 126u, 65535u, 65536u}) {
    SCOPED_TRACE(length);
    const unsigned short_header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const bytes payload = pattern(length);
    bytes text(length, std::byte{'t'});
    for (bool masked : {false, true}) {
      const decode_opts o = masked ? server : client;
      const auto* key = masked ? &rfc_key : nullptr;
      const unsigned hdr = short_header + (masked ? 4 : 0);
      std::vector<rec> want = {begin(op::binary, true, length, hdr)};
      if (length > 0) want.push_back(data(op::binary, str(payload)));
      want.push_back(end(op::binary));
      EXPECT_EQ(decode(frame(true, op::binary, payload, key), o).log, want);
      // Two fragments: text of this length, then a one-byte final fragment.
      const bytes two = cat({frame(false, op::text, text, key),
                             frame(true, op::continuation, s("!"), key)});
      std::vector<rec> want2 = {begin(op::text, false, length, hdr)};
      if (length > 0) want2.push_back(data(op::text, str(text)));
      want2.push_back(begin(op::continuation, true, 1, 2 + (masked ? 4 : 0), op::text));
      want2.push_back(data(op::text, "!"));
      want2.push_back(end(op::text));
      EXPECT_EQ(decode(two, o).log, want2);
    }
  }
  const std::string max_ping(125, 'p');
  EXPECT_EQ(decode(frame(true, op::ping, s(max_ping), &rfc_key), server).log,
            std::vector<rec>{ping(max_ping)});
}

TEST(WsFrameEncoder, ApplyMaskMatchesByteWiseXorAtAnyOffsetAndAlignment) {
  const std::array<std::byte, 4> key = {std::byte{0x12}, std::byte{0xA5}, std::byte{0xFF},
                                        std::byte{0x00}};
  for (std::size_t align = 0; align < 8; ++align) {
    for (std::size_t size = 0; size <= 80; ++size) {
      for (std::uint64_t offset : {0ull, 1ull, 2ull, 3ull, 4ull, 5ull, 4099ull,
                                   (1ull << 40) + 2}) {
        bytes buf = pattern(align + size + 8);
        const bytes before = buf;
        ws_apply_mask(std::span(buf).subspan(align, size), key, offset);
        for (std::size_t i = 0; i < buf.size(); ++i) {
          std::byte want = before[i];
          if (i >= align && i < align + size) want ^= key[(offset + (i - align)) % 4];
          ASSERT_EQ(buf[i], want) << "align " << align << " size " << size << " offset "
                                  << offset << " byte " << i;
        }
      }
    }
  }
  // Copying while masking gives the same bytes and leaves the source alone.
  for (std::size_t size = 0; size <= 80; ++size) {
    for (std::uint64_t offset : {0ull, 1ull, 3ull, 4099ull}) {
      const bytes in = pattern(size);
      bytes masked = in;
      ws_apply_mask(masked, key, offset);
      bytes out(size + 1, std::byte{0x5A});
      ws_copy_masked(in, out.data(), key, offset);
      ASSERT_EQ(bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(size)), masked) << size << " " << offset;
      ASSERT_EQ(out[size], std::byte{0x5A}) << "wrote past the end";
      ASSERT_EQ(in, pattern(size));
    }
  }
  // Masking in pieces at their offsets equals masking at once.
  const bytes plain = pattern(100);
  bytes once = plain;
  ws_apply_mask(once, key);
  for (std::size_t k = 0; k <= plain.size(); ++k) {
    bytes pieces = plain;
    ws_apply_mask(std::span(pieces).first(k), key, 0);
    ws_apply_mask(std::span(pieces).subspan(k), key, k);
    ASSERT_EQ(pieces, once) << k;
  }
}

TEST(WsFrameEncoder, ClosePayloadTruncatesOnACodePointBoundary) {
  struct close_case { std::string reason; std::size_t kept; };
  const std::string a121(121, 'a'), a122(122, 'a'), a120(120, 'a');
  const std::vector<close_case> cases = {
      {"", 0},
      {"bye", 3},
      {std::string(123, 'r'), 123},
      {std::string(124, 'r'), 123},
      {std::string(400, 'r'), 123},
      {a121 + "\xC3\xA9", 123},              // é ends exactly at 123
      {a122 + "\xC3\xA9", 122},              // é would be cut after its first byte
      {a122 + "\xE2\x82\xAC", 122},          // € would be cut after 1 of 3 bytes
      {a121 + "\xE2\x82\xAC", 121},          // ... after 2 of 3
      {a120 + "\xF0\x9F\x98\x80", 120},      // 😀 after 3 of 4
      {a120 + "\xE2\x82\xAC" "z", 123},      // € ends exactly at 123
  };
  for (const close_case& c : cases) {
    SCOPED_TRACE(c.reason.size());
    std::array<std::byte, 125> out{};
    const std::size_t size = encode_ws_close_payload(out.data(), 4001, c.reason);
    ASSERT_EQ(size, 2 + c.kept);
    EXPECT_EQ(out[0], std::byte{0x0F});
    EXPECT_EQ(out[1], std::byte{0xA1});
    EXPECT_EQ(str(std::span(out).subspan(2, c.kept)), c.reason.substr(0, c.kept));
    // What we send is what a peer's decoder accepts.
    const bytes payload(out.begin(), out.begin() + static_cast<long>(size));
    EXPECT_EQ(decode(frame(true, op::close, payload, &rfc_key), server).log,
              std::vector<rec>{close(4001, c.reason.substr(0, c.kept), 6 + size)});
  }
}

TEST(WsFrameEncoder, WireCloseCodes) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    EXPECT_TRUE(is_valid_wire_close_code(static_cast<std::uint16_t>(code))) << code;
  }
  for (int code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(is_valid_wire_close_code(static_cast<std::uint16_t>(code))) << code;
  }
  int valid = 0;
  for (int code = 0; code <= 65535; ++code) {
    valid += is_valid_wire_close_code(static_cast<std::uint16_t>(code)) ? 1 : 0;
  }
  EXPECT_EQ(valid, 4 + 8 + 2000);
}

}  // namespace
}  // namespace postern::net
