// utf8: a byte-class DFA in the manner of Bjoern Hoehrmann's decoder, with tables written for
// postern. Each byte maps to one of 12 classes; (state, class) gives the next state. The states
// encode exactly what the remaining bytes of the current code point may be, so the first byte
// that cannot lead to valid UTF-8 (RFC 3629 §4) moves to reject_state at once.
#include "net/utf8.h"

#include <array>
#include <cstring>

namespace postern::net {
namespace {

// Byte classes. The split of 80..BF into three ranges is what lets the states after E0, ED,
// F0 and F4 refuse overlong forms, surrogates and code points past U+10FFFF on the second byte.
enum byte_class : std::uint8_t {
  ascii,         // 00..7F
  cont_low,      // 80..8F
  cont_mid,      // 90..9F
  cont_high,     // A0..BF
  invalid,       // C0, C1 (always overlong), F5..FF (past U+10FFFF or not UTF-8 at all)
  lead2,         // C2..DF
  lead3_e0,      // E0: second byte A0..BF (else overlong)
  lead3,         // E1..EC, EE, EF
  lead3_ed,      // ED: second byte 80..9F (else a surrogate U+D800..DFFF)
  lead4_f0,      // F0: second byte 90..BF (else overlong)
  lead4,         // F1..F3
  lead4_f4,      // F4: second byte 80..8F (else past U+10FFFF)
  class_count,
};

// States. accept (0) and reject (1) are fixed by the header.
enum : std::uint8_t {
  s_accept = 0,
  s_reject = 1,
  s_need1 = 2,    // one continuation byte (80..BF) left
  s_need2 = 3,    // two left, any 80..BF next
  s_need3 = 4,    // three left, any 80..BF next
  s_e0 = 5,       // after E0: A0..BF, then one more
  s_ed = 6,       // after ED: 80..9F, then one more
  s_f0 = 7,       // after F0: 90..BF, then two more
  s_f4 = 8,       // after F4: 80..8F, then two more
  state_count,
};

constexpr std::array<std::uint8_t, 256> make_class_table() {
  std::array<std::uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b) {
    std::uint8_t c = invalid;
    if (b <= 0x7F) c = ascii;
    else if (b <= 0x8F) c = cont_low;
    else if (b <= 0x9F) c = cont_mid;
    else if (b <= 0xBF) c = cont_high;
    else if (b <= 0xC1) c = invalid;
    else if (b <= 0xDF) c = lead2;
    else if (b == 0xE0) c = lead3_e0;
    else if (b == 0xED) c = lead3_ed;
    else if (b <= 0xEF) c = lead3;
    else if (b == 0xF0) c = lead4_f0;
    else if (b <= 0xF3) c = lead4;
    else if (b == 0xF4) c = lead4_f4;
    t[static_cast<std::size_t>(b)] = c;
  }
  return t;
}

constexpr std::array<std::uint8_t, 256> class_of = make_class_table();

constexpr std::uint8_t R = s_reject;

// transition[state][class]. Rows in state order; columns in byte_class order:
//   ascii  c80-8F  c90-9F  cA0-BF  invalid lead2   E0      lead3   ED      F0      lead4   F4
constexpr std::uint8_t transition[state_count][class_count] = {
    {s_accept, R, R, R, R, s_need1, s_e0, s_need2, s_ed, s_f0, s_need3, s_f4},  // accept
    {R, R, R, R, R, R, R, R, R, R, R, R},                                        // reject
    {R, s_accept, s_accept, s_accept, R, R, R, R, R, R, R, R},                   // need1
    {R, s_need1, s_need1, s_need1, R, R, R, R, R, R, R, R},                      // need2
    {R, s_need2, s_need2, s_need2, R, R, R, R, R, R, R, R},                      // need3
    {R, R, R, s_need1, R, R, R, R, R, R, R, R},                                  // e0
    {R, s_need1, s_need1, R, R, R, R, R, R, R, R, R},                            // ed
    {R, R, s_need2, s_need2, R, R, R, R, R, R, R, R},                            // f0
    {R, s_need2, R, R, R, R, R, R, R, R, R, R},                                  // f4
};

constexpr std::uint64_t high_bits = 0x8080808080808080ULL;

}  // namespace

bool utf8_validator::feed(std::span<const std::byte> bytes) noexcept {
  std::uint8_t state = _state;
  const std::byte* p = bytes.data();
  const std::byte* const end = p + bytes.size();
  while (p != end) {
    if (state == s_accept) {
      // ASCII fast path: only on a code point boundary, 8 bytes at a time.
      while (end - p >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (word & high_bits) break;
        p += 8;
      }
      if (p == end) break;
    }
    state = transition[state][class_of[static_cast<std::uint8_t>(*p)]];
    if (state == s_reject) break;
    ++p;
  }
  _state = state;
  return state != s_reject;
}

bool is_valid_utf8(std::span<const std::byte> bytes) noexcept {
  utf8_validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace postern::net
