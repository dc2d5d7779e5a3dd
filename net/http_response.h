// http_response: a pure, resumable parser of HTTP/1.1 response heads (STYLE 3), the client
// side's twin of http_request_parser. No socket, no allocation, no logging, no <expected> (so
// clang's libFuzzer build can use it). The caller keeps the bytes received so far in one
// contiguous buffer and calls parse() again with the longer buffer whenever more arrive; the
// parser resumes its scan where it stopped. Views in the result point into that buffer.
//
// Limits: the head may be at most max_head_bytes (default 8 KiB) and carry at most max_headers
// (64) header fields; beyond either the error is too_large. Malformed syntax, obsolete line
// folding, bare CR or LF, a repeated or invalid Content-Length, and Content-Length with
// Transfer-Encoding are malformed; a well-formed "HTTP/x.y" other than 1.0 and 1.1 is
// unsupported_version. There is no status to answer: the caller (a gateway talking to a
// backend) reports the reason phrase and typically answers its own client 502.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/http_request.h"  // http_header, http_parse_status

namespace postern::net {

struct http_response_head {
  static constexpr std::size_t max_headers = 64;

  std::uint8_t version_minor = 1;
  int status = 0;               // 100-599
  std::string_view reason;      // reason-phrase as sent, possibly empty (RFC 9112 §4)
  std::size_t header_count = 0;
  std::array<http_header, max_headers> headers{};

  // First field named name (ASCII case-insensitive), or nullptr.
  const http_header* find(std::string_view name) const noexcept;
  // True when a comma-separated field named name contains token (case-insensitive), as
  // "Connection: keep-alive, Upgrade" contains "upgrade".
  bool has_token(std::string_view name, std::string_view token) const noexcept;
  // An interim 1xx (100 Continue, 103 Early Hints, ...) that a final response or a 101
  // follows (RFC 9110 §15.2): the caller skips it and parses the bytes after it anew.
  bool interim() const noexcept { return status >= 100 && status <= 199 && status != 101; }
};

enum class http_response_error : std::uint8_t {
  none,                 // not an error (need_more or complete)
  malformed,            // the bytes are not a valid HTTP/1.1 response head
  unsupported_version,  // "HTTP/d.d" other than HTTP/1.0 and HTTP/1.1
  too_large,            // past max_head_bytes or max_headers
};

std::string_view to_string(http_response_error error) noexcept;

struct http_response_parse_result {
  http_parse_status status = http_parse_status::need_more;
  std::size_t head_bytes = 0;                        // complete: bytes of the head incl. CRLFCRLF
  http_response_error error = http_response_error::none;
  std::string_view error_reason;                     // error: a short phrase for the log
};

class http_response_parser {
 public:
  struct limits {
    std::size_t max_head_bytes = 8 * 1024;
    std::size_t max_headers = http_response_head::max_headers;  // clamped to 64
  };

  http_response_parser() = default;
  explicit http_response_parser(limits l) : _limits(l) {}

  // buffered: every byte received so far for this response (it only grows between calls, the
  // earlier bytes unchanged; it may move). On complete, head holds the response and bytes past
  // head_bytes belong to whatever follows the head (a body, or WebSocket frames after a 101).
  // complete and error are final: later calls repeat them (complete refills head from the
  // latest buffer). After an interim 1xx, reset() and parse the bytes after head_bytes.
  http_response_parse_result parse(std::span<const char> buffered,
                                   http_response_head& head) noexcept;
  void reset() noexcept { _state = {}; }

 private:
  enum class phase : std::uint8_t {
    status_line,  // _state.scan_from bytes of the status-line's fixed part are valid
    fields,       // the status-line is valid; _state.line_start begins the next field line
    complete,     // the head ended at _state.line_start; parse() refills head and says so
    failed,       // _state.error holds the verdict; parse() repeats it
  };
  struct state {
    phase at = phase::status_line;
    std::size_t line_start = 0;  // first byte not yet validated (a line start)
    std::size_t scan_from = 0;   // bytes from line_start to here hold no LF (in status_line:
                                 // the valid prefix of "HTTP/d.d ddd" and the byte after it)
    std::size_t field_count = 0;
    bool seen_content_length = false;
    bool seen_transfer_encoding = false;
    http_response_parse_result error{};
  };

  http_response_parse_result fail(http_response_error error, std::string_view reason) noexcept;
  http_response_parse_result check_fixed_part(const char* data, std::size_t window) noexcept;
  http_response_parse_result check_status_line(std::string_view line) noexcept;
  http_response_parse_result check_field_line(std::string_view line) noexcept;
  http_response_parse_result finish(std::span<const char> buffered,
                                    http_response_head& head) noexcept;

  limits _limits{};
  state _state{};
};

}  // namespace postern::net
