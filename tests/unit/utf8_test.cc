// utf8_validator: Autobahn-style cases (Autobahn TestSuite §6), the exact byte at which each
// bad input is refused, every split of the input, and an exhaustive comparison with an
// independent reference written in terms of code point ranges.
#include "net/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace postern::net {
namespace {

using bytes = std::vector<std::byte>;

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

bytes cat(bytes a, const bytes& rest) {
  a.insert(a.end(), rest.begin(), rest.end());
  return a;
}

// Feeds one byte at a time. Returns the index of the byte on which feed() first returned
// false, or -1; complete is the state after the last byte.
struct byte_walk {
  long fail_at = -1;
  bool complete = false;
  bool stayed_failed = true;  // once failed, every later feed also returned false
};

byte_walk walk(const bytes& in) {
  utf8_validator v;
  byte_walk w;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const bool ok = v.feed(std::span(in).subspan(i, 1));
    if (!ok && w.fail_at < 0) w.fail_at = static_cast<long>(i);
    if (ok && w.fail_at >= 0) w.stayed_failed = false;
  }
  if (w.fail_at >= 0 && (!v.failed() || v.feed(b({'a'})))) w.stayed_failed = false;
  w.complete = v.complete();
  return w;
}

// Reference: the bytes of a partial sequence fix the high bits of the code point, so the
// code points still reachable form the range [lo, hi]. The prefix is possible iff that range
// meets the code points of this length (no overlong form, <= U+10FFFF) outside the
// surrogates. A different formulation from the DFA's byte classes.
bool reachable(std::uint32_t value, int length, int known) {
  static constexpr std::uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  static constexpr std::uint32_t max_cp[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
  const int free_bits = 6 * (length - known);
  const std::uint32_t lo = value << free_bits;
  const std::uint32_t hi = lo | ((1u << free_bits) - 1);
  const std::uint32_t a = std::max(lo, min_cp[length]);
  const std::uint32_t z = std::min(hi, max_cp[length]);
  if (a > z) return false;
  return !(a >= 0xD800 && z <= 0xDFFF);
}

byte_walk reference(const bytes& in) {
  byte_walk r;
  std::size_t i = 0;
  while (i < in.size()) {
    const auto lead = static_cast<std::uint8_t>(in[i]);
    int length;
    std::uint32_t value;
    if (lead < 0x80) { ++i; continue; }
    if ((lead & 0xE0) == 0xC0) { length = 2; value = lead & 0x1F; }
    else if ((lead & 0xF0) == 0xE0) { length = 3; value = lead & 0x0F; }
    else if ((lead & 0xF8) == 0xF0) { length = 4; value = lead & 0x07; }
    else { r.fail_at = static_cast<long>(i); return r; }
    for (int known = 1;; ++known) {
      if (!reachable(value, length, known)) { r.fail_at = static_cast<long>(i); return r; }
      if (known == length) break;
      if (++i == in.size()) return r;  // valid so far, incomplete
      const auto c = static_cast<std::uint8_t>(in[i]);
      if ((c & 0xC0) != 0x80) { r.fail_at = static_cast<long>(i); return r; }
      value = (value << 6) | (c & 0x3F);
    }
    ++i;
  }
  r.complete = true;
  return r;
}

TEST(Utf8, ValidSequencesAtEveryBoundary) {
  const std::vector<bytes> cases = {
      b({}),
      s("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!"),  // Autobahn 6.2
      b({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5}),     // κόσμε
      b({0x00}), b({0x7F}),                      // U+0000, U+007F
      b({0xC2, 0x80}), b({0xDF, 0xBF}),          // U+0080, U+07FF
      b({0xE0, 0xA0, 0x80}), b({0xED, 0x9F, 0xBF}),  // U+0800, U+D7FF
      b({0xEE, 0x80, 0x80}), b({0xEF, 0xBF, 0xBD}),  // U+E000, U+FFFD
      b({0xEF, 0xBF, 0xBF}),                     // U+FFFF
      b({0xF0, 0x90, 0x80, 0x80}),               // U+10000
      b({0xF1, 0x80, 0x80, 0x80}), b({0xF3, 0xBF, 0xBF, 0xBF}),
      b({0xF4, 0x8F, 0xBF, 0xBF}),               // U+10FFFF
      s("\xF0\x9F\x98\x80 smile \xE2\x82\xAC euro"),
  };
  for (const bytes& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c));
    EXPECT_TRUE(is_valid_utf8(c));
    const byte_walk w = walk(c);
    EXPECT_EQ(w.fail_at, -1);
    EXPECT_TRUE(w.complete);
    for (std::size_t k = 0; k <= c.size(); ++k) {
      utf8_validator v;
      EXPECT_TRUE(v.feed(std::span(c).first(k)));
      EXPECT_TRUE(v.feed(std::span(c).subspan(k)));
      EXPECT_TRUE(v.complete()) << "split at " << k;
    }
  }
}

struct bad_case {
  const char* name;
  bytes in;
  long fail_at;  // index of the first byte that makes the input impossible
};

TEST(Utf8, InvalidInputFailsAtTheExactByte) {
  const std::vector<bad_case> cases = {
      {"lone continuation 80", b({0x80}), 0},
      {"lone continuation BF", b({0x41, 0xBF}), 1},
      {"extra continuation", b({0xC2, 0x80, 0x80}), 2},
      {"overlong 2-byte NUL", b({0xC0, 0x80}), 0},
      {"overlong 2-byte max", b({0xC1, 0xBF}), 0},
      {"overlong 2-byte slash", b({0xC0, 0xAF}), 0},
      {"overlong 3-byte NUL", b({0xE0, 0x80, 0x80}), 1},
      {"overlong 3-byte max", b({0xE0, 0x9F, 0xBF}), 1},
      {"overlong 3-byte slash", b({0xE0, 0x80, 0xAF}), 1},
      {"overlong 4-byte NUL", b({0xF0, 0x80, 0x80, 0x80}), 1},
      {"overlong 4-byte max", b({0xF0, 0x8F, 0xBF, 0xBF}), 1},
      {"overlong 4-byte slash", b({0xF0, 0x80, 0x80, 0xAF}), 1},
      {"5-byte form", b({0xF8, 0x88, 0x80, 0x80, 0x80}), 0},
      {"6-byte form", b({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}), 0},
      {"FE", b({0xFE}), 0},
      {"FF", b({0x61, 0xFF}), 1},
      {"surrogate D800", b({0xED, 0xA0, 0x80}), 1},
      {"surrogate DB7F", b({0xED, 0xAD, 0xBF}), 1},
      {"surrogate DB80", b({0xED, 0xAE, 0x80}), 1},
      {"surrogate DBFF", b({0xED, 0xAF, 0xBF}), 1},
      {"surrogate DC00", b({0xED, 0xB0, 0x80}), 1},
      {"surrogate DFFF", b({0xED, 0xBF, 0xBF}), 1},
      {"surrogate pair", b({0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80}), 1},
      {"U+110000", b({0xF4, 0x90, 0x80, 0x80}), 1},
      {"F5 lead", b({0xF5, 0x80, 0x80, 0x80}), 0},
      {"F7 BF BF BF", b({0xF7, 0xBF, 0xBF, 0xBF}), 0},
      {"2-byte lead then ASCII", b({0xC2, 0x41}), 1},
      {"3-byte lead, 1 continuation, ASCII", b({0xE1, 0x80, 0x41}), 2},
      {"4-byte lead, 2 continuations, lead", b({0xF1, 0x80, 0x80, 0xC2}), 3},
      {"lead after lead", b({0xE1, 0xC2, 0x80}), 1},
      // Autobahn 6.4.1: κόσμε, then U+110000, then "edited".
      {"autobahn 6.4.1", cat(b({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5,
                                0xF4, 0x90, 0x80, 0x80}), s("edited")), 12},
      // Autobahn 6.4.3: κόσμε, then a surrogate.
      {"autobahn 6.4.3", cat(b({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5,
                                0xED, 0xA0, 0x80}), s("edited")), 12},
  };
  for (const bad_case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(is_valid_utf8(c.in));
    const byte_walk w = walk(c.in);
    EXPECT_EQ(w.fail_at, c.fail_at);
    EXPECT_TRUE(w.stayed_failed);
    EXPECT_FALSE(w.complete);
    EXPECT_EQ(reference(c.in).fail_at, c.fail_at) << "the reference disagrees with the table";
    for (std::size_t k = 0; k <= c.in.size(); ++k) {
      utf8_validator v;
      const bool first = v.feed(std::span(c.in).first(k));
      EXPECT_EQ(first, static_cast<long>(k) <= c.fail_at) << "split at " << k;
      EXPECT_FALSE(v.feed(std::span(c.in).subspan(k))) << "split at " << k;
      EXPECT_TRUE(v.failed());
    }
  }
}

TEST(Utf8, TruncatedSequencesArePrefixesButNotComplete) {
  const std::vector<bytes> cases = {
      b({0xC2}), b({0xDF}), b({0xE0, 0xA0}), b({0xE1, 0x80}), b({0xED, 0x9F}),
      b({0xF0, 0x90}), b({0xF1, 0x80, 0x80}), b({0xF4, 0x8F, 0xBF}), cat(s("abc"), b({0xE2, 0x82})),
  };
  for (const bytes& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c));
    utf8_validator v;
    EXPECT_TRUE(v.feed(c));
    EXPECT_FALSE(v.failed());
    EXPECT_FALSE(v.complete());
    EXPECT_FALSE(is_valid_utf8(c));
  }
}

TEST(Utf8, ResetAcceptsAgainAfterFailure) {
  utf8_validator v;
  EXPECT_FALSE(v.feed(b({0xC0})));
  EXPECT_TRUE(v.failed());
  EXPECT_FALSE(v.feed(s("plain")));
  v.reset();
  EXPECT_TRUE(v.feed(s("plain")));
  EXPECT_TRUE(v.complete());
}

// The 8-byte ASCII path must hand over to the DFA at any offset: a bad byte, a multi-byte
// character and a truncated tail at every position of a 64-byte ASCII run.
TEST(Utf8, AsciiFastPathHandsOverAtEveryOffset) {
  for (std::size_t pos = 0; pos < 64; ++pos) {
    bytes bad(64, std::byte{'x'});
    bad[pos] = std::byte{0x80};
    utf8_validator v;
    EXPECT_FALSE(v.feed(bad)) << pos;
    EXPECT_EQ(walk(bad).fail_at, static_cast<long>(pos));

    bytes good(64, std::byte{'x'});
    const bytes euro = b({0xE2, 0x82, 0xAC});
    good.insert(good.begin() + static_cast<long>(pos), euro.begin(), euro.end());
    EXPECT_TRUE(is_valid_utf8(good)) << pos;

    bytes tail(pos, std::byte{'y'});
    tail.push_back(std::byte{0xF0});
    tail.push_back(std::byte{0x9F});
    utf8_validator t;
    EXPECT_TRUE(t.feed(tail)) << pos;
    EXPECT_FALSE(t.complete()) << pos;
    EXPECT_TRUE(t.feed(b({0x98, 0x80})));
    EXPECT_TRUE(t.complete()) << pos;
  }
}

TEST(Utf8, AllStringsOfUpToThreeBytesMatchTheReference) {
  long valid_count[4] = {};
  bytes in;
  for (int len = 1; len <= 3; ++len) {
    const std::uint32_t total = 1u << (8 * len);
    for (std::uint32_t n = 0; n < total; ++n) {
      in.resize(static_cast<std::size_t>(len));
      for (int i = 0; i < len; ++i) in[static_cast<std::size_t>(i)] = std::byte(n >> (8 * i));
      const byte_walk want = reference(in);
      const byte_walk got = walk(in);
      ASSERT_EQ(got.fail_at, want.fail_at) << testing::PrintToString(in);
      ASSERT_EQ(got.complete, want.complete) << testing::PrintToString(in);
      ASSERT_EQ(is_valid_utf8(in), want.complete) << testing::PrintToString(in);
      if (want.complete) ++valid_count[len];
    }
  }
  // Valid strings: 128; 128^2 + 1920; 128^3 + 2*128*1920 + 61440 (U+0800..FFFF minus 2048
  // surrogates).
  EXPECT_EQ(valid_count[1], 128);
  EXPECT_EQ(valid_count[2], 128 * 128 + 1920);
  EXPECT_EQ(valid_count[3], 128L * 128 * 128 + 2L * 128 * 1920 + 61440);
}

TEST(Utf8, FourByteStringsOfBoundaryBytesMatchTheReference) {
  const int edges[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                       0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  long valid = 0;
  for (int lead = 0; lead < 256; ++lead) {
    for (int x : edges) {
      for (int y : edges) {
        for (int z : edges) {
          const bytes in = b({lead, x, y, z});
          const byte_walk want = reference(in);
          const byte_walk got = walk(in);
          ASSERT_EQ(got.fail_at, want.fail_at) << testing::PrintToString(in);
          ASSERT_EQ(got.complete, want.complete) << testing::PrintToString(in);
          utf8_validator split;  // and fed in two halves, for the state carried over
          split.feed(std::span(in).first(2));
          split.feed(std::span(in).subspan(2));
          ASSERT_EQ(split.complete(), want.complete) << testing::PrintToString(in);
          valid += want.complete ? 1 : 0;
        }
      }
    }
  }
  EXPECT_GT(valid, 0);
}

}  // namespace
}  // namespace postern::net
