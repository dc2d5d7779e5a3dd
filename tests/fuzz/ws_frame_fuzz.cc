// libFuzzer target for ws_frame_decoder.
//
// Input: byte 0 picks unmask and max_message_bytes, byte 1 the split point, the rest is the
// stream. The stream is decoded in both roles, once whole and once in two pieces, and checks
// the decoder's contract on every call:
//   consumed <= the bytes offered; need_more consumes everything offered; a data payload is
//   exactly the consumed bytes; no message exceeds max_message_bytes; accepted headers have
//   RSV 0, a mask bit that matches the role, 2 to 14 header bytes; control payloads <= 125
//   bytes; a close carries 1005 or a valid wire code and a UTF-8 reason; an error carries
//   1002, 1007 or 1009; close and error are sticky and consume nothing more; a completed text
//   message is valid UTF-8 (when unmasking); both splits give the same events (an error's
//   code included; the chunks before a 1007 may differ since the bad chunk is refused whole).
//
// Build and run (clang 14):
//   clang++-14 -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined \
//     -fno-sanitize-recover=all -I. tests/fuzz/ws_frame_fuzz.cc net/ws_frame.cc net/utf8.cc \
//     -o ws_frame_fuzz && ./ws_frame_fuzz -max_total_time=20
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/utf8.h"
#include "net/ws_frame.h"

namespace {

using postern::net::ws_event;
using postern::net::ws_event_kind;
using postern::net::ws_frame_decoder;
using postern::net::ws_opcode;
using postern::net::ws_role;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct entry {
  ws_event_kind kind;
  std::uint64_t number;  // frame_begin: payload bytes; close, error: code
  std::string bytes;     // data (merged per frame, as delivered), ping/pong payload, reason
  bool operator==(const entry&) const = default;
};

std::string str(std::span<const std::byte> in) {
  return std::string(reinterpret_cast<const char*>(in.data()), in.size());
}

std::vector<entry> decode(std::vector<std::byte> input, std::size_t cut, ws_role role,
                          std::uint64_t max_message_bytes, bool unmask) {
  ws_frame_decoder d(role, max_message_bytes, unmask);
  std::vector<entry> log;
  std::string message;              // the open message's payload, for the UTF-8 check
  std::uint64_t message_bytes = 0;
  bool message_is_text = false;
  bool chunk_open = false;
  std::size_t pos = 0;
  std::size_t limit = cut;
  const std::span<std::byte> all(input);
  for (std::size_t calls = 0; calls < 4 * input.size() + 16; ++calls) {
    const std::span<std::byte> avail = all.subspan(pos, limit - pos);
    const ws_event ev = d.next(avail);
    check(ev.consumed <= avail.size());
    pos += ev.consumed;
    switch (ev.kind) {
      case ws_event_kind::need_more:
        check(pos == limit);
        if (limit == input.size()) return log;
        limit = input.size();
        break;
      case ws_event_kind::frame_begin:
        check(!chunk_open);
        check(ev.header.rsv == 0);
        check(ev.header.masked == (role == ws_role::server));
        check(ev.header.header_bytes >= 2 && ev.header.header_bytes <= 14);
        check(ev.message_opcode == ws_opcode::text || ev.message_opcode == ws_opcode::binary);
        check(d.in_message());
        if (ev.header.opcode != ws_opcode::continuation) {
          message.clear();
          message_bytes = 0;
          message_is_text = ev.header.opcode == ws_opcode::text;
        }
        message_bytes += ev.header.payload_bytes;
        check(message_bytes <= max_message_bytes);
        log.push_back({ev.kind, ev.header.payload_bytes, {}});
        break;
      case ws_event_kind::data:
        check(ev.consumed > 0 && ev.payload.data() == avail.data() &&
              ev.payload.size() == ev.consumed);
        check(d.in_message());
        message += str(ev.payload);
        if (chunk_open) {
          log.back().bytes += str(ev.payload);
        } else {
          log.push_back({ev.kind, 0, str(ev.payload)});
        }
        chunk_open = !ev.frame_end;
        break;
      case ws_event_kind::message_end:
        check(!chunk_open);
        check(!d.in_message());
        check(message.size() == message_bytes);
        if (message_is_text && unmask) {
          check(postern::net::is_valid_utf8(std::as_bytes(std::span(message))));
        }
        log.push_back({ev.kind, 0, {}});
        break;
      case ws_event_kind::ping:
      case ws_event_kind::pong:
        check(ev.payload.size() <= ws_frame_decoder::max_control_payload);
        log.push_back({ev.kind, 0, str(ev.payload)});
        break;
      case ws_event_kind::close:
      case ws_event_kind::error: {
        if (ev.kind == ws_event_kind::close) {
          check(d.close_received());
          check(ev.close_code == 1005 || postern::net::is_valid_wire_close_code(ev.close_code));
          check(postern::net::is_valid_utf8(std::as_bytes(std::span(ev.close_reason))));
        } else {
          check(d.failed());
          check(ev.close_code == 1002 || ev.close_code == 1007 || ev.close_code == 1009);
          check(!ev.reason.empty());
        }
        for (int again = 0; again < 2; ++again) {
          const ws_event ev2 = d.next(all.subspan(pos));
          check(ev2.kind == ev.kind && ev2.consumed == 0 && ev2.close_code == ev.close_code &&
                ev2.close_reason == ev.close_reason);
        }
        log.push_back({ev.kind, ev.close_code, std::string(ev.close_reason)});
        return log;
      }
    }
  }
  check(false);  // no progress
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::uint64_t limits[8] = {0, 1, 125, 126, 1000, 65536, 1 << 20, ~0ULL};
  const bool unmask = (data[0] & 1) == 0;
  const std::uint64_t max_message_bytes = limits[(data[0] >> 1) & 7];
  std::vector<std::byte> input(size - 2);
  for (std::size_t i = 2; i < size; ++i) input[i - 2] = static_cast<std::byte>(data[i]);
  const std::size_t cut = input.empty() ? 0 : data[1] % (input.size() + 1);

  for (ws_role role : {ws_role::server, ws_role::client}) {
    const std::vector<entry> whole = decode(input, input.size(), role, max_message_bytes, unmask);
    const std::vector<entry> split = decode(input, cut, role, max_message_bytes, unmask);
    const bool ends_1007 = !whole.empty() && whole.back().kind == ws_event_kind::error &&
                           whole.back().number == 1007;
    if (ends_1007) {
      check(!split.empty() && split.back() == whole.back());
    } else {
      check(split == whole);
    }
  }
  return 0;
}
