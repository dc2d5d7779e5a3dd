// echo_check: the messages postern-load sends and the check of their echoes (pure, resumable:
// STYLE 3). No socket, no clock, no allocation after construction.
//
// A message of size bytes (size >= prefix_bytes) is:
//   bytes 0..15   the prefix: its sequence number (48 bits) then its send time in ns (48 bits),
//                 each as 8 characters of the URL-safe base64 alphabet, most significant first
//   bytes 16..    a fixed pattern: the byte at offset i is ' ' + (i % 95), printable ASCII
// so the whole message is ASCII: the same bytes serve binary and text (valid UTF-8) frames.
//
// echo_tracker is one connection's view: it makes each message (remembering its send time in a
// ring of `capacity` slots, the most a connection may have in flight) and checks the bytes that
// come back against the messages in flight, oldest first. Any difference, a message too long or
// too short, or bytes with nothing in flight, is a mismatch; mismatches are sticky (a broken echo
// stream cannot be trusted again).
//
// Header-only: the unit-test binary links libpostern.a and its tests only, not bench/load/.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace postern::load {

inline constexpr std::size_t prefix_bytes = 16;
inline constexpr std::uint64_t prefix_field_mask = (std::uint64_t{1} << 48) - 1;

// Writes the 16-byte prefix of message seq sent at sent_ns (both taken modulo 2^48).
inline void encode_prefix(std::uint64_t seq, std::uint64_t sent_ns, std::byte* out) noexcept {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::uint64_t fields[2] = {seq & prefix_field_mask, sent_ns & prefix_field_mask};
  for (int f = 0; f < 2; ++f) {
    for (int i = 0; i < 8; ++i) {
      const unsigned six = static_cast<unsigned>(fields[f] >> (6 * (7 - i))) & 63u;
      out[f * 8 + i] = static_cast<std::byte>(alphabet[six]);
    }
  }
}

// The message body that every message shares: size bytes, the prefix bytes zero (encode_prefix
// fills them per message), then the pattern.
inline std::vector<std::byte> make_message_template(std::size_t size) {
  std::vector<std::byte> out(size, std::byte{0});
  for (std::size_t i = prefix_bytes; i < size; ++i) out[i] = static_cast<std::byte>(' ' + i % 95);
  return out;
}

struct echo_event {
  enum class kind : std::uint8_t {
    need_more,  // the input was consumed: the message in progress needs more bytes (or none is)
    echoed,     // message seq (sent at sent_ns) came back whole and identical
    mismatch,   // the echo is wrong: reason, and seq/offset where it was found; sticky
  };
  kind what = kind::need_more;
  std::size_t consumed = 0;      // bytes of the input used by this event
  std::uint64_t seq = 0;         // echoed, mismatch: the message (the one expected)
  std::uint64_t sent_ns = 0;     // echoed: its send time as given to make_next
  std::size_t offset = 0;        // mismatch: byte offset inside that message
  std::string_view reason{};     // mismatch: a phrase for the log
};

class echo_tracker {
 public:
  // message_template: from make_message_template(size); must outlive the tracker.
  // capacity: the most messages in flight (>= 1). framed: the transport marks message ends
  // (WebSocket): after each whole message the tracker expects end_message() before more bytes.
  // Unframed (TCP), messages follow each other in the byte stream.
  echo_tracker(std::span<const std::byte> message_template, unsigned capacity, bool framed)
      : _template(message_template), _sent_ns(std::max(capacity, 1u), 0), _framed(framed) {}

  unsigned capacity() const noexcept { return static_cast<unsigned>(_sent_ns.size()); }
  unsigned in_flight() const noexcept { return static_cast<unsigned>(_next_seq - _head_seq); }
  bool full() const noexcept { return in_flight() == capacity(); }
  std::uint64_t made() const noexcept { return _next_seq; }
  bool failed() const noexcept { return _failed.what == echo_event::kind::mismatch; }

  // Writes the next message into out (template size bytes) and remembers it as sent at now_ns.
  // Precondition: !full(). Returns its sequence number.
  std::uint64_t make_next(std::byte* out, std::uint64_t now_ns) noexcept {
    const std::uint64_t seq = make_next_prefix(out, now_ns);
    std::memcpy(out + prefix_bytes, _template.data() + prefix_bytes, _template.size() - prefix_bytes);
    return seq;
  }
  // The same, but writes only the prefix (prefix_bytes): the caller writes the rest of the
  // message from message_template() (a WebSocket client masks it on the way).
  std::uint64_t make_next_prefix(std::byte* prefix_out, std::uint64_t now_ns) noexcept {
    const std::uint64_t seq = _next_seq++;
    _sent_ns[seq % _sent_ns.size()] = now_ns;
    encode_prefix(seq, now_ns, prefix_out);
    return seq;
  }
  std::span<const std::byte> message_template() const noexcept { return _template; }

  // Checks the next received bytes (in order). Call again with the rest of the input after
  // each event; need_more always consumes everything that was passed.
  echo_event next(std::span<const std::byte> in) noexcept {
    if (failed()) return _failed;
    if (in.empty()) return {};
    if (_await_end) return fail("echo longer than the message sent", _template.size());
    if (in_flight() == 0) return fail("bytes arrived with no message in flight", 0);
    if (_offset == 0) encode_prefix(_head_seq, _sent_ns[_head_seq % _sent_ns.size()], _expected_prefix.data());
    const std::size_t take = std::min(in.size(), _template.size() - _offset);
    std::size_t at = 0;
    while (at < take) {
      const std::size_t pos = _offset + at;
      const std::byte* expected = pos < prefix_bytes ? _expected_prefix.data() + pos : _template.data() + pos;
      const std::size_t run = pos < prefix_bytes ? std::min(take - at, prefix_bytes - pos) : take - at;
      if (std::memcmp(in.data() + at, expected, run) != 0) {
        std::size_t i = 0;
        while (in[at + i] == expected[i]) ++i;
        return fail("echo differs from the message sent", pos + i);
      }
      at += run;
    }
    _offset += take;
    if (_offset < _template.size()) return {echo_event::kind::need_more, take};
    echo_event ev{echo_event::kind::echoed, take};
    ev.seq = _head_seq;
    ev.sent_ns = _sent_ns[_head_seq % _sent_ns.size()];
    ++_head_seq;
    _offset = 0;
    _await_end = _framed;
    return ev;
  }

  // Framed mode: the transport's message ended. A mismatch unless exactly one whole message
  // came since the previous end; otherwise need_more with nothing consumed.
  echo_event end_message() noexcept {
    if (failed()) return _failed;
    if (!_await_end) {
      if (in_flight() == 0) return fail("a message arrived with no message in flight", 0);
      return fail("echo shorter than the message sent", _offset);
    }
    _await_end = false;
    return {};
  }

 private:
  echo_event fail(std::string_view reason, std::size_t offset) noexcept {
    _failed = {echo_event::kind::mismatch, 0, _head_seq, 0, offset, reason};
    return _failed;
  }

  std::span<const std::byte> _template;
  std::vector<std::uint64_t> _sent_ns;   // ring: send time of message seq at seq % capacity
  std::uint64_t _next_seq = 0;           // the next message to make
  std::uint64_t _head_seq = 0;           // the oldest message in flight (== _next_seq: none)
  std::size_t _offset = 0;               // bytes of message _head_seq already checked
  bool _framed;
  bool _await_end = false;               // framed: a whole message was checked; end_message due
  std::array<std::byte, prefix_bytes> _expected_prefix{};
  echo_event _failed{};
};

}  // namespace postern::load
