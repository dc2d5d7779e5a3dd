// ws_frame: the RFC 6455 §5.7 examples, every protocol error with its close code, control
// frames between fragments, text validation, forwarding without unmasking, and encoder round
// trips. Every stream is decoded whole, split at every byte offset, and byte by byte, and must
// give the same events.
#include "net/ws_frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace postern::net {
namespace {

using bytes = std::vector<std::byte>;
using kind = ws_event_kind;
using op = ws_opcode;

bytes b(std::initializer_list<int> values) {
  bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

bytes s(std::string_view text) {
  bytes out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string str(std::span<const std::byte> in) {
  if (in.empty()) return {};
  return std::string(reinterpret_cast<const char*>(in.data()), in.size());
}

bytes pattern(std::size_t size) {
  bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(i * 7 + 3);
  return out;
}

const std::array<std::byte, 4> rfc_key = {std::byte{0x37}, std::byte{0xfa}, std::byte{0x21},
                                          std::byte{0x3d}};

// One frame as a peer would send it: masked with key when key is given.
bytes frame(bool fin, op opcode, const bytes& payload,
            const std::array<std::byte, 4>* key = nullptr) {
  bytes out(14);
  out.resize(encode_ws_frame_header(out.data(), fin, opcode, payload.size(), key));
  bytes body = payload;
  if (key != nullptr) ws_apply_mask(body, *key);
  return cat({out, body});
}

// A decoder event as a user sees it. Consecutive data chunks of one frame are merged, so the
// log does not depend on how the input was split.
struct rec {
  kind k = kind::need_more;
  op opcode = op::continuation;  // frame_begin: header opcode; data, message_end: message's
  op message = op::continuation; // frame_begin: the message's opcode
  bool fin = false;              // frame_begin
  std::uint64_t length = 0;      // frame_begin: payload_bytes; close: bytes consumed in total
  unsigned header_bytes = 0;     // frame_begin
  bool frame_end = false;        // data
  std::string data;              // data (merged), ping/pong payload, close reason
  std::uint16_t code = 0;        // close, error
  bool operator==(const rec&) const = default;
};

void PrintTo(const rec& r, std::ostream* os) {
  static const char* const names[] = {"need_more", "frame_begin", "data", "message_end",
                                      "ping",      "pong",        "close", "error"};
  *os << "{" << names[static_cast<int>(r.k)] << " op=" << static_cast<int>(r.opcode)
      << " msg=" << static_cast<int>(r.message) << " fin=" << r.fin << " len=" << r.length
      << " hdr=" << r.header_bytes << " end=" << r.frame_end << " code=" << r.code << " data["
      << r.data.size() << "]=" << testing::PrintToString(r.data.substr(0, 24)) << "}";
}

rec begin(op opcode, bool fin, std::uint64_t length, unsigned header_bytes, op message) {
  return {kind::frame_begin, opcode, message, fin, length, header_bytes, false, {}, 0};
}
rec begin(op opcode, bool fin, std::uint64_t length, unsigned header_bytes) {
  return begin(opcode, fin, length, header_bytes, opcode);
}
rec data(op message, std::string payload, bool frame_end = true) {
  return {kind::data, message, op::continuation, false, 0, 0, frame_end, std::move(payload), 0};
}
rec end(op message) {
  return {kind::message_end, message, op::continuation, false, 0, 0, false, {}, 0};
}
rec ping(std::string payload) { return {kind::ping, op::ping, {}, false, 0, 0, false, payload, 0}; }
rec pong(std::string payload) { return {kind::pong, op::pong, {}, false, 0, 0, false, payload, 0}; }
rec close(std::uint16_t code, std::string reason, std::uint64_t at) {
  return {kind::close, op::close, {}, false, at, 0, false, std::move(reason), code};
}
rec error(std::uint16_t code) { return {kind::error, {}, {}, false, 0, 0, false, {}, code}; }

struct run_result {
  std::vector<rec> log;
  std::string broken;           // the first contract violation seen, empty if none
  std::size_t consumed = 0;     // bytes consumed in total
  std::size_t fed_at_end = 0;   // bytes made available when decoding stopped
};

// Decodes input (modified in place) with the decoder seeing only the bytes up to the next cut,
// as if they arrived in pieces. Checks the decoder's contract on every call.
run_result run(ws_frame_decoder& d, std::span<std::byte> input,
               const std::vector<std::size_t>& cuts) {
  run_result r;
  std::size_t pos = 0;
  std::size_t next_cut = 0;
  std::size_t limit = cuts.empty() ? input.size() : cuts[0];
  auto note = [&](std::string what) {
    if (r.broken.empty()) r.broken = what + " at byte " + std::to_string(pos);
  };
  for (std::size_t calls = 0; calls < 4 * input.size() + 16; ++calls) {
    const std::span<std::byte> avail = input.subspan(pos, limit - pos);
    const ws_event ev = d.next(avail);
    if (ev.consumed > avail.size()) return note("consumed past the input"), r;
    pos += ev.consumed;
    switch (ev.kind) {
      case kind::need_more:
        if (pos != limit) note("need_more left bytes unconsumed");
        if (limit == input.size()) {
          r.consumed = pos;
          r.fed_at_end = limit;
          return r;
        }
        limit = ++next_cut < cuts.size() ? cuts[next_cut] : input.size();
        break;
      case kind::frame_begin:
        r.log.push_back(begin(ev.header.opcode, ev.header.fin, ev.header.payload_bytes,
                              ev.header.header_bytes, ev.message_opcode));
        break;
      case kind::data:
        if (ev.payload.data() != avail.data() || ev.payload.size() != ev.consumed ||
            ev.consumed == 0) {
          note("data payload is not the consumed bytes");
        }
        if (!r.log.empty() && r.log.back().k == kind::data && !r.log.back().frame_end) {
          if (r.log.back().opcode != ev.message_opcode) note("opcode changed inside a frame");
          r.log.back().data += str(ev.payload);
          r.log.back().frame_end = ev.frame_end;
        } else {
          r.log.push_back(data(ev.message_opcode, str(ev.payload), ev.frame_end));
        }
        break;
      case kind::message_end:
        r.log.push_back(end(ev.message_opcode));
        break;
      case kind::ping:
      case kind::pong:
        if (ev.payload.size() > 125) note("control payload over 125 bytes");
        r.log.push_back(ev.kind == kind::ping ? ping(str(ev.payload)) : pong(str(ev.payload)));
        break;
      case kind::close:
      case kind::error: {
        r.log.push_back(ev.kind == kind::close
                            ? close(ev.close_code, std::string(ev.close_reason), pos)
                            : error(ev.close_code));
        if (ev.kind == kind::error && ev.reason.empty()) note("error without a reason");
        if (ev.kind == kind::close && (!d.close_received() || d.failed())) note("close state");
        if (ev.kind == kind::error && !d.failed()) note("failed() is false after an error");
        // Sticky: the same event, consuming nothing, even with more bytes offered.
        for (int again = 0; again < 2; ++again) {
          const ws_event ev2 = d.next(input.subspan(pos));
          if (ev2.kind != ev.kind || ev2.consumed != 0 || ev2.close_code != ev.close_code ||
              ev2.close_reason != ev.close_reason || ev2.reason != ev.reason) {
            note("terminal event is not sticky");
          }
        }
        r.consumed = pos;
        r.fed_at_end = limit;
        return r;
      }
    }
  }
  note("no progress");
  return r;
}

struct decode_opts {
  ws_role role = ws_role::client;
  std::uint64_t max_message_bytes = 1 << 20;
  bool unmask = true;
};

run_result decode(const bytes& input, decode_opts o, const std::vector<std::size_t>& cuts = {}) {
  bytes copy = input;
  ws_frame_decoder d(o.role, o.max_message_bytes, o.unmask);
  return run(d, copy, cuts);
}

// The same log from the whole input, from the input split at every offset, and byte by byte.
// stride > 1 (for large inputs) splits at every offset of the first and last 64 bytes and at
// every stride-th offset in between.
void expect_same_every_split(const bytes& input, decode_opts o, const std::vector<rec>& want,
                             std::size_t stride = 1) {
  const run_result whole = decode(input, o);
  ASSERT_EQ(whole.broken, "");
  ASSERT_EQ(whole.log, want);
  for (std::size_t k = 1; k < input.size(); k += (k < 64 || k + 64 >= input.size()) ? 1 : stride) {
    const run_result split = decode(input, o, {k});
    ASSERT_EQ(split.broken, "") << "split at " << k;
    ASSERT_EQ(split.log, want) << "split at " << k;
    ASSERT_EQ(split.consumed, whole.consumed) << "split at " << k;
  }
  std::vector<std::size_t> every;
  for (std::size_t k = 1; k < input.size(); ++k) every.push_back(k);
  const run_result bytewise = decode(input, o, every);
  ASSERT_EQ(bytewise.broken, "");
  ASSERT_EQ(bytewise.log, want);
  ASSERT_EQ(bytewise.consumed, whole.consumed);
}

constexpr decode_opts client{ws_role::client};
constexpr decode_opts server{ws_role::server};

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
