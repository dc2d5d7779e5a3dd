#include "net/http_request.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace postern::net {
namespace {

using limits = http_request_parser::limits;
using namespace std::string_view_literals;
using field = std::pair<std::string, std::string>;

// What one parse() call answered, copied out of the buffer so it outlives it.
struct verdict {
  http_parse_status status = http_parse_status::need_more;
  std::size_t head_bytes = 0;
  int error_status = 0;
  std::string reason;
  std::string method;
  std::string target;
  int version_minor = -1;
  std::vector<field> headers;
  std::size_t decided_at = 0;  // parse_everywhere: bytes buffered when fed byte by byte
  bool operator==(const verdict& o) const {
    return status == o.status && head_bytes == o.head_bytes && error_status == o.error_status &&
           reason == o.reason && method == o.method && target == o.target &&
           version_minor == o.version_minor && headers == o.headers;
  }
};

std::ostream& operator<<(std::ostream& out, const verdict& v) {
  static constexpr const char* names[] = {"need_more", "complete", "error"};
  out << names[int(v.status)] << " head_bytes=" << v.head_bytes << " " << v.error_status << " '"
      << v.reason << "' " << v.method << " " << v.target << " minor=" << v.version_minor;
  for (const auto& [n, value] : v.headers) out << " [" << n << ": " << value << "]";
  return out;
}

// A fresh heap copy: every call sees the bytes at a new address, as after a buffer grows.
verdict run(http_request_parser& parser, std::string_view bytes) {
  const std::vector<char> buffer(bytes.begin(), bytes.end());
  http_request_head head;
  const http_parse_result r = parser.parse(buffer, head);
  verdict v;
  v.status = r.status;
  v.head_bytes = r.head_bytes;
  v.error_status = r.error_status;
  v.reason = std::string(r.error_reason);
  if (r.status == http_parse_status::complete) {
    v.method = std::string(head.method);
    v.target = std::string(head.target);
    v.version_minor = head.version_minor;
    for (std::size_t i = 0; i < head.header_count; ++i) {
      v.headers.emplace_back(std::string(head.headers[i].name), std::string(head.headers[i].value));
    }
  }
  return v;
}

// Parses text whole, then split at every offset (prefix, then the whole on the same parser),
// then growing byte by byte; every way must reach the whole's verdict. Returns that verdict
// with decided_at set to the number of bytes the byte-by-byte feed needed to reach it.
verdict parse_everywhere(std::string_view text, limits l = {}) {
  http_request_parser whole_parser(l);
  verdict whole = run(whole_parser, text);
  for (std::size_t split = 0; split <= text.size() && !::testing::Test::HasFailure(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    http_request_parser parser(l);
    const verdict prefix = run(parser, text.substr(0, split));
    if (whole.status == http_parse_status::complete && split >= whole.head_bytes) {
      EXPECT_EQ(prefix, whole);
    } else if (prefix.status != http_parse_status::need_more) {
      EXPECT_EQ(whole.status, http_parse_status::error);
      EXPECT_EQ(prefix, whole);
    }
    EXPECT_EQ(run(parser, text), whole);
  }
  http_request_parser parser(l);
  whole.decided_at = text.size() + 1;
  for (std::size_t size = 1; size <= text.size(); ++size) {
    const verdict v = run(parser, text.substr(0, size));
    if (v.status == http_parse_status::need_more) continue;
    EXPECT_EQ(v, whole) << "byte by byte, " << size << " bytes";
    whole.decided_at = size;
    break;
  }
  if (whole.status == http_parse_status::complete) {
    EXPECT_EQ(whole.decided_at, whole.head_bytes);
  } else if (whole.status == http_parse_status::need_more) {
    EXPECT_EQ(whole.decided_at, text.size() + 1);
  }
  return whole;
}

void expect_error(std::string_view text, int status, std::string_view reason, limits l = {}) {
  SCOPED_TRACE(std::string(text.substr(0, 120)));
  const verdict v = parse_everywhere(text, l);
  EXPECT_EQ(v.status, http_parse_status::error);
  EXPECT_EQ(v.error_status, status);
  EXPECT_EQ(v.reason, reason);
}

constexpr std::string_view browser_upgrade =
    "GET /app1/chat?room=7&user=ann HTTP/1.1\r\n"
    "Host: gateway.example.com:8443\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://app.example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

TEST(http_request_parser, parses_a_browser_upgrade_request_at_every_split) {
  const verdict v = parse_everywhere(browser_upgrade);
  ASSERT_EQ(v.status, http_parse_status::complete);
  EXPECT_EQ(v.head_bytes, browser_upgrade.size());
  EXPECT_EQ(v.method, "GET");
  EXPECT_EQ(v.target, "/app1/chat?room=7&user=ann");
  EXPECT_EQ(v.version_minor, 1);
  ASSERT_EQ(v.headers.size(), 12u);
  EXPECT_EQ(v.headers[0], field("Host", "gateway.example.com:8443"));
  EXPECT_EQ(v.headers[5].second, "websocket");
  EXPECT_EQ(v.headers[11], field(
                               "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"));
}

TEST(http_request_parser, head_accessors) {
  http_request_parser parser;
  http_request_head head;
  const std::string request =
      "GET /a/b?x=1?y HTTP/1.1\r\nHost: h\r\nConnection: keep-alive ,\tUpgrade\r\n"
      "connection: close\r\nX-Empty:\r\nUpgrade: websocket-extra, , WebSocket\r\n\r\n";
  ASSERT_EQ(parser.parse(request, head).status, http_parse_status::complete);
  EXPECT_EQ(head.path(), "/a/b");
  EXPECT_EQ(head.query(), "x=1?y");
  ASSERT_NE(head.find("HOST"), nullptr);
  EXPECT_EQ(head.find("host")->value, "h");
  EXPECT_EQ(head.find("connection")->value, "keep-alive ,\tUpgrade");  // the first of two
  EXPECT_EQ(head.find("x-empty")->value, "");
  EXPECT_EQ(head.find("Origin"), nullptr);
  EXPECT_EQ(head.find("Hos"), nullptr);
  EXPECT_TRUE(head.has_token("Connection", "upgrade"));
  EXPECT_TRUE(head.has_token("CONNECTION", "close"));  // in the second Connection field
  EXPECT_TRUE(head.has_token("connection", "Keep-Alive"));
  EXPECT_FALSE(head.has_token("Connection", "upgr"));
  EXPECT_FALSE(head.has_token("Connection", ""));
  EXPECT_FALSE(head.has_token("Upgrade", ""));  // its ", ," holds an empty element, not a token
  EXPECT_TRUE(head.has_token("Upgrade", "websocket"));  // not fooled by websocket-extra
  EXPECT_FALSE(head.has_token("Upgrade", "websocket-ext"));
  EXPECT_FALSE(head.has_token("Origin", "x"));

  http_request_head no_query;
  http_request_parser second;
  ASSERT_EQ(second.parse(std::string_view("GET /p HTTP/1.0\r\n\r\n"), no_query).status,
            http_parse_status::complete);
  EXPECT_EQ(no_query.path(), "/p");
  EXPECT_EQ(no_query.query(), "");
  EXPECT_EQ(no_query.version_minor, 0);
  EXPECT_EQ(no_query.header_count, 0u);
}

TEST(http_request_parser, accepts_well_formed_variants) {
  // One leading empty line is ignored (RFC 9112 §2.2) and counted in head_bytes.
  verdict v = parse_everywhere("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(v.status, http_parse_status::complete);
  EXPECT_EQ(v.head_bytes, 29u);
  EXPECT_EQ(v.method, "GET");

  // HTTP/1.0 needs no Host.
  v = parse_everywhere("GET /x HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v.status, http_parse_status::complete);
  EXPECT_EQ(v.version_minor, 0);
  EXPECT_TRUE(v.headers.empty());

  // Whitespace around values is trimmed; HTAB, SP and obs-text stay inside; any tchar method.
  v = parse_everywhere(
      "M-SEARCH! /%7e?q={a|b} HTTP/1.1\r\nHost:\t[::1]:80 \r\nX-A:   a \t b\t \r\n"
      "X-Latin: caf\xc3\xa9\r\nX-Empty:   \r\n\r\n");
  ASSERT_EQ(v.status, http_parse_status::complete);
  EXPECT_EQ(v.method, "M-SEARCH!");
  EXPECT_EQ(v.target, "/%7e?q={a|b}");
  ASSERT_EQ(v.headers.size(), 4u);
  EXPECT_EQ(v.headers[0].second, "[::1]:80");
  EXPECT_EQ(v.headers[1].second, "a \t b");
  EXPECT_EQ(v.headers[2].second, "caf\xc3\xa9");
  EXPECT_EQ(v.headers[3].second, "");

  // An empty Host is allowed (RFC 9112 §3.2); Content-Length and Transfer-Encoding alone.
  EXPECT_EQ(parse_everywhere("GET / HTTP/1.1\r\nHost:\r\n\r\n").status, http_parse_status::complete);
  EXPECT_EQ(parse_everywhere("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n").status,
            http_parse_status::complete);
  EXPECT_EQ(parse_everywhere("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").status,
            http_parse_status::complete);
}

TEST(http_request_parser, leaves_bytes_after_the_head_to_the_caller) {
  const std::string_view text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x85" "abcd\r\n\r\n";
  const verdict v = parse_everywhere(text);
  ASSERT_EQ(v.status, http_parse_status::complete);
  EXPECT_EQ(v.head_bytes, 27u);
  EXPECT_EQ(text.substr(v.head_bytes), "\x81\x85" "abcd\r\n\r\n");
}

TEST(http_request_parser, answers_again_after_complete_and_after_error) {
  http_request_parser parser;
  http_request_head head;
  std::string buffer = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nextra";
  ASSERT_EQ(parser.parse(buffer, head).status, http_parse_status::complete);
  buffer += std::string(20000, 'x');  // moves the bytes; the views must follow them
  http_request_head again;
  const http_parse_result r = parser.parse(buffer, again);
  EXPECT_EQ(r.status, http_parse_status::complete);
  EXPECT_EQ(r.head_bytes, 30u);
  EXPECT_EQ(again.target, "/one");
  EXPECT_EQ(again.target.data(), buffer.data() + 4);
  EXPECT_EQ(again.find("host")->value, "a");

  // reset() starts a new request on the same parser.
  parser.reset();
  ASSERT_EQ(parser.parse(std::string_view("GET /two HTTP/1.0\r\n\r\n"), head).status,
            http_parse_status::complete);
  EXPECT_EQ(head.target, "/two");
  EXPECT_EQ(head.version_minor, 0);

  // An error is final: more bytes do not change it.
  parser.reset();
  EXPECT_EQ(parser.parse(std::string_view("BAD\x01"), head).error_status, 400);
  const http_parse_result sticky = parser.parse(std::string_view("BAD\x01 / HTTP/1.1\r\nHost: a\r\n\r\n"), head);
  EXPECT_EQ(sticky.status, http_parse_status::error);
  EXPECT_EQ(sticky.error_reason, "invalid character in method");
}

TEST(http_request_parser, refuses_broken_line_ends) {
  expect_error("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "line ends with LF without CR");
  expect_error("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "line ends with LF without CR");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "line ends with LF without CR");
  expect_error("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "line ends with LF without CR");
  expect_error("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CR not followed by LF");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "CR not followed by LF");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX\r: a\r\n\r\n", 400, "CR not followed by LF");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 400, "CR not followed by LF");
  expect_error("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CR not followed by LF");
  expect_error("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
               "more than one empty line before the request-line");
  expect_error("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
               "more than one empty line before the request-line");
}

TEST(http_request_parser, refuses_malformed_request_lines) {
  constexpr std::string_view method = "invalid character in method";
  constexpr std::string_view line =
      "malformed request-line (expected method SP request-target SP HTTP-version)";
  expect_error("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, method);
  expect_error(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, method);
  expect_error("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, method);
  expect_error("GET\r\n\r\n", 400, method);
  expect_error("GET\n", 400, method);
  expect_error("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, line);
  expect_error("GET / \r\nHost: a\r\n\r\n", 400, "malformed HTTP version");
  expect_error("GET /\r\nHost: a\r\n\r\n", 400, line);
  expect_error("GET \r\nHost: a\r\n\r\n", 400, line);
  expect_error("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request-target is not in origin-form");
  expect_error("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request-target is not in origin-form");
  expect_error("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400,
               "request-target is not in origin-form");
  expect_error("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target");
  expect_error("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target");
  expect_error("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target");
  expect_error("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target");
  for (std::string_view version : {"HTTP/1.1 ", "http/1.1", "HTTP/1", "HTTP/11.1", "HTTP/1.x",
                                   "HTTP/1.1.1", "HTTP 1.1", "HTTP/1.1\t", " HTTP/1.1"}) {
    expect_error("GET / " + std::string(version) + "\r\nHost: a\r\n\r\n", 400, "malformed HTTP version");
  }
  for (std::string_view version : {"HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"}) {
    expect_error("GET / " + std::string(version) + "\r\nHost: a\r\n\r\n", 505, "HTTP version not supported");
  }
  expect_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "request-target is not in origin-form");
}

TEST(http_request_parser, refuses_binary_garbage_at_its_first_byte) {
  // The start of a TLS ClientHello sent to a plain-text port.
  const verdict v = parse_everywhere("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"sv);
  EXPECT_EQ(v.error_status, 400);
  EXPECT_EQ(v.reason, "invalid character in method");
  EXPECT_EQ(v.decided_at, 1u);
}

TEST(http_request_parser, refuses_malformed_header_fields) {
  expect_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "whitespace before the first header field");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400, "obsolete line folding");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400, "obsolete line folding");
  expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace between header field name and colon");
  expect_error("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "whitespace between header field name and colon");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n", 400, "whitespace between header field name and colon");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", 400, "invalid character in header field name");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400, "invalid character in header field name");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nCaf\xc3\xa9: b\r\n\r\n", 400, "invalid character in header field name");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "header line without colon");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"sv, 400,
               "invalid character in header field value");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400, "invalid character in header field value");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", 400, "invalid character in header field value");
}

TEST(http_request_parser, refuses_bad_host_and_framing_fields) {
  expect_error("GET / HTTP/1.1\r\n\r\n", 400, "missing Host header");
  expect_error("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400, "missing Host header");
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400, "repeated Host header");
  expect_error("GET / HTTP/1.0\r\nHOST: a\r\nHost: b\r\n\r\n", 400, "repeated Host header");
  expect_error("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host header");
  expect_error("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host header");
  expect_error("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, "invalid Host header");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
               400, "Content-Length with Transfer-Encoding");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
               400, "Content-Length with Transfer-Encoding");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 400,
               "repeated Content-Length");
  for (std::string_view length : {"", "abc", "-1", "+1", "1 2", "1,1", "0x10", "3.0", "12345678901234567890"}) {
    expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::string(length) + "\r\n\r\n", 400,
                 "invalid Content-Length");
  }
  constexpr std::string_view te = "Transfer-Encoding does not end with chunked";
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, te);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, te);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
               400, te);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400, te);
}

// A complete head of exactly size bytes: one padding header takes up the difference.
std::string head_of_size(std::size_t size) {
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'p') + end;
}

TEST(http_request_parser, head_size_limit_at_and_past_the_boundary) {
  const std::string at_limit = head_of_size(8192);
  const verdict fits = parse_everywhere(at_limit);
  ASSERT_EQ(fits.status, http_parse_status::complete);
  EXPECT_EQ(fits.head_bytes, 8192u);

  const std::string past_limit = head_of_size(8193);
  const verdict too_large = parse_everywhere(past_limit);
  EXPECT_EQ(too_large.error_status, 431);
  EXPECT_EQ(too_large.reason, "request head too large");
  EXPECT_EQ(too_large.decided_at, 8193u);  // decided as soon as the 8193rd byte arrives

  // A head within the limit followed by more bytes is complete.
  const verdict with_body = parse_everywhere(at_limit + "body");
  EXPECT_EQ(with_body.status, http_parse_status::complete);
  EXPECT_EQ(with_body.head_bytes, 8192u);

  // Without an end of head: need_more up to the limit, 431 one byte past it.
  http_request_parser parser;
  http_request_head head;
  const std::string endless = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x');
  EXPECT_EQ(parser.parse(std::span(endless.data(), 8192), head).status, http_parse_status::need_more);
  const http_parse_result r = parser.parse(std::span(endless.data(), 8193), head);
  EXPECT_EQ(r.status, http_parse_status::error);
  EXPECT_EQ(r.error_status, 431);

  // An error inside the limit wins over the size.
  expect_error("GET / HTTP/1.1\r\nBad Name: x\r\n" + std::string(9000, 'x'), 400,
               "whitespace between header field name and colon");

  // A smaller limit from the caller.
  const std::string small = head_of_size(100);
  EXPECT_EQ(parse_everywhere(small, limits{.max_head_bytes = 100}).status, http_parse_status::complete);
  expect_error(small, 431, "request head too large", limits{.max_head_bytes = 99});
}

std::string request_with_fields(std::size_t count) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 1; i < count; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  return text + "\r\n";
}

TEST(http_request_parser, header_count_limit_at_and_past_the_boundary) {
  const verdict fits = parse_everywhere(request_with_fields(64));
  ASSERT_EQ(fits.status, http_parse_status::complete);
  ASSERT_EQ(fits.headers.size(), 64u);
  EXPECT_EQ(fits.headers[63], field("X-63", "v"));
  expect_error(request_with_fields(65), 431, "too many header fields");

  expect_error(request_with_fields(3), 431, "too many header fields", limits{.max_headers = 2});
  EXPECT_EQ(parse_everywhere(request_with_fields(2), limits{.max_headers = 2}).status,
            http_parse_status::complete);
  // The head holds 64 fields: a larger limit is clamped to that.
  expect_error(request_with_fields(65), 431, "too many header fields", limits{.max_headers = 1000});
}

TEST(http_error_response, builds_the_exact_bytes) {
  EXPECT_EQ(build_http_error_response(400, "invalid character in method"),
            "HTTP/1.1 400 Bad Request\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 41\r\n"
            "Connection: close\r\n"
            "\r\n"
            "Bad Request: invalid character in method\n");
  EXPECT_EQ(build_http_error_response(431),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 32\r\n"
            "Connection: close\r\n"
            "\r\n"
            "Request Header Fields Too Large\n");
  EXPECT_EQ(build_http_error_response(503, "no ready member", "Retry-After: 5\r\nX-A: b\r\n"),
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 37\r\n"
            "Connection: close\r\n"
            "Retry-After: 5\r\nX-A: b\r\n"
            "\r\n"
            "Service Unavailable: no ready member\n");
}

TEST(http_error_response, reason_phrases) {
  const std::pair<int, std::string_view> expected[] = {
      {101, "Switching Protocols"}, {200, "OK"}, {204, "No Content"}, {301, "Moved Permanently"},
      {302, "Found"}, {400, "Bad Request"}, {403, "Forbidden"}, {404, "Not Found"},
      {405, "Method Not Allowed"}, {408, "Request Timeout"}, {413, "Content Too Large"},
      {426, "Upgrade Required"}, {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
      {503, "Service Unavailable"}, {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"}};
  for (const auto& [status, phrase] : expected) EXPECT_EQ(http_reason_phrase(status), phrase) << status;
  EXPECT_EQ(http_reason_phrase(299), "");
  EXPECT_EQ(build_http_error_response(599, "odd"),
            "HTTP/1.1 599 \r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n"
            "Connection: close\r\n\r\nodd\n");
}

}  // namespace
}  // namespace postern::net
