// ws_frame: RFC 6455 §5 decoder and encoder helpers. See ws_frame.h for the contract.
//
// The header is checked in stages as its bytes arrive, so a bad frame fails on the first byte
// that proves it bad: byte 0 and 1 (RSV, opcode, mask bit, control rules, fragmentation
// order), then the extended length (minimal form, most significant bit, message size limit),
// then the mask key. Nothing of a frame's payload is delivered before its header passed.
#include "net/ws_frame.h"

#include <algorithm>
#include <cstring>

namespace postern::net {
namespace {

constexpr bool is_control(ws_opcode op) noexcept {
  return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

constexpr bool is_known_opcode(std::uint8_t op) noexcept {
  switch (op) {
    case 0x0: case 0x1: case 0x2: case 0x8: case 0x9: case 0xA:
      return true;
    default:
      return false;
  }
}

constexpr std::uint8_t u8(std::byte b) noexcept { return static_cast<std::uint8_t>(b); }

// Event builders. Each has one return, and the decoder returns their results directly, so an
// event is built once in the caller's slot instead of being assembled on the stack and copied.
ws_event plain_event(ws_event_kind kind, std::size_t consumed, ws_opcode message) noexcept {
  ws_event ev;
  ev.kind = kind;
  ev.consumed = consumed;
  ev.message_opcode = message;
  return ev;
}

ws_event need_more_event(std::size_t consumed) noexcept {
  return plain_event(ws_event_kind::need_more, consumed, ws_opcode::binary);
}

ws_event frame_begin_event(std::size_t consumed, ws_opcode message,
                           const ws_frame_header& header) noexcept {
  ws_event ev;
  ev.kind = ws_event_kind::frame_begin;
  ev.consumed = consumed;
  ev.message_opcode = message;
  ev.header = header;
  return ev;
}

ws_event data_event(std::span<std::byte> chunk, ws_opcode message, bool frame_end) noexcept {
  ws_event ev;
  ev.kind = ws_event_kind::data;
  ev.consumed = chunk.size();
  ev.message_opcode = message;
  ev.frame_end = frame_end;
  ev.payload = chunk;
  return ev;
}

ws_event control_event(ws_event_kind kind, std::size_t consumed, const ws_frame_header& header,
                       std::span<std::byte> payload) noexcept {
  ws_event ev;
  ev.kind = kind;
  ev.consumed = consumed;
  ev.header = header;
  ev.payload = payload;
  return ev;
}

// Size of the stack buffer on which masked text is unmasked for validation when the decoder
// forwards payload still masked.
constexpr std::size_t validate_chunk_bytes = 256;

}  // namespace

bool is_valid_wire_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

ws_event ws_frame_decoder::next(std::span<std::byte> in) noexcept {
  switch (_state) {
    case state::failed:
      return error_event(0);
    case state::closed:
      return close_event(0);
    case state::message_end:
      return end_message();
    case state::payload:
      return read_payload(in);
    case state::header:
    case state::control:
      return read_frame(in);
  }
  return error_event(0);  // unreachable: every state is handled above
}

ws_event ws_frame_decoder::fail(std::uint16_t code, std::string_view reason,
                                std::size_t consumed) noexcept {
  refuse(code, reason);
  return error_event(consumed);
}

bool ws_frame_decoder::refuse(std::uint16_t code, std::string_view reason) noexcept {
  _state = state::failed;
  _error_code = code;
  _error_reason = reason;
  return false;
}

ws_event ws_frame_decoder::error_event(std::size_t consumed) const noexcept {
  ws_event ev = plain_event(ws_event_kind::error, consumed, _message_opcode);
  ev.close_code = _error_code;
  ev.reason = _error_reason;
  return ev;
}

ws_event ws_frame_decoder::close_event(std::size_t consumed) noexcept {
  const auto size = static_cast<std::size_t>(_frame.payload_bytes);
  // The payload lives in our own buffer, which is never written again once closed.
  ws_event ev = control_event(ws_event_kind::close, consumed, _frame,
                              std::span<std::byte>(_control_buf.data(), size));
  ev.close_code = _close_code;
  if (size > 2) {
    ev.close_reason = std::string_view(reinterpret_cast<const char*>(_control_buf.data() + 2),
                                       size - 2);
  }
  return ev;
}

// Stages: bytes 0-1, then the extended length (0, 2 or 8 bytes), then the mask key (0 or 4).
// Each stage's check runs once, on the call that completes it.
ws_frame_decoder::header_step ws_frame_decoder::read_header(std::span<std::byte> in,
                                                            std::size_t& used) noexcept {
  const std::uint8_t before = _header_have;
  auto fill_to = [&](std::size_t need) {
    const std::size_t n = _header_have < need ? std::min(need - _header_have, in.size() - used) : 0;
    if (n > 0) {  // an empty span may have a null data(), which memcpy must not see
      std::memcpy(_header_buf.data() + _header_have, in.data() + used, n);
      _header_have = static_cast<std::uint8_t>(_header_have + n);
      used += n;
    }
    return _header_have >= need;
  };

  if (!fill_to(2)) return header_step::incomplete;
  if (before < 2 && !check_first_bytes()) return header_step::failed;

  const std::uint8_t len7 = u8(_header_buf[1]) & 0x7F;
  const std::size_t length_end = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
  if (!fill_to(length_end)) return header_step::incomplete;
  if (before < length_end && !check_length()) return header_step::failed;

  const std::size_t header_end = length_end + (_frame.masked ? 4 : 0);
  if (!fill_to(header_end)) return header_step::incomplete;
  if (_frame.masked) std::memcpy(_frame.mask.data(), _header_buf.data() + length_end, 4);
  _frame.header_bytes = static_cast<std::uint8_t>(header_end);
  _header_have = 0;
  return header_step::complete;
}

bool ws_frame_decoder::check_first_bytes() noexcept {
  const std::uint8_t b0 = u8(_header_buf[0]);
  const std::uint8_t b1 = u8(_header_buf[1]);
  const std::uint8_t op = b0 & 0x0F;
  _frame = ws_frame_header{};
  _frame.fin = (b0 & 0x80) != 0;
  _frame.rsv = (b0 >> 4) & 0x7;
  _frame.opcode = static_cast<ws_opcode>(op);
  _frame.masked = (b1 & 0x80) != 0;
  const std::uint8_t len7 = b1 & 0x7F;

  constexpr auto protocol_error = ws_close_code::protocol_error;
  if (_frame.rsv != 0) {
    return refuse(protocol_error, "RSV bit set without a negotiated extension");
  }
  if (!is_known_opcode(op)) {
    return refuse(protocol_error, "reserved opcode");
  }
  if (_role == ws_role::server && !_frame.masked) {
    return refuse(protocol_error, "frame from the client is not masked");
  }
  if (_role == ws_role::client && _frame.masked) {
    return refuse(protocol_error, "frame from the server is masked");
  }
  if (is_control(_frame.opcode)) {
    if (!_frame.fin) {
      return refuse(protocol_error, "fragmented control frame");
    }
    if (len7 > max_control_payload) {
      return refuse(protocol_error, "control frame payload over 125 bytes");
    }
  } else if (_frame.opcode == ws_opcode::continuation) {
    if (!_message_open) {
      return refuse(protocol_error, "continuation frame without a message in progress");
    }
  } else if (_message_open) {
    return refuse(protocol_error, "new data frame while a fragmented message is in progress");
  }
  return true;
}

bool ws_frame_decoder::check_length() noexcept {
  constexpr auto protocol_error = ws_close_code::protocol_error;
  const std::uint8_t len7 = u8(_header_buf[1]) & 0x7F;
  std::uint64_t length = len7;
  if (len7 == 126) {
    length = (std::uint64_t{u8(_header_buf[2])} << 8) | u8(_header_buf[3]);
    if (length < 126) {
      return refuse(protocol_error, "16-bit length used for a payload under 126 bytes");
    }
  } else if (len7 == 127) {
    length = 0;
    for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | u8(_header_buf[i]);
    if (length >> 63) {
      return refuse(protocol_error, "64-bit length with the most significant bit set");
    }
    if (length < 65536) {
      return refuse(protocol_error, "64-bit length used for a payload under 65536 bytes");
    }
  }
  _frame.payload_bytes = length;
  if (!is_control(_frame.opcode)) {
    // A new message starts from 0; a continuation adds to what its message already carried.
    const std::uint64_t so_far = _frame.opcode == ws_opcode::continuation ? _message_bytes : 0;
    if (length > _max_message_bytes - so_far) {
      return refuse(ws_close_code::message_too_big, "message larger than the maximum size");
    }
  }
  return true;
}

ws_event ws_frame_decoder::read_frame(std::span<std::byte> in) noexcept {
  std::size_t used = 0;
  if (_state == state::header) {
    switch (read_header(in, used)) {
      case header_step::incomplete:
        return need_more_event(used);
      case header_step::failed:
        return error_event(used);
      case header_step::complete:
        break;
    }
    if (!is_control(_frame.opcode)) return begin_data_frame(used);
    _state = state::control;
    _control_have = 0;
  }
  const std::size_t want = static_cast<std::size_t>(_frame.payload_bytes) - _control_have;
  const std::size_t take = std::min(want, in.size() - used);
  if (take > 0) std::memcpy(_control_buf.data() + _control_have, in.data() + used, take);
  _control_have = static_cast<std::uint8_t>(_control_have + take);
  used += take;
  if (_control_have < _frame.payload_bytes) return need_more_event(used);
  return finish_control(used);
}

ws_event ws_frame_decoder::begin_data_frame(std::size_t used) noexcept {
  if (_frame.opcode != ws_opcode::continuation) {
    _message_open = true;
    _message_opcode = _frame.opcode;
    _message_bytes = 0;
    _utf8.reset();
  }
  _message_bytes += _frame.payload_bytes;
  _frame_remaining = _frame.payload_bytes;
  _frame_offset = 0;
  if (_frame_remaining > 0) {
    _state = state::payload;
  } else {
    _state = _frame.fin ? state::message_end : state::header;
  }
  return frame_begin_event(used, _message_opcode, _frame);
}

bool ws_frame_decoder::validate_masked_text(std::span<const std::byte> chunk) noexcept {
  std::array<std::byte, validate_chunk_bytes> copy;
  for (std::size_t off = 0; off < chunk.size(); off += copy.size()) {
    const std::size_t n = std::min(copy.size(), chunk.size() - off);
    std::memcpy(copy.data(), chunk.data() + off, n);
    const std::span<std::byte> part(copy.data(), n);
    ws_apply_mask(part, _frame.mask, _frame_offset + off);
    if (!_utf8.feed(part)) return false;
  }
  return true;
}

ws_event ws_frame_decoder::read_payload(std::span<std::byte> in) noexcept {
  const auto n = static_cast<std::size_t>(
      std::min<std::uint64_t>(_frame_remaining, in.size()));
  if (n == 0) return need_more_event(0);
  const std::span<std::byte> chunk = in.first(n);
  const bool keep_masked = _frame.masked && !_unmask;
  if (_frame.masked && _unmask) ws_apply_mask(chunk, _frame.mask, _frame_offset);
  if (_message_opcode == ws_opcode::text) {
    const bool ok = keep_masked ? validate_masked_text(chunk) : _utf8.feed(chunk);
    if (!ok) return fail(ws_close_code::invalid_payload, "text message is not valid UTF-8", n);
  }
  _frame_offset += n;
  _frame_remaining -= n;
  const bool frame_end = _frame_remaining == 0;
  if (frame_end) {
    if (_frame.fin) {
      // Refuse a text message that stops inside a code point before its last chunk goes out.
      if (_message_opcode == ws_opcode::text && !_utf8.complete()) {
        return fail(ws_close_code::invalid_payload, "text message ends inside a UTF-8 sequence",
                    n);
      }
      _state = state::message_end;
    } else {
      _state = state::header;
    }
  }
  return data_event(chunk, _message_opcode, frame_end);
}

ws_event ws_frame_decoder::end_message() noexcept {
  // Reached here with an incomplete sequence only after a zero-length final frame.
  if (_message_opcode == ws_opcode::text && !_utf8.complete()) {
    return fail(ws_close_code::invalid_payload, "text message ends inside a UTF-8 sequence", 0);
  }
  _message_open = false;
  _message_bytes = 0;
  _utf8.reset();
  _state = state::header;
  return plain_event(ws_event_kind::message_end, 0, _message_opcode);
}

ws_event ws_frame_decoder::finish_control(std::size_t used) noexcept {
  const auto size = static_cast<std::size_t>(_frame.payload_bytes);
  const std::span<std::byte> payload(_control_buf.data(), size);
  if (_frame.masked) ws_apply_mask(payload, _frame.mask, 0);

  if (_frame.opcode == ws_opcode::close) {
    if (size == 1) {
      return fail(ws_close_code::protocol_error, "close payload of 1 byte", used);
    }
    _close_code = ws_close_code::no_status;
    if (size >= 2) {
      const auto code = static_cast<std::uint16_t>((u8(payload[0]) << 8) | u8(payload[1]));
      if (!is_valid_wire_close_code(code)) {
        return fail(ws_close_code::protocol_error, "invalid close code", used);
      }
      if (!is_valid_utf8(payload.subspan(2))) {
        return fail(ws_close_code::invalid_payload, "close reason is not valid UTF-8", used);
      }
      _close_code = code;
    }
    _state = state::closed;
    return close_event(used);
  }

  _state = state::header;
  const auto kind = _frame.opcode == ws_opcode::ping ? ws_event_kind::ping : ws_event_kind::pong;
  return control_event(kind, used, _frame, payload);
}

std::size_t encode_ws_frame_header(std::byte* out, bool fin, ws_opcode opcode,
                                   std::uint64_t payload_bytes,
                                   const std::array<std::byte, 4>* mask) noexcept {
  out[0] = static_cast<std::byte>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode));
  const std::uint8_t mask_bit = mask != nullptr ? 0x80 : 0x00;
  std::size_t size;
  if (payload_bytes < 126) {
    out[1] = static_cast<std::byte>(mask_bit | payload_bytes);
    size = 2;
  } else if (payload_bytes <= 0xFFFF) {
    out[1] = static_cast<std::byte>(mask_bit | 126);
    out[2] = static_cast<std::byte>(payload_bytes >> 8);
    out[3] = static_cast<std::byte>(payload_bytes);
    size = 4;
  } else {
    out[1] = static_cast<std::byte>(mask_bit | 127);
    for (std::size_t i = 0; i < 8; ++i) {
      out[2 + i] = static_cast<std::byte>(payload_bytes >> (56 - 8 * i));
    }
    size = 10;
  }
  if (mask != nullptr) {
    std::memcpy(out + size, mask->data(), 4);
    size += 4;
  }
  return size;
}

// The key repeated twice, rotated so that byte 0 of the pattern applies to data[0]; since 8 is
// a multiple of 4 every further word uses the same pattern. memcpy keeps the byte order, so the
// word XOR equals the byte-wise XOR on any endianness, and keeps unaligned loads defined.
void ws_copy_masked(std::span<const std::byte> in, std::byte* out, const std::array<std::byte, 4>& key,
                    std::uint64_t offset) noexcept {
  const auto rot = static_cast<std::size_t>(offset & 3);
  std::array<std::byte, 8> pattern;
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = key[(rot + i) & 3];
  std::uint64_t word_key;
  std::memcpy(&word_key, pattern.data(), sizeof word_key);

  const std::byte* p = in.data();
  std::size_t n = in.size();
  while (n >= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, sizeof w);
    w[0] ^= word_key;
    w[1] ^= word_key;
    w[2] ^= word_key;
    w[3] ^= word_key;
    std::memcpy(out, w, sizeof w);
    p += 32;
    out += 32;
    n -= 32;
  }
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    w ^= word_key;
    std::memcpy(out, &w, sizeof w);
    p += 8;
    out += 8;
    n -= 8;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = p[i] ^ pattern[i];
}

void ws_apply_mask(std::span<std::byte> data, const std::array<std::byte, 4>& key,
                   std::uint64_t offset) noexcept {
  ws_copy_masked(data, data.data(), key, offset);
}

std::size_t encode_ws_close_payload(std::byte* out, std::uint16_t code,
                                    std::string_view reason) noexcept {
  constexpr std::size_t max_reason = ws_frame_decoder::max_control_payload - 2;
  out[0] = static_cast<std::byte>(code >> 8);
  out[1] = static_cast<std::byte>(code);
  std::size_t cut = reason.size();
  if (cut > max_reason) {
    // reason[cut] is the first byte left out; while it continues a sequence, that sequence
    // would be cut, so leave it out whole.
    cut = max_reason;
    while (cut > 0 && (static_cast<std::uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
  }
  if (cut > 0) std::memcpy(out + 2, reason.data(), cut);
  return 2 + cut;
}

}  // namespace postern::net
