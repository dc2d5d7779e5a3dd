#include "net/http_request.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "net/http_syntax.h"

// Grammar followed (RFC 9112 §2-§5, RFC 9110 §5), and where postern is stricter than "MAY":
// - One empty line (CRLF) before the request-line is ignored (§2.2); a second one is refused.
// - Every line ends in CRLF; a bare LF or a CR not followed by LF is refused (no "lenient" LF).
// - request-line = method SP request-target SP HTTP-version, single spaces, nothing else.
//   method is 1*tchar. request-target must be origin-form (starts with '/'); its bytes must be
//   visible ASCII (0x21-0x7E) other than '#': no fragment, no raw UTF-8, no control bytes.
//   Characters that RFC 3986 forbids but browsers send unescaped in queries ('{', '|', ...)
//   are let through; callers match paths byte for byte and never decode them here.
// - HTTP-version is exactly "HTTP/1.1" or "HTTP/1.0"; any other "HTTP/d.d" answers 505.
// - field-line = field-name ":" OWS field-value OWS; field-name is 1*tchar with nothing before
//   the colon; a line starting with SP or HTAB (obs-fold) is refused; field-value bytes are
//   HTAB, SP, VCHAR or obs-text (0x80-0xFF).
// - Host: exactly one for HTTP/1.1 (at most one for 1.0); its value uses only the characters
//   of uri-host [":" port].
// - Content-Length: exactly one field of 1 to 19 digits; never with Transfer-Encoding; a
//   Transfer-Encoding whose final coding is not "chunked" is refused (RFC 9112 §6.3).
//
// Determinism: the verdict depends only on the first max_head_bytes buffered bytes and on
// whether more than that were buffered, so a request split anywhere gets the same answer as
// the whole. Lines are validated once each, when their LF arrives (the method also while it
// arrives, so a TLS ClientHello or other binary garbage is refused at its first byte).

namespace postern::net {
namespace {

using http_syntax::iequals;
using http_syntax::is;
using http_syntax::is_ows;
using http_syntax::tchar;
using http_syntax::trim_ows;
using http_syntax::value_char;

// The character classes only the request parser needs (tchar and value_char, shared with the
// response parser, are http_syntax's); is() is overloaded on the class's enum type.
enum request_char_class : std::uint8_t {
  target_char = 1,  // request-target bytes accepted (see the note above)
  host_char = 2,    // uri-host [":" port]: unreserved, sub-delims, '%', ':', '[', ']'
};

constexpr std::array<std::uint8_t, 256> make_request_char_table() {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t bits = 0;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c > 0x20 && c < 0x7F && c != '#') bits |= target_char;
    if (alnum || std::string_view("-._~!$&'()*+,;=%:[]").find(char(c)) != std::string_view::npos) {
      bits |= host_char;
    }
    table[std::size_t(c)] = bits;
  }
  return table;
}
constexpr std::array<std::uint8_t, 256> request_char_table = make_request_char_table();

constexpr bool is(char c, request_char_class cls) noexcept {
  return (request_char_table[static_cast<unsigned char>(c)] & cls) != 0;
}

// The last element of a comma-separated list, trimmed (empty elements are skipped).
std::string_view last_list_element(std::string_view list) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.rfind(',');
    const std::string_view element =
        trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
    if (!element.empty()) return element;
    if (comma == std::string_view::npos) break;
    list = list.substr(0, comma);
  }
  return {};
}

const char* find_lf(const char* from, std::size_t length) noexcept {
  return static_cast<const char*>(std::memchr(from, '\n', length));
}

// Reason phrases for the log and the error body; the status is chosen where they are used.
constexpr std::string_view reason_bare_lf = "line ends with LF without CR";
constexpr std::string_view reason_bare_cr = "CR not followed by LF";
constexpr std::string_view reason_empty_lines = "more than one empty line before the request-line";
constexpr std::string_view reason_method = "invalid character in method";
constexpr std::string_view reason_request_line =
    "malformed request-line (expected method SP request-target SP HTTP-version)";
constexpr std::string_view reason_origin_form = "request-target is not in origin-form";
constexpr std::string_view reason_target = "invalid character in request-target";
constexpr std::string_view reason_version = "malformed HTTP version";
constexpr std::string_view reason_unsupported_version = "HTTP version not supported";
constexpr std::string_view reason_first_field_ws = "whitespace before the first header field";
constexpr std::string_view reason_obs_fold = "obsolete line folding";
constexpr std::string_view reason_name_ws = "whitespace between header field name and colon";
constexpr std::string_view reason_name = "invalid character in header field name";
constexpr std::string_view reason_no_colon = "header line without colon";
constexpr std::string_view reason_value = "invalid character in header field value";
constexpr std::string_view reason_too_many = "too many header fields";
constexpr std::string_view reason_too_large = "request head too large";
constexpr std::string_view reason_no_host = "missing Host header";
constexpr std::string_view reason_two_hosts = "repeated Host header";
constexpr std::string_view reason_host = "invalid Host header";
constexpr std::string_view reason_length = "invalid Content-Length";
constexpr std::string_view reason_two_lengths = "repeated Content-Length";
constexpr std::string_view reason_length_and_te = "Content-Length with Transfer-Encoding";
constexpr std::string_view reason_te = "Transfer-Encoding does not end with chunked";

// Digits allowed in Content-Length: 19 keeps every value below 2^63.
constexpr std::size_t max_content_length_digits = 19;

}  // namespace

http_parse_result http_request_parser::fail(int status, std::string_view reason) noexcept {
  _state.at = phase::failed;
  _state.error = {http_parse_status::error, 0, status, reason};
  return _state.error;
}

http_parse_result http_request_parser::parse(std::span<const char> buffered,
                                             http_request_head& head) noexcept {
  if (_state.at == phase::failed) return _state.error;
  if (_state.at == phase::complete) return finish(buffered, head);

  const char* const data = buffered.data();
  const std::size_t window = std::min(buffered.size(), _limits.max_head_bytes);
  const auto more = [&]() noexcept -> http_parse_result {
    if (buffered.size() > _limits.max_head_bytes) return fail(431, reason_too_large);
    return {};
  };

  if (_state.at == phase::start) {
    if (window == 0) return more();
    if (data[0] == '\n') return fail(400, reason_bare_lf);
    if (data[0] == '\r') {
      if (window < 2) return more();
      if (data[1] != '\n') return fail(400, reason_bare_cr);
      _state.request_line_start = _state.line_start = _state.scan_from = 2;
    }
    _state.at = phase::request_line;
  }

  if (_state.at == phase::request_line) {
    const std::size_t start = _state.line_start;
    if (start < window && (data[start] == '\r' || data[start] == '\n')) {
      return fail(400, reason_empty_lines);
    }
    // The method is checked on whatever part of it has arrived, so garbage is refused early.
    if (_state.method_end == 0) {
      std::size_t i = std::max(start, _state.scan_from);
      while (i < window && is(data[i], tchar)) ++i;
      _state.scan_from = i;
      if (i == window) return more();
      if (data[i] != ' ' || i == start) return fail(400, reason_method);
      _state.method_end = i;
    }
    const char* lf = find_lf(data + _state.scan_from, window - _state.scan_from);
    if (lf == nullptr) {
      _state.scan_from = window;
      return more();
    }
    const http_parse_result checked = check_request_line({data + start, std::size_t(lf - data) - start});
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
    if (line.empty() || line.back() != '\r') return fail(400, reason_bare_lf);
    line.remove_suffix(1);
    _state.line_start = _state.scan_from = std::size_t(lf - data) + 1;
    if (line.empty()) {
      if (_state.version_minor == 1 && !_state.seen_host) return fail(400, reason_no_host);
      if (_state.seen_transfer_encoding && !_state.chunked_last) return fail(400, reason_te);
      _state.at = phase::complete;
      return finish(buffered, head);
    }
    const http_parse_result checked = check_field_line(line);
    if (checked.status == http_parse_status::error) return checked;
  }
  return more();
}

// line: the request-line without its LF; the method before the first SP is already valid.
http_parse_result http_request_parser::check_request_line(std::string_view line) noexcept {
  if (line.empty() || line.back() != '\r') return fail(400, reason_bare_lf);
  line.remove_suffix(1);
  std::string_view rest = line.substr(line.find(' ') + 1);
  if (rest.empty() || rest.front() == ' ') return fail(400, reason_request_line);
  if (rest.front() != '/') return fail(400, reason_origin_form);
  std::size_t i = 0;
  while (i < rest.size() && rest[i] != ' ') {
    if (!is(rest[i], target_char)) return fail(400, rest[i] == '\r' ? reason_bare_cr : reason_target);
    ++i;
  }
  if (i == rest.size()) return fail(400, reason_request_line);
  const std::string_view version = rest.substr(i + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) ||
      version[6] != '.' || !digit(version[7])) {
    return fail(400, reason_version);
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return fail(505, reason_unsupported_version);
  }
  _state.version_minor = std::uint8_t(version[7] - '0');
  return {};
}

// line: one field line without its CRLF, not empty.
http_parse_result http_request_parser::check_field_line(std::string_view line) noexcept {
  if (is_ows(line.front())) {
    return fail(400, _state.field_count == 0 ? reason_first_field_ws : reason_obs_fold);
  }
  std::size_t colon = 0;
  while (colon < line.size() && is(line[colon], tchar)) ++colon;
  if (colon == line.size()) return fail(400, reason_no_colon);
  if (line[colon] != ':') {
    if (is_ows(line[colon])) return fail(400, reason_name_ws);
    return fail(400, line[colon] == '\r' ? reason_bare_cr : reason_name);
  }
  if (colon == 0) return fail(400, reason_name);
  const std::string_view name = line.substr(0, colon);
  const std::string_view raw_value = line.substr(colon + 1);
  for (char c : raw_value) {
    if (!is(c, value_char)) return fail(400, c == '\r' ? reason_bare_cr : reason_value);
  }
  const std::size_t max_fields = std::min(_limits.max_headers, http_request_head::max_headers);
  if (++_state.field_count > max_fields) return fail(431, reason_too_many);

  const std::string_view value = trim_ows(raw_value);
  if (iequals(name, "host")) {
    if (_state.seen_host) return fail(400, reason_two_hosts);
    _state.seen_host = true;
    for (char c : value) {
      if (!is(c, host_char)) return fail(400, reason_host);
    }
  } else if (iequals(name, "content-length")) {
    if (_state.seen_content_length) return fail(400, reason_two_lengths);
    if (_state.seen_transfer_encoding) return fail(400, reason_length_and_te);
    _state.seen_content_length = true;
    if (value.empty() || value.size() > max_content_length_digits) return fail(400, reason_length);
    for (char c : value) {
      if (c < '0' || c > '9') return fail(400, reason_length);
    }
  } else if (iequals(name, "transfer-encoding")) {
    if (_state.seen_content_length) return fail(400, reason_length_and_te);
    _state.seen_transfer_encoding = true;
    _state.chunked_last = iequals(last_list_element(value), "chunked");
  }
  return {};
}

// Fills head from a head already validated up to _state.line_start (its end). Called again
// on each parse() after complete, so views always point into the latest buffer.
http_parse_result http_request_parser::finish(std::span<const char> buffered,
                                              http_request_head& head) noexcept {
  const char* const data = buffered.data();
  const std::size_t head_end = _state.line_start;
  assert(buffered.size() >= head_end);
  const std::string_view request_line(data + _state.request_line_start,
                                      head_end - _state.request_line_start);
  const std::size_t method_end = request_line.find(' ');
  const std::size_t target_end = request_line.find(' ', method_end + 1);
  head.method = request_line.substr(0, method_end);
  head.target = request_line.substr(method_end + 1, target_end - method_end - 1);
  head.version_minor = _state.version_minor;
  head.header_count = 0;

  std::size_t pos = std::size_t(find_lf(request_line.data(), request_line.size()) - data) + 1;
  while (true) {
    const char* lf = find_lf(data + pos, head_end - pos);
    const std::string_view line(data + pos, std::size_t(lf - data) - pos - 1);
    pos = std::size_t(lf - data) + 1;
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    head.headers[head.header_count++] = {line.substr(0, colon), trim_ows(line.substr(colon + 1))};
  }
  return {http_parse_status::complete, head_end, 0, {}};
}

const http_header* http_request_head::find(std::string_view name) const noexcept {
  return http_syntax::find_field(std::span(headers.data(), header_count), name);
}

bool http_request_head::has_token(std::string_view name, std::string_view token) const noexcept {
  return http_syntax::has_field_token(std::span(headers.data(), header_count), name, token);
}

std::string_view http_request_head::path() const noexcept {
  return target.substr(0, target.find('?'));
}

std::string_view http_request_head::query() const noexcept {
  const std::size_t question = target.find('?');
  return question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
}

std::string_view http_reason_phrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return {};
  }
}

// status is a three-digit code; an unlisted one gets an empty reason phrase (allowed by
// RFC 9112 §4) and a body that is the detail alone. extra_headers: whole lines, each ending
// in CRLF.
std::string build_http_error_response(int status, std::string_view detail,
                                      std::string_view extra_headers) {
  assert(status >= 100 && status <= 999);
  assert(extra_headers.empty() || extra_headers.ends_with("\r\n"));
  const std::string_view reason = http_reason_phrase(status);
  std::string body(reason);
  if (!reason.empty() && !detail.empty()) body += ": ";
  body += detail;
  body += '\n';

  std::string out;
  out.reserve(128 + extra_headers.size() + body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace postern::net
