// utf8_validator: incremental UTF-8 validation (RFC 3629) for WebSocket text messages and close
// reasons. It fails on the first byte that makes the input impossible to complete as valid
// UTF-8 (overlong forms, surrogates, code points past U+10FFFF), so a bad message is refused as
// soon as the offending byte arrives, whatever the fragmentation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace postern::net {

class utf8_validator {
 public:
  // False as soon as the bytes seen so far are not a prefix of valid UTF-8; stays false.
  bool feed(std::span<const std::byte> bytes) noexcept;
  // True when everything fed so far is valid and ends on a code point boundary.
  bool complete() const noexcept { return _state == accept_state; }
  bool failed() const noexcept { return _state == reject_state; }
  void reset() noexcept { _state = accept_state; }

 private:
  static constexpr std::uint8_t accept_state = 0;
  static constexpr std::uint8_t reject_state = 1;
  std::uint8_t _state = accept_state;
};

// Whole-buffer check.
bool is_valid_utf8(std::span<const std::byte> bytes) noexcept;

}  // namespace postern::net
