// http_syntax: the small pieces of RFC 9110 field syntax that more than one HTTP/1.1 parser
// needs (character classes, case-insensitive names, comma lists). Inline and pure: no
// allocation, no state, so a header-only use keeps a parser's fuzz target free of other .cc
// files. net/http_request.cc and net/http_response.cc both use it, so the two parsers agree
// on every token and field-value byte; classes only one parser needs (the request-target's and
// Host's characters) stay in that parser's .cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/http_request.h"

namespace postern::net::http_syntax {

enum char_class : std::uint8_t {
  tchar = 1,       // RFC 9110 §5.6.2 token characters
  value_char = 2,  // field-value and reason-phrase bytes: HTAB, SP, VCHAR, obs-text (0x80-0xFF)
};

constexpr std::array<std::uint8_t, 256> make_char_table() {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t bits = 0;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos) {
      bits |= tchar;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7F)) bits |= value_char;
    table[std::size_t(c)] = bits;
  }
  return table;
}
inline constexpr std::array<std::uint8_t, 256> char_table = make_char_table();

constexpr bool is(char c, char_class cls) noexcept {
  return (char_table[static_cast<unsigned char>(c)] & cls) != 0;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// ASCII case-insensitive equality, as field names and most tokens compare.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trim_ows(std::string_view text) noexcept {
  while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

// The first field named name (case-insensitive), or nullptr.
inline const http_header* find_field(std::span<const http_header> fields,
                                     std::string_view name) noexcept {
  for (const http_header& field : fields) {
    if (iequals(field.name, name)) return &field;
  }
  return nullptr;
}

// True when some field named name holds token (case-insensitive) as one element of its comma
// list; empty elements are skipped, so an empty token is never found.
inline bool has_field_token(std::span<const http_header> fields, std::string_view name,
                            std::string_view token) noexcept {
  for (const http_header& field : fields) {
    if (!iequals(field.name, name)) continue;
    std::string_view list = field.value;
    while (true) {
      const std::size_t comma = list.find(',');
      const std::string_view element = trim_ows(list.substr(0, comma));
      if (!element.empty() && iequals(element, token)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

}  // namespace postern::net::http_syntax
