// http_request: a pure, resumable parser of HTTP/1.1 request heads (STYLE 3). No socket, no
// allocation, no logging. The caller keeps the bytes received so far in one contiguous buffer
// and calls parse() again with the longer buffer whenever more arrive; the parser resumes its
// scan where it stopped. Views in the result point into that buffer.
//
// Limits (DESIGN §8): the head may be at most max_head_bytes (default 8 KiB) and carry at most
// max_headers (64) header fields; beyond either the answer is 431. Malformed syntax, a missing
// or repeated Host, obsolete line folding, bare CR, and Transfer-Encoding with Content-Length
// all answer 400. A well-formed "HTTP/x.y" version other than HTTP/1.0 and HTTP/1.1 answers
// 505 (HTTP Version Not Supported); a malformed version answers 400. (408 is the caller's timer.)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace postern::net {

struct http_header {
  std::string_view name;
  std::string_view value;  // leading and trailing whitespace removed
};

struct http_request_head {
  static constexpr std::size_t max_headers = 64;

  std::string_view method;
  std::string_view target;     // request-target as sent (origin-form expected)
  std::uint8_t version_minor = 1;
  std::size_t header_count = 0;
  std::array<http_header, max_headers> headers{};

  // First field named name (ASCII case-insensitive), or nullptr.
  const http_header* find(std::string_view name) const noexcept;
  // True when a comma-separated field named name contains token (case-insensitive), as
  // "Connection: keep-alive, Upgrade" contains "upgrade".
  bool has_token(std::string_view name, std::string_view token) const noexcept;
  std::string_view path() const noexcept;   // target without the query
  std::string_view query() const noexcept;  // after '?', without it
};

enum class http_parse_status : std::uint8_t { need_more, complete, error };

struct http_parse_result {
  http_parse_status status = http_parse_status::need_more;
  std::size_t head_bytes = 0;      // complete: bytes of the head including the final CRLFCRLF
  int error_status = 0;            // error: 400, 431 or 505
  std::string_view error_reason;   // error: a short phrase for the log ("header line without colon")
};

class http_request_parser {
 public:
  struct limits {
    std::size_t max_head_bytes = 8 * 1024;
    std::size_t max_headers = http_request_head::max_headers;
  };

  http_request_parser() = default;
  explicit http_request_parser(limits l) : _limits(l) {}

  // buffered: every byte received so far on the connection (it only grows between calls, the
  // earlier bytes unchanged). On complete, head holds the request and bytes past head_bytes
  // belong to whatever follows the head.
  http_parse_result parse(std::span<const char> buffered, http_request_head& head) noexcept;
  void reset() noexcept { _state = {}; }

 private:
  enum class phase : std::uint8_t {
    start,         // nothing validated; an optional empty line may come first
    request_line,  // _state.line_start is where the request-line starts
    fields,        // the request-line is valid; _state.line_start begins the next field line
    complete,      // the head ended at _state.line_start; parse() refills head and says so
    failed,        // _state.error holds the verdict; parse() repeats it
  };
  struct state {
    phase at = phase::start;
    std::size_t request_line_start = 0;  // 0, or 2 after a leading empty line
    std::size_t line_start = 0;          // first byte not yet validated (a line start)
    std::size_t scan_from = 0;           // bytes from line_start to here hold no LF (and are
                                         // all tchar while method_end is 0)
    std::size_t method_end = 0;          // offset of the SP after the method, once seen
    std::size_t field_count = 0;
    std::uint8_t version_minor = 1;
    bool seen_host = false;
    bool seen_content_length = false;
    bool seen_transfer_encoding = false;
    bool chunked_last = false;  // the last Transfer-Encoding field ends with "chunked"
    http_parse_result error{};
  };

  http_parse_result fail(int status, std::string_view reason) noexcept;
  http_parse_result check_request_line(std::string_view line) noexcept;
  http_parse_result check_field_line(std::string_view line) noexcept;
  http_parse_result finish(std::span<const char> buffered, http_request_head& head) noexcept;

  limits _limits{};
  state _state{};
};

// Builds a complete HTTP/1.1 response with "Connection: close", a text/plain body that is the
// reason phrase and detail, and any extra header lines (each ending in CRLF).
std::string build_http_error_response(int status, std::string_view detail = {},
                                      std::string_view extra_headers = {});
std::string_view http_reason_phrase(int status) noexcept;

}  // namespace postern::net
