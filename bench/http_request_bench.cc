// Parsing speed of net/http_request on the request a browser sends to open a WebSocket.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "net/http_request.h"

namespace {

using postern::net::http_parse_status;
using postern::net::http_request_head;
using postern::net::http_request_parser;

// A Chrome upgrade request to a wss:// endpoint, trimmed to about 400 bytes.
constexpr std::string_view browser_upgrade =
    "GET /app1/chat?room=7 HTTP/1.1\r\n"
    "Host: gateway.example.com:8443\r\n"
    "Connection: Upgrade\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://app.example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

// The whole head in one buffer, as when it arrives in one segment.
void bm_parse_browser_upgrade(benchmark::State& state) {
  http_request_head head;
  for (auto _ : state) {
    http_request_parser parser;
    const auto result = parser.parse(browser_upgrade, head);
    if (result.status != http_parse_status::complete) state.SkipWithError("request not complete");
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(browser_upgrade.size()));
}
BENCHMARK(bm_parse_browser_upgrade);

// The head in two calls, split in the middle of a header line: the resumed scan's cost.
void bm_parse_browser_upgrade_in_two_parts(benchmark::State& state) {
  http_request_head head;
  const std::string_view first = browser_upgrade.substr(0, browser_upgrade.size() / 2);
  for (auto _ : state) {
    http_request_parser parser;
    benchmark::DoNotOptimize(parser.parse(first, head));
    const auto result = parser.parse(browser_upgrade, head);
    if (result.status != http_parse_status::complete) state.SkipWithError("request not complete");
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(browser_upgrade.size()));
}
BENCHMARK(bm_parse_browser_upgrade_in_two_parts);

// An 8 KiB head arriving one byte per call (a slow or hostile client): the parser resumes
// where it stopped, so the cost per byte stays flat instead of growing with the head.
void bm_parse_8k_head_byte_by_byte(benchmark::State& state) {
  std::string text = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  text += std::string(8192 - text.size() - 4, 'p');
  text += "\r\n\r\n";
  http_request_head head;
  for (auto _ : state) {
    http_request_parser parser;
    for (std::size_t size = 1; size < text.size(); ++size) {
      benchmark::DoNotOptimize(parser.parse(std::string_view(text).substr(0, size), head));
    }
    const auto result = parser.parse(text, head);
    if (result.status != http_parse_status::complete) state.SkipWithError("request not complete");
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(text.size()));
}
BENCHMARK(bm_parse_8k_head_byte_by_byte);

}  // namespace
