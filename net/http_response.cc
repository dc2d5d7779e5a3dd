#include "net/http_response.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "net/http_syntax.h"

// Grammar followed (RFC 9112 §2-§6, RFC 9110 §5, §15), and where postern is stricter or
// more lenient than the letter:
// - Every line ends in CRLF; a bare LF or a CR not followed by LF is refused. No empty line
//   may come before the status-line (that allowance, RFC 9112 §2.2, is for servers).
// - status-line = HTTP-version SP status-code SP [reason-phrase]. HTTP-version is "HTTP/d.d",
//   and only HTTP/1.0 and HTTP/1.1 are accepted (another one is unsupported_version). The
//   status-code is three digits from 100 to 599. The SP after the code may be missing when
//   the reason is empty ("HTTP/1.1 200\r\n"), as many servers send it and no byte is
//   ambiguous. The reason-phrase's bytes are HTAB, SP, VCHAR or obs-text; it is kept as sent.
// - field-line = field-name ":" OWS field-value OWS, as in http_request: field-name is
//   1*tchar with nothing before the colon; obs-fold is refused; field-value bytes are HTAB,
//   SP, VCHAR or obs-text.
// - Content-Length: at most one field of 1 to 19 digits and never with Transfer-Encoding
//   (RFC 9112 §6.3 items 3 and 5: a response framed both ways is an attack or a bug). A
//   Transfer-Encoding whose final coding is not chunked is allowed in a response (the body
//   then runs to the close, §6.3 item 4). No Host, nothing about which statuses carry bodies.
//
// Determinism: the verdict depends only on the first max_head_bytes buffered bytes and on
// whether more than that were buffered, so a response split anywhere gets the same answer as
// the whole. The status-line's fixed part "HTTP/d.d ddd" and the byte after it are checked
// byte by byte as they arrive (a peer that answers TLS, SOCKS or anything but HTTP is refused
// at its first wrong byte); every other line is validated once, when its LF arrives.

namespace postern::net {
namespace {

using http_syntax::is;
using http_syntax::is_ows;
using http_syntax::iequals;
using http_syntax::trim_ows;

const char* find_lf(const char* from, std::size_t length) noexcept {
  return static_cast<const char*>(std::memchr(from, '\n', length));
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// "HTTP/1.1 200" is 12 bytes; the 13th (SP or the CR of an empty reason) is checked with them.
constexpr std::size_t fixed_part_bytes = 13;
constexpr std::size_t reason_offset = 13;

constexpr std::string_view reason_not_http = "response does not start with HTTP/";
constexpr std::string_view reason_version = "malformed HTTP version";
constexpr std::string_view reason_unsupported_version = "HTTP version not supported";
constexpr std::string_view reason_status_code = "malformed status code";
constexpr std::string_view reason_status_range = "status code out of range (100-599)";
constexpr std::string_view reason_status_line =
    "malformed status-line (expected HTTP-version SP status-code SP reason-phrase)";
constexpr std::string_view reason_phrase_char = "invalid character in reason phrase";
constexpr std::string_view reason_bare_lf = "line ends with LF without CR";
constexpr std::string_view reason_bare_cr = "CR not followed by LF";
constexpr std::string_view reason_first_field_ws = "whitespace before the first header field";
constexpr std::string_view reason_obs_fold = "obsolete line folding";
constexpr std::string_view reason_name_ws = "whitespace between header field name and colon";
constexpr std::string_view reason_name = "invalid character in header field name";
constexpr std::string_view reason_no_colon = "header line without colon";
constexpr std::string_view reason_value = "invalid character in header field value";
constexpr std::string_view reason_too_many = "too many header fields";
constexpr std::string_view reason_too_large = "response head too large";
constexpr std::string_view reason_length = "invalid Content-Length";
constexpr std::string_view reason_two_lengths = "repeated Content-Length";
constexpr std::string_view reason_length_and_te = "Content-Length with Transfer-Encoding";

// Digits allowed in Content-Length: 19 keeps every value below 2^63.
constexpr std::size_t max_content_length_digits = 19;

}  // namespace

std::string_view to_string(http_response_error error) noexcept {
  switch (error) {
    case http_response_error::none: return "no error";
    case http_response_error::malformed: return "malformed HTTP response";
    case http_response_error::unsupported_version: return "unsupported HTTP version";
    case http_response_error::too_large: return "HTTP response head too large";
  }
  return "unknown HTTP response error";
}

http_response_parse_result http_response_parser::fail(http_response_error error,
                                                      std::string_view reason) noexcept {
  _state.at = phase::failed;
  _state.error = {http_parse_status::error, 0, error, reason};
  return _state.error;
}

http_response_parse_result http_response_parser::parse(std::span<const char> buffered,
                                                       http_response_head& head) noexcept {
  if (_state.at == phase::failed) return _state.error;
  if (_state.at == phase::complete) return finish(buffered, head);

  const char* const data = buffered.data();
  const std::size_t window = std::min(buffered.size(), _limits.max_head_bytes);
  const auto more = [&]() noexcept -> http_response_parse_result {
    if (buffered.size() > _limits.max_head_bytes) {
      return fail(http_response_error::too_large, reason_too_large);
    }
    return {};
  };

  if (_state.at == phase::status_line) {
    if (_state.scan_from < fixed_part_bytes) {
      const http_response_parse_result checked = check_fixed_part(data, window);
      if (checked.status == http_parse_status::error) return checked;
      if (_state.scan_from < fixed_part_bytes) return more();
    }
    const char* lf = find_lf(data + _state.scan_from, window - _state.scan_from);
    if (lf == nullptr) {
      _state.scan_from = window;
      return more();
    }
    const http_response_parse_result checked = check_status_line({data, std::size_t(lf - data)});
    if (checked.status == http_parse_status::error) return checked;
    _state.line_start = _state.scan_from = std::size_t(lf - data) + 1;
    _state.at = phase::fields;
  }

  while (_state.line_start < window) {
    const std::size_t start = _state.line_start;
    const char* lf = find_lf(data + _state.scan_from, window - _state.scan_from);
    if (lf == nullptr) {
      _state.scan_from = window;
      break;
    }
    std::string_view line(data + start, std::size_t(lf - data) - start);
    if (line.empty() || line.back() != '\r') return fail(http_response_error::malformed, reason_bare_lf);
    line.remove_suffix(1);
    _state.line_start = _state.scan_from = std::size_t(lf - data) + 1;
    if (line.empty()) {
      _state.at = phase::complete;
      return finish(buffered, head);
    }
    const http_response_parse_result checked = check_field_line(line);
    if (checked.status == http_parse_status::error) return checked;
  }
  return more();
}

// Checks the bytes of "HTTP/d.d ddd" and the byte after it that arrived since the last call,
// in order, so the first wrong byte decides the verdict however the bytes were split.
http_response_parse_result http_response_parser::check_fixed_part(const char* data,
                                                                  std::size_t window) noexcept {
  constexpr auto malformed = http_response_error::malformed;
  const std::size_t end = std::min(window, fixed_part_bytes);
  for (std::size_t i = _state.scan_from; i < end; ++i) {
    const char c = data[i];
    if (i < 5) {
      if (c != "HTTP/"[i]) return fail(malformed, reason_not_http);
    } else if (i == 5 || i == 7) {
      if (!is_digit(c)) return fail(malformed, reason_version);
    } else if (i == 6) {
      if (c != '.') return fail(malformed, reason_version);
    } else if (i == 8) {
      if (c != ' ') return fail(malformed, is_digit(c) ? reason_version : reason_status_line);
      if (data[5] != '1' || (data[7] != '0' && data[7] != '1')) {
        return fail(http_response_error::unsupported_version, reason_unsupported_version);
      }
    } else if (i < 12) {
      if (!is_digit(c)) return fail(malformed, reason_status_code);
      if (i == 11 && (data[9] < '1' || data[9] > '5')) return fail(malformed, reason_status_range);
    } else if (c != ' ' && c != '\r') {
      if (c == '\n') return fail(malformed, reason_bare_lf);
      return fail(malformed, is_digit(c) ? reason_status_code : reason_status_line);
    }
  }
  _state.scan_from = end;
  return {};
}

// line: the status-line up to its LF; its fixed part is already valid.
http_response_parse_result http_response_parser::check_status_line(std::string_view line) noexcept {
  constexpr auto malformed = http_response_error::malformed;
  if (line.back() != '\r') return fail(malformed, reason_bare_lf);
  line.remove_suffix(1);
  if (line.size() == reason_offset - 1) return {};  // "HTTP/1.1 200" and CRLF
  if (line[reason_offset - 1] == '\r') return fail(malformed, reason_bare_cr);
  for (char c : line.substr(reason_offset)) {
    if (!is(c, http_syntax::value_char)) {
      return fail(malformed, c == '\r' ? reason_bare_cr : reason_phrase_char);
    }
  }
  return {};
}

// line: one field line without its CRLF, not empty.
http_response_parse_result http_response_parser::check_field_line(std::string_view line) noexcept {
  constexpr auto malformed = http_response_error::malformed;
  if (is_ows(line.front())) {
    return fail(malformed, _state.field_count == 0 ? reason_first_field_ws : reason_obs_fold);
  }
  std::size_t colon = 0;
  while (colon < line.size() && is(line[colon], http_syntax::tchar)) ++colon;
  if (colon == line.size()) return fail(malformed, reason_no_colon);
  if (line[colon] != ':') {
    if (is_ows(line[colon])) return fail(malformed, reason_name_ws);
    return fail(malformed, line[colon] == '\r' ? reason_bare_cr : reason_name);
  }
  if (colon == 0) return fail(malformed, reason_name);
  const std::string_view name = line.substr(0, colon);
  const std::string_view raw_value = line.substr(colon + 1);
  for (char c : raw_value) {
    if (!is(c, http_syntax::value_char)) return fail(malformed, c == '\r' ? reason_bare_cr : reason_value);
  }
  const std::size_t max_fields = std::min(_limits.max_headers, http_response_head::max_headers);
  if (++_state.field_count > max_fields) return fail(http_response_error::too_large, reason_too_many);

  if (iequals(name, "content-length")) {
    if (_state.seen_content_length) return fail(malformed, reason_two_lengths);
    if (_state.seen_transfer_encoding) return fail(malformed, reason_length_and_te);
    _state.seen_content_length = true;
    const std::string_view value = trim_ows(raw_value);
    if (value.empty() || value.size() > max_content_length_digits) return fail(malformed, reason_length);
    for (char c : value) {
      if (!is_digit(c)) return fail(malformed, reason_length);
    }
  } else if (iequals(name, "transfer-encoding")) {
    if (_state.seen_content_length) return fail(malformed, reason_length_and_te);
    _state.seen_transfer_encoding = true;
  }
  return {};
}

// Fills head from a head already validated up to _state.line_start (its end). Called again
// on each parse() after complete, so views always point into the latest buffer.
http_response_parse_result http_response_parser::finish(std::span<const char> buffered,
                                                        http_response_head& head) noexcept {
  const char* const data = buffered.data();
  const std::size_t head_end = _state.line_start;
  assert(buffered.size() >= head_end);
  const char* status_lf = find_lf(data, head_end);
  const std::string_view status_line(data, std::size_t(status_lf - data) - 1);
  head.version_minor = std::uint8_t(data[7] - '0');
  head.status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
  head.reason = status_line.substr(std::min(reason_offset, status_line.size()));
  head.header_count = 0;

  std::size_t pos = std::size_t(status_lf - data) + 1;
  while (true) {
    const char* lf = find_lf(data + pos, head_end - pos);
    const std::string_view line(data + pos, std::size_t(lf - data) - pos - 1);
    pos = std::size_t(lf - data) + 1;
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    head.headers[head.header_count++] = {line.substr(0, colon), trim_ows(line.substr(colon + 1))};
  }
  return {http_parse_status::complete, head_end, http_response_error::none, {}};
}

const http_header* http_response_head::find(std::string_view name) const noexcept {
  return http_syntax::find_field(std::span(headers.data(), header_count), name);
}

bool http_response_head::has_token(std::string_view name, std::string_view token) const noexcept {
  return http_syntax::has_field_token(std::span(headers.data(), header_count), name, token);
}

}  // namespace postern::net
