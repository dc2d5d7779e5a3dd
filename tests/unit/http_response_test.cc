#include "net/http_response.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace postern::net {
namespace {

using limits = http_response_parser::limits;
using namespace std::string_view_literals;
using field = std::pair<std::string, std::string>;
constexpr auto malformed = http_response_error::malformed;
constexpr auto too_large = http_response_error::too_large;

// What one parse() call answered, copied out of the buffer so it outlives it.
struct verdict {
  http_parse_status status = http_parse_status::need_more;
  std::size_t head_bytes = 0;
  http_response_error error = http_response_error::none;
  std::string reason;
  int version_minor = -1;
  int code = 0;
  std::string phrase;
  std::vector<field> headers;
  std::size_t decided_at = 0;  // parse_everywhere: bytes buffered when fed byte by byte
  bool operator==(const verdict& o) const {
    return status == o.status && head_bytes == o.head_bytes && error == o.error &&
           reason == o.reason && version_minor == o.version_minor && code == o.code &&
           phrase == o.phrase && headers == o.headers;
  }
};

std::ostream& operator<<(std::ostream& out, const verdict& v) {
  static constexpr const char* names[] = {"need_more", "complete", "error"};
  out << names[int(v.status)] << " head_bytes=" << v.head_bytes << " " << to_string(v.error)
      << " '" << v.reason << "' minor=" << v.version_minor << " " << v.code << " '" << v.phrase << "'";
  for (const auto& [n, value] : v.headers) out << " [" << n << ": " << value << "]";
  return out;
}

// A fresh heap copy: every call sees the bytes at a new address, as after a buffer grows.
verdict run(http_response_parser& parser, std::string_view bytes) {
  const std::vector<char> buffer(bytes.begin(), bytes.end());
  http_response_head head;
  const http_response_parse_result r = parser.parse(buffer, head);
  verdict v;
  v.status = r.status;
  v.head_bytes = r.head_bytes;
  v.error = r.error;
  v.reason = std::string(r.error_reason);
  if (r.status == http_parse_status::complete) {
    v.version_minor = head.version_minor;
    v.code = head.status;
    v.phrase = std::string(head.reason);
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
  http_response_parser whole_parser(l);
  verdict whole = run(whole_parser, text);
  for (std::size_t split = 0; split <= text.size() && !::testing::Test::HasFailure(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    http_response_parser parser(l);
    const verdict prefix = run(parser, text.substr(0, split));
    if (whole.status == http_parse_status::complete && split >= whole.head_bytes) {
      EXPECT_EQ(prefix, whole);
    } else if (prefix.status != http_parse_status::need_more) {
      EXPECT_EQ(whole.status, http_parse_status::error);
      EXPECT_EQ(prefix, whole);
    }
    EXPECT_EQ(run(parser, text), whole);
  }
  http_response_parser parser(l);
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

verdict expect_error(std::string_view text, http_response_error error, std::string_view reason,
                     limits l = {}) {
  SCOPED_TRACE(std::string(text.substr(0, 120)));
  const verdict v = parse_everywhere(text, l);
  EXPECT_EQ(v.status, http_parse_status::error);
  EXPECT_EQ(v.error, error);
  EXPECT_EQ(v.reason, reason);
  return v;
}

verdict expect_complete(std::string_view text, limits l = {}) {
  SCOPED_TRACE(std::string(text.substr(0, 120)));
  const verdict v = parse_everywhere(text, l);
  EXPECT_EQ(v.status, http_parse_status::complete) << v;
  return v;
}

constexpr std::string_view upgrade_response =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

TEST(http_response_parser, parses_an_upgrade_response_at_every_split) {
  const verdict v = expect_complete(upgrade_response);
  EXPECT_EQ(v.head_bytes, upgrade_response.size());
  EXPECT_EQ(v.version_minor, 1);
  EXPECT_EQ(v.code, 101);
  EXPECT_EQ(v.phrase, "Switching Protocols");
  ASSERT_EQ(v.headers.size(), 4u);
  EXPECT_EQ(v.headers[0], field("Upgrade", "websocket"));
  EXPECT_EQ(v.headers[2], field("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  EXPECT_EQ(v.headers[3], field("Sec-WebSocket-Protocol", "chat"));
}

TEST(http_response_parser, accepts_well_formed_variants) {
  // HTTP/1.0, a body announced by Content-Length, no header at all.
  verdict v = expect_complete("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(v.version_minor, 0);
  EXPECT_EQ(v.code, 200);
  EXPECT_EQ(v.head_bytes, 38u);
  v = expect_complete("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(v.code, 204);
  EXPECT_TRUE(v.headers.empty());

  // The reason phrase is optional, with or without its SP, and kept as sent.
  v = expect_complete("HTTP/1.1 200\r\nX: y\r\n\r\n");
  EXPECT_EQ(v.code, 200);
  EXPECT_EQ(v.phrase, "");
  EXPECT_EQ(v.headers, std::vector<field>{field("X", "y")});
  v = expect_complete("HTTP/1.1 503 \r\n\r\n");
  EXPECT_EQ(v.code, 503);
  EXPECT_EQ(v.phrase, "");
  v = expect_complete("HTTP/1.1 404  Not\tFound \xc3\xa9 \r\n\r\n");
  EXPECT_EQ(v.phrase, " Not\tFound \xc3\xa9 ");

  // The whole range of status codes, and nothing else.
  EXPECT_EQ(expect_complete("HTTP/1.1 100 Continue\r\n\r\n").code, 100);
  EXPECT_EQ(expect_complete("HTTP/1.1 599 x\r\n\r\n").code, 599);

  // Field values are trimmed; HTAB, SP and obs-text stay inside; any tchar name.
  v = expect_complete(
      "HTTP/1.1 302 Found\r\nLocation:\thttps://a.example/b \r\nX-A:   a \t b\t \r\n"
      "X-Latin: caf\xc3\xa9\r\nX-Empty:   \r\n!#$%&'*+-.^_`|~09azAZ: t\r\n\r\n");
  ASSERT_EQ(v.headers.size(), 5u);
  EXPECT_EQ(v.headers[0], field("Location", "https://a.example/b"));
  EXPECT_EQ(v.headers[1].second, "a \t b");
  EXPECT_EQ(v.headers[2].second, "caf\xc3\xa9");
  EXPECT_EQ(v.headers[3].second, "");
  EXPECT_EQ(v.headers[4], field("!#$%&'*+-.^_`|~09azAZ", "t"));

  // Framing a response may carry: the largest Content-Length, any final transfer coding.
  expect_complete("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n");
  expect_complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  expect_complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nTransfer-Encoding: br\r\n\r\n");
}

TEST(http_response_parser, head_accessors) {
  http_response_parser parser;
  http_response_head head;
  const std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive ,\tUpgrade\r\n"
      "connection: close\r\nX-Empty:\r\nUpgrade: websocket-extra, , WebSocket\r\n\r\n";
  ASSERT_EQ(parser.parse(response, head).status, http_parse_status::complete);
  ASSERT_NE(head.find("CONNECTION"), nullptr);
  EXPECT_EQ(head.find("connection")->value, "keep-alive ,\tUpgrade");  // the first of two
  EXPECT_EQ(head.find("x-empty")->value, "");
  EXPECT_EQ(head.find("Upgrad"), nullptr);
  EXPECT_EQ(head.find("Sec-WebSocket-Accept"), nullptr);
  EXPECT_TRUE(head.has_token("Connection", "upgrade"));
  EXPECT_TRUE(head.has_token("connection", "CLOSE"));  // in the second Connection field
  EXPECT_FALSE(head.has_token("Connection", "upgr"));
  EXPECT_FALSE(head.has_token("Connection", ""));
  EXPECT_FALSE(head.has_token("Upgrade", ""));
  EXPECT_TRUE(head.has_token("Upgrade", "websocket"));
  EXPECT_FALSE(head.has_token("Upgrade", "websocket-ext"));
  EXPECT_FALSE(head.has_token("X-Missing", "x"));
  EXPECT_FALSE(head.interim());

  for (const auto& [text, interim] : {std::pair{"HTTP/1.1 100 Continue\r\n\r\n"sv, true},
                                      std::pair{"HTTP/1.1 103 Early Hints\r\n\r\n"sv, true},
                                      std::pair{"HTTP/1.1 199 x\r\n\r\n"sv, true},
                                      std::pair{"HTTP/1.1 101 x\r\n\r\n"sv, false},
                                      std::pair{"HTTP/1.1 200 OK\r\n\r\n"sv, false}}) {
    http_response_parser p;
    http_response_head h;
    ASSERT_EQ(p.parse(text, h).status, http_parse_status::complete);
    EXPECT_EQ(h.interim(), interim) << text;
  }
}

TEST(http_response_parser, leaves_bytes_after_the_head_to_the_caller) {
  // A 101 followed at once by the backend's first WebSocket frame.
  const std::string text = std::string(upgrade_response) + "\x81\x05hello\r\n\r\n";
  const verdict v = expect_complete(text);
  EXPECT_EQ(v.head_bytes, upgrade_response.size());
  EXPECT_EQ(text.substr(v.head_bytes), "\x81\x05hello\r\n\r\n");
}

TEST(http_response_parser, answers_again_after_complete_and_after_error) {
  http_response_parser parser;
  http_response_head head;
  std::string buffer = "HTTP/1.1 200 OK\r\nServer: a\r\n\r\nextra";
  ASSERT_EQ(parser.parse(buffer, head).status, http_parse_status::complete);
  buffer += std::string(20000, 'x');  // moves the bytes; the views must follow them
  http_response_head again;
  const http_response_parse_result r = parser.parse(buffer, again);
  EXPECT_EQ(r.status, http_parse_status::complete);
  EXPECT_EQ(r.head_bytes, 30u);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.reason, "OK");
  EXPECT_EQ(again.reason.data(), buffer.data() + 13);
  ASSERT_NE(again.find("server"), nullptr);
  EXPECT_EQ(again.find("server")->value, "a");

  // An error is final: more bytes do not change it.
  parser.reset();
  EXPECT_EQ(parser.parse("HTTP/1.1 2x"sv, head).error, malformed);
  const http_response_parse_result sticky = parser.parse("HTTP/1.1 2x0 OK\r\n\r\n"sv, head);
  EXPECT_EQ(sticky.status, http_parse_status::error);
  EXPECT_EQ(sticky.error_reason, "malformed status code");

  // After an interim response, reset() parses the final one from the bytes after it.
  const std::string two = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n"
                          "Upgrade: websocket\r\n\r\n\x81";
  parser.reset();
  const http_response_parse_result interim = parser.parse(two, head);
  ASSERT_EQ(interim.status, http_parse_status::complete);
  ASSERT_TRUE(head.interim());
  parser.reset();
  const std::span<const char> rest = std::span(two).subspan(interim.head_bytes);
  const http_response_parse_result final_head = parser.parse(rest, head);
  ASSERT_EQ(final_head.status, http_parse_status::complete);
  EXPECT_EQ(head.status, 101);
  EXPECT_TRUE(head.has_token("upgrade", "websocket"));
  EXPECT_EQ(interim.head_bytes + final_head.head_bytes, two.size() - 1);
}

TEST(http_response_parser, refuses_a_peer_that_does_not_speak_http_at_its_first_byte) {
  // A TLS ServerHello (the backend speaks TLS, we did not), a SOCKS5 reply, an empty line.
  for (const std::string_view text : {"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"sv,
                                      "\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90"sv,
                                      "\r\nHTTP/1.1 200 OK\r\n\r\n"sv, "\nHTTP/1.1 200 OK\r\n\r\n"sv,
                                      " HTTP/1.1 200 OK\r\n\r\n"sv}) {
    const verdict v = expect_error(text, malformed, "response does not start with HTTP/");
    EXPECT_EQ(v.decided_at, 1u);
  }
  // HTTP-name is case-sensitive (RFC 9112 §2.3); the fifth byte decides here.
  EXPECT_EQ(expect_error("HTTP 1.1 200 OK\r\n\r\n", malformed, "response does not start with HTTP/")
                .decided_at, 5u);
  expect_error("http/1.1 200 OK\r\n\r\n", malformed, "response does not start with HTTP/");
  expect_error("SSH-2.0-OpenSSH_9.2\r\n", malformed, "response does not start with HTTP/");
}

TEST(http_response_parser, refuses_malformed_status_lines) {
  constexpr std::string_view version = "malformed HTTP version";
  constexpr std::string_view code = "malformed status code";
  constexpr std::string_view range = "status code out of range (100-599)";
  constexpr std::string_view line =
      "malformed status-line (expected HTTP-version SP status-code SP reason-phrase)";
  for (std::string_view bad : {"HTTP/1", "HTTP/x.1", "HTTP/1,1", "HTTP/1.x", "HTTP/11.1",
                               "HTTP/1.10", "HTTP/.1"}) {
    expect_error(std::string(bad) + " 200 OK\r\n\r\n", malformed, version);
  }
  for (std::string_view other : {"HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"}) {
    const verdict v = expect_error(std::string(other) + " 200 OK\r\n\r\n",
                                   http_response_error::unsupported_version,
                                   "HTTP version not supported");
    EXPECT_EQ(v.decided_at, 9u);  // as soon as the SP after the version arrives
  }
  expect_error("HTTP/1.1\r\n\r\n", malformed, line);
  expect_error("HTTP/1.1\t200 OK\r\n\r\n", malformed, line);
  expect_error("HTTP/1.1  200 OK\r\n\r\n", malformed, code);
  expect_error("HTTP/1.1 20 OK\r\n\r\n", malformed, code);
  expect_error("HTTP/1.1 20\r\n\r\n", malformed, code);
  expect_error("HTTP/1.1 2000 OK\r\n\r\n", malformed, code);
  expect_error("HTTP/1.1 -200 OK\r\n\r\n", malformed, code);
  expect_error("HTTP/1.1 2x0 OK\r\n\r\n", malformed, code);
  for (std::string_view out : {"000", "099", "600", "999", "012"}) {
    const verdict v = expect_error("HTTP/1.1 " + std::string(out) + " x\r\n\r\n", malformed, range);
    EXPECT_EQ(v.decided_at, 12u);
  }
  expect_error("HTTP/1.1 200\tOK\r\n\r\n", malformed, line);
  expect_error("HTTP/1.1 200OK\r\n\r\n", malformed, line);
  expect_error("HTTP/1.1 200 O\x7fK\r\n\r\n", malformed, "invalid character in reason phrase");
  expect_error("HTTP/1.1 200 O\x01K\r\n\r\n", malformed, "invalid character in reason phrase");
  expect_error("HTTP/1.1 200 O\0K\r\n\r\n"sv, malformed, "invalid character in reason phrase");
}

TEST(http_response_parser, refuses_broken_line_ends) {
  constexpr std::string_view bare_lf = "line ends with LF without CR";
  constexpr std::string_view bare_cr = "CR not followed by LF";
  expect_error("HTTP/1.1 200 OK\nX: y\r\n\r\n", malformed, bare_lf);
  EXPECT_EQ(expect_error("HTTP/1.1 200\nX: y\r\n\r\n", malformed, bare_lf).decided_at, 13u);
  expect_error("HTTP/1.1 200 OK\r\nX: y\n\r\n", malformed, bare_lf);
  expect_error("HTTP/1.1 200 OK\r\nX: y\r\n\n", malformed, bare_lf);
  expect_error("HTTP/1.1 200 OK\r\n\n", malformed, bare_lf);
  expect_error("HTTP/1.1 200\rOK\r\n\r\n", malformed, bare_cr);
  expect_error("HTTP/1.1 200 O\rK\r\n\r\n", malformed, bare_cr);
  expect_error("HTTP/1.1 200 OK\r\r\n\r\n", malformed, bare_cr);
  expect_error("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", malformed, bare_cr);
  expect_error("HTTP/1.1 200 OK\r\nX\r: a\r\n\r\n", malformed, bare_cr);
  expect_error("HTTP/1.1 200 OK\r\n\r\r\n\r\n", malformed, bare_cr);
}

TEST(http_response_parser, refuses_malformed_header_fields) {
  expect_error("HTTP/1.1 200 OK\r\n X: a\r\n\r\n", malformed, "whitespace before the first header field");
  expect_error("HTTP/1.1 200 OK\r\nX: b\r\n c\r\n\r\n", malformed, "obsolete line folding");
  expect_error("HTTP/1.1 200 OK\r\nX: b\r\n\tc\r\n\r\n", malformed, "obsolete line folding");
  expect_error("HTTP/1.1 200 OK\r\nUpgrade : websocket\r\n\r\n", malformed,
               "whitespace between header field name and colon");
  expect_error("HTTP/1.1 200 OK\r\nX\t: a\r\n\r\n", malformed,
               "whitespace between header field name and colon");
  expect_error("HTTP/1.1 200 OK\r\nX Y: b\r\n\r\n", malformed,
               "whitespace between header field name and colon");
  expect_error("HTTP/1.1 200 OK\r\nX(y): b\r\n\r\n", malformed, "invalid character in header field name");
  expect_error("HTTP/1.1 200 OK\r\n: b\r\n\r\n", malformed, "invalid character in header field name");
  expect_error("HTTP/1.1 200 OK\r\nCaf\xc3\xa9: b\r\n\r\n", malformed, "invalid character in header field name");
  expect_error("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", malformed, "header line without colon");
  expect_error("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"sv, malformed, "invalid character in header field value");
  expect_error("HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", malformed, "invalid character in header field value");
  expect_error("HTTP/1.1 200 OK\r\nX: \x7f\r\n\r\n", malformed, "invalid character in header field value");
}

TEST(http_response_parser, refuses_ambiguous_framing) {
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", malformed,
               "Content-Length with Transfer-Encoding");
  expect_error("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", malformed,
               "Content-Length with Transfer-Encoding");
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", malformed,
               "repeated Content-Length");
  for (std::string_view length : {"", "abc", "-1", "+1", "1 2", "3, 3", "0x10", "3.0",
                                  "12345678901234567890"}) {
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: " + std::string(length) + "\r\n\r\n", malformed,
                 "invalid Content-Length");
  }
}

// A complete head of exactly size bytes: one padding header takes up the difference.
std::string head_of_size(std::size_t size) {
  const std::string start = "HTTP/1.1 200 OK\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'p') + end;
}

TEST(http_response_parser, head_size_limit_at_and_past_the_boundary) {
  const std::string at_limit = head_of_size(8192);
  const verdict fits = expect_complete(at_limit);
  EXPECT_EQ(fits.head_bytes, 8192u);

  const verdict past = expect_error(head_of_size(8193), too_large, "response head too large");
  EXPECT_EQ(past.decided_at, 8193u);  // decided as soon as the 8193rd byte arrives

  // A head within the limit followed by more bytes is complete.
  EXPECT_EQ(expect_complete(at_limit + "body").head_bytes, 8192u);

  // Without an end of head: need_more up to the limit, too_large one byte past it, even
  // inside the status-line.
  for (const std::string& endless : {"HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'x'),
                                     "HTTP/1.1 200 " + std::string(9000, 'x')}) {
    http_response_parser parser;
    http_response_head head;
    EXPECT_EQ(parser.parse(std::span(endless.data(), 8192), head).status, http_parse_status::need_more);
    const http_response_parse_result r = parser.parse(std::span(endless.data(), 8193), head);
    EXPECT_EQ(r.status, http_parse_status::error);
    EXPECT_EQ(r.error, too_large);
  }

  // An error inside the limit wins over the size.
  expect_error("HTTP/1.1 200 OK\r\nBad Name: x\r\n" + std::string(9000, 'x'), malformed,
               "whitespace between header field name and colon");

  // A smaller limit from the caller, down to one shorter than the fixed part.
  const std::string small = head_of_size(100);
  EXPECT_EQ(expect_complete(small, limits{.max_head_bytes = 100}).head_bytes, 100u);
  expect_error(small, too_large, "response head too large", limits{.max_head_bytes = 99});
  EXPECT_EQ(expect_error(small, too_large, "response head too large", limits{.max_head_bytes = 12})
                .decided_at, 13u);
  expect_error("HTTP/1.1 2x", malformed, "malformed status code", limits{.max_head_bytes = 12});
}

std::string response_with_fields(std::size_t count) {
  std::string text = "HTTP/1.1 101 Switching Protocols\r\n";
  for (std::size_t i = 1; i <= count; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  return text + "\r\n";
}

TEST(http_response_parser, header_count_limit_at_and_past_the_boundary) {
  const verdict fits = expect_complete(response_with_fields(64));
  ASSERT_EQ(fits.headers.size(), 64u);
  EXPECT_EQ(fits.headers[63], field("X-64", "v"));
  expect_error(response_with_fields(65), too_large, "too many header fields");

  expect_error(response_with_fields(3), too_large, "too many header fields", limits{.max_headers = 2});
  EXPECT_EQ(expect_complete(response_with_fields(2), limits{.max_headers = 2}).headers.size(), 2u);
  // The head holds 64 fields: a larger limit is clamped to that.
  expect_error(response_with_fields(65), too_large, "too many header fields", limits{.max_headers = 1000});
}

TEST(http_response_parser, error_names) {
  EXPECT_EQ(to_string(http_response_error::none), "no error");
  EXPECT_EQ(to_string(http_response_error::malformed), "malformed HTTP response");
  EXPECT_EQ(to_string(http_response_error::unsupported_version), "unsupported HTTP version");
  EXPECT_EQ(to_string(http_response_error::too_large), "HTTP response head too large");
}

}  // namespace
}  // namespace postern::net
