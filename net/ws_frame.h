// ws_frame: RFC 6455 §5 framing. A pure, resumable, pull-style decoder and the encoder helpers
// (STYLE 3): no socket, no allocation, no logging.
//
// Decoder contract. Call next(in) repeatedly with the bytes not yet consumed; each call
// consumes ev.consumed bytes (possibly 0 for need_more) and returns one event:
//   frame_begin  a data frame (text, binary or continuation) starts; ev.header describes it
//   data         a chunk of the current data frame's payload, unmasked in place (the input is
//                mutable for that reason) unless unmask was turned off for forwarding
//   message_end  the final fragment of a text or binary message ended (text was valid UTF-8)
//   ping/pong    a whole control frame; ev.payload (<= 125 bytes, unmasked) stays valid until
//                the next call
//   close        the peer's close frame: ev.close_code (1005 when it carried none) and
//                ev.close_reason (valid UTF-8); the decoder consumes nothing after it: every
//                later call returns the same close event with consumed 0
//   error        the connection must fail with close code ev.close_code (1002 protocol error,
//                1007 invalid UTF-8, 1009 too big) and ev.reason for the log; sticky: every
//                later call returns the same error with consumed 0
//   need_more    all input consumed (or more bytes are needed to go on)
// A data event's payload is the first ev.consumed bytes of in. message_end may come with
// consumed 0 (it follows the chunk that ended the message). A zero-length data frame yields
// frame_begin (header.payload_bytes == 0) and no data event. ping, pong and close also fill
// ev.header.
// Control frames may arrive between the fragments of a message. Text payload is validated
// incrementally: invalid UTF-8 is reported in the chunk where it appears. A message's size is
// checked against max_message_bytes when each frame header arrives, before its payload is
// buffered anywhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/utf8.h"

namespace postern::net {

enum class ws_opcode : std::uint8_t {
  continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA,
};

// server: frames from a client, which must be masked. client: frames from a server, unmasked.
enum class ws_role : std::uint8_t { server, client };

namespace ws_close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;       // never sent
inline constexpr std::uint16_t abnormal = 1006;        // never sent
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace ws_close_code

// True for codes a peer may send in a close frame (RFC 6455 §7.4: 1000-1003, 1007-1011,
// 3000-4999), plus 1012-1014 (service restart, try again later, bad gateway), which IANA has
// registered since; 1004, 1005, 1006, 1015 and every other code below 3000 or above 4999 are
// refused.
bool is_valid_wire_close_code(std::uint16_t code) noexcept;

struct ws_frame_header {
  bool fin = false;
  std::uint8_t rsv = 0;               // RSV1-3 bits (always 0 once accepted: no extension)
  ws_opcode opcode = ws_opcode::continuation;
  bool masked = false;
  std::array<std::byte, 4> mask{};
  std::uint64_t payload_bytes = 0;
  std::uint8_t header_bytes = 0;      // 2 to 14
};

enum class ws_event_kind : std::uint8_t {
  need_more, frame_begin, data, message_end, ping, pong, close, error,
};

struct ws_event {
  ws_event_kind kind = ws_event_kind::need_more;
  std::size_t consumed = 0;
  ws_opcode message_opcode = ws_opcode::binary;  // frame_begin/data/message_end: text or binary
  ws_frame_header header{};                      // frame_begin
  bool frame_end = false;                        // data: this chunk ends the frame
  std::span<std::byte> payload{};                // data, ping, pong, close (raw close payload)
  std::uint16_t close_code = 0;                  // close: received code; error: code to send
  std::string_view close_reason{};               // close: received reason
  std::string_view reason{};                     // error: what was wrong, for the log
};

class ws_frame_decoder {
 public:
  static constexpr std::size_t max_control_payload = 125;

  ws_frame_decoder(ws_role role, std::uint64_t max_message_bytes, bool unmask = true) noexcept
      : _role(role), _max_message_bytes(max_message_bytes), _unmask(unmask) {}

  ws_event next(std::span<std::byte> in) noexcept;

  bool close_received() const noexcept { return _state == state::closed; }
  bool failed() const noexcept { return _state == state::failed; }
  bool in_message() const noexcept { return _message_open; }

 private:
  enum class state : std::uint8_t {
    header,        // collecting a frame header into _header_buf
    payload,       // inside a data frame's payload
    control,       // collecting a control frame's payload into _control_buf
    message_end,   // the final frame's payload is delivered; message_end is due
    closed,        // a close frame was received; nothing more is read
    failed,        // an error was reported; sticky
  };
  enum class header_step : std::uint8_t { incomplete, complete, failed };

  header_step read_header(std::span<std::byte> in, std::size_t& used) noexcept;
  bool check_first_bytes() noexcept;
  bool check_length() noexcept;
  ws_event read_frame(std::span<std::byte> in) noexcept;
  ws_event begin_data_frame(std::size_t used) noexcept;
  ws_event read_payload(std::span<std::byte> in) noexcept;
  bool validate_masked_text(std::span<const std::byte> chunk) noexcept;
  ws_event end_message() noexcept;
  ws_event finish_control(std::size_t used) noexcept;
  ws_event close_event(std::size_t consumed) noexcept;
  ws_event error_event(std::size_t consumed) const noexcept;
  ws_event fail(std::uint16_t code, std::string_view reason, std::size_t consumed) noexcept;
  bool refuse(std::uint16_t code, std::string_view reason) noexcept;  // fails; returns false

  ws_role _role;
  std::uint64_t _max_message_bytes;
  bool _unmask;
  state _state = state::header;
  bool _message_open = false;               // a text/binary message awaits its final fragment
  ws_opcode _message_opcode = ws_opcode::binary;
  std::uint64_t _message_bytes = 0;         // payload bytes of the open message so far
  ws_frame_header _frame{};
  std::uint64_t _frame_remaining = 0;
  std::uint64_t _frame_offset = 0;          // payload bytes of this frame already delivered
  std::uint8_t _header_have = 0;
  std::array<std::byte, 14> _header_buf{};
  std::uint8_t _control_have = 0;
  std::array<std::byte, max_control_payload> _control_buf{};
  utf8_validator _utf8;
  std::uint16_t _close_code = 0;            // state::closed: the code received (or 1005)
  std::uint16_t _error_code = 0;
  std::string_view _error_reason{};
};

// Encoder. Writes a frame header for payload_bytes into out (at least 14 bytes) and returns
// its size (2 to 14), always in the minimal length form. mask == nullptr writes an unmasked
// (server) frame. payload_bytes must be below 2^63 (RFC 6455 §5.2).
std::size_t encode_ws_frame_header(std::byte* out, bool fin, ws_opcode opcode,
                                   std::uint64_t payload_bytes,
                                   const std::array<std::byte, 4>* mask = nullptr) noexcept;

// XORs data with key, where data starts at byte `offset` of the masked payload. Word-wise.
void ws_apply_mask(std::span<std::byte> data, const std::array<std::byte, 4>& key,
                   std::uint64_t offset = 0) noexcept;
// The same while copying: out[i] = in[i] ^ key[(offset + i) % 4] for in.size() bytes, in one
// pass (out may equal in.data(), not otherwise overlap it).
void ws_copy_masked(std::span<const std::byte> in, std::byte* out, const std::array<std::byte, 4>& key,
                    std::uint64_t offset = 0) noexcept;

// A close frame's payload: the code (network order) and as much of reason as fits in 123
// bytes without cutting a UTF-8 sequence. Returns its size (2 to 125) written into out (125).
std::size_t encode_ws_close_payload(std::byte* out, std::uint16_t code,
                                    std::string_view reason) noexcept;

}  // namespace postern::net
