// ws_frame_test_util: what ws_frame_test.cc and ws_frame_errors_test.cc share: byte builders,
// frame(), the merged event log (rec) and its constructors, and the drivers that decode a
// stream whole, split at every byte offset and byte by byte (run, decode,
// expect_same_every_split), checking the decoder's contract on every call.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/ws_frame.h"

namespace postern::net::ws_frame_test_util {

using bytes = std::vector<std::byte>;
using kind = ws_event_kind;
using op = ws_opcode;

inline bytes b(std::initializer_list<int> values) {
  bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

inline bytes s(std::string_view text) {
  bytes out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline std::string str(std::span<const std::byte> in) {
  if (in.empty()) return {};
  return std::string(reinterpret_cast<const char*>(in.data()), in.size());
}

inline bytes pattern(std::size_t size) {
  bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(i * 7 + 3);
  return out;
}

inline constexpr std::array<std::byte, 4> rfc_key = {std::byte{0x37}, std::byte{0xfa}, std::byte{0x21},
                                                     std::byte{0x3d}};

// One frame as a peer would send it: masked with key when key is given.
inline bytes frame(bool fin, op opcode, const bytes& payload,
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

inline void PrintTo(const rec& r, std::ostream* os) {
  static const char* const names[] = {"need_more", "frame_begin", "data", "message_end",
                                      "ping",      "pong",        "close", "error"};
  *os << "{" << names[static_cast<int>(r.k)] << " op=" << static_cast<int>(r.opcode)
      << " msg=" << static_cast<int>(r.message) << " fin=" << r.fin << " len=" << r.length
      << " hdr=" << r.header_bytes << " end=" << r.frame_end << " code=" << r.code << " data["
      << r.data.size() << "]=" << testing::PrintToString(r.data.substr(0, 24)) << "}";
}

inline rec begin(op opcode, bool fin, std::uint64_t length, unsigned header_bytes, op message) {
  return {kind::frame_begin, opcode, message, fin, length, header_bytes, false, {}, 0};
}
inline rec begin(op opcode, bool fin, std::uint64_t length, unsigned header_bytes) {
  return begin(opcode, fin, length, header_bytes, opcode);
}
inline rec data(op message, std::string payload, bool frame_end = true) {
  return {kind::data, message, op::continuation, false, 0, 0, frame_end, std::move(payload), 0};
}
inline rec end(op message) {
  return {kind::message_end, message, op::continuation, false, 0, 0, false, {}, 0};
}
inline rec ping(std::string payload) { return {kind::ping, op::ping, {}, false, 0, 0, false, payload, 0}; }
inline rec pong(std::string payload) { return {kind::pong, op::pong, {}, false, 0, 0, false, payload, 0}; }
inline rec close(std::uint16_t code, std::string reason, std::uint64_t at) {
  return {kind::close, op::close, {}, false, at, 0, false, std::move(reason), code};
}
inline rec error(std::uint16_t code) { return {kind::error, {}, {}, false, 0, 0, false, {}, code}; }

struct run_result {
  std::vector<rec> log;
  std::string broken;           // the first contract violation seen, empty if none
  std::size_t consumed = 0;     // bytes consumed in total
  std::size_t fed_at_end = 0;   // bytes made available when decoding stopped
};

// Decodes input (modified in place) with the decoder seeing only the bytes up to the next cut,
// as if they arrived in pieces. Checks the decoder's contract on every call.
inline run_result run(ws_frame_decoder& d, std::span<std::byte> input,
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

inline run_result decode(const bytes& input, decode_opts o,
                         const std::vector<std::size_t>& cuts = {}) {
  bytes copy = input;
  ws_frame_decoder d(o.role, o.max_message_bytes, o.unmask);
  return run(d, copy, cuts);
}

// The same log from the whole input, from the input split at every offset, and byte by byte.
// stride > 1 (for large inputs) splits at every offset of the first and last 64 bytes and at
// every stride-th offset in between.
inline void expect_same_every_split(const bytes& input, decode_opts o, const std::vector<rec>& want,
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

inline constexpr decode_opts client{ws_role::client};
inline constexpr decode_opts server{ws_role::server};

}  // namespace postern::net::ws_frame_test_util
