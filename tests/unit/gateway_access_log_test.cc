// The access log's line (format_access_line) and its command-line option (--access-log).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "gateway/cli.h"
#include "gateway/metrics.h"
#include "net/address.h"

namespace postern::gateway {
namespace {

// ---- format_access_line -----------------------------------------------------------------------

net::socket_address address(std::string_view host, std::uint16_t port) {
  auto a = net::resolve_address(host, port);
  EXPECT_TRUE(a) << host;
  return a ? *a : net::socket_address{};
}

session a_session() {
  session s;
  s.peer = address("127.0.0.1", 37532);
  s.bytes_in = 315;
  s.bytes_out = 160;
  s.messages_in = 3;
  s.messages_out = 3;
  return s;
}

constexpr std::uint64_t wall_2026_11_26 = 1795654909982;  // 2026-11-26T01:01:49.982Z

TEST(access_line, exact_line_for_a_closed_websocket) {
  session s = a_session();
  s.close_with(1000);
  EXPECT_EQ(format_access_line(s, "WebSocket echo", wall_2026_11_26, 3),
            "2026-11-26T01:01:49.982Z client=127.0.0.1:37532 service=\"WebSocket echo\" duration=0.003 bytes_in=315 "
            "bytes_out=160 messages_in=3 messages_out=3 end=close:1000\n");
}

TEST(access_line, status_wins_over_close_code_and_close_code_over_ending) {
  session s = a_session();
  s.end_as("eof");
  EXPECT_TRUE(format_access_line(s, "e", 0, 0).ends_with(" end=eof\n"));
  s.close_with(1001);
  EXPECT_TRUE(format_access_line(s, "e", 0, 0).ends_with(" end=close:1001\n"));
  s.http_status = 404;
  EXPECT_TRUE(format_access_line(s, "e", 0, 0).ends_with(" end=status:404\n"));
  // The first close code and the first ending stay.
  session t = a_session();
  t.close_with(1009);
  t.close_with(1000);
  EXPECT_TRUE(format_access_line(t, "e", 0, 0).ends_with(" end=close:1009\n"));
  session u = a_session();
  u.end_as("send-timeout");
  u.end_as("eof");
  EXPECT_TRUE(format_access_line(u, "e", 0, 0).ends_with(" end=send-timeout\n"));
}

TEST(access_line, eof_when_nothing_was_set) {
  session s = a_session();
  EXPECT_TRUE(format_access_line(s, "e", 0, 0).ends_with(" end=eof\n")) << format_access_line(s, "e", 0, 0);
}

TEST(access_line, refused_without_a_service) {
  session s;
  s.peer = address("127.0.0.2", 40000);
  s.bytes_in = 80;
  s.bytes_out = 120;
  s.http_status = 404;
  EXPECT_EQ(format_access_line(s, "", 0, 0),
            "1970-01-01T00:00:00.000Z client=127.0.0.2:40000 service=- duration=0.000 bytes_in=80 bytes_out=120 "
            "messages_in=0 messages_out=0 end=status:404\n");
}

TEST(access_line, duration_in_seconds_with_milliseconds) {
  session s = a_session();
  EXPECT_NE(format_access_line(s, "e", 0, 1234).find(" duration=1.234 "), std::string::npos);
  EXPECT_NE(format_access_line(s, "e", 0, 5).find(" duration=0.005 "), std::string::npos);
  EXPECT_NE(format_access_line(s, "e", 0, 60000).find(" duration=60.000 "), std::string::npos);
  EXPECT_NE(format_access_line(s, "e", 0, 1010).find(" duration=1.010 "), std::string::npos);
}

TEST(access_line, a_hostile_service_name_stays_on_one_line) {
  session s = a_session();
  const std::string line = format_access_line(s, "a\"b\\c\nd", wall_2026_11_26, 0);
  EXPECT_NE(line.find(" service=\"a\\\"b\\\\c\\nd\" "), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
}

TEST(access_line, ipv6_peer_and_large_counters) {
  session s;
  s.peer = address("::1", 8000);
  s.bytes_in = 18446744073709551615ull;
  s.messages_out = 4294967296ull;
  const std::string line = format_access_line(s, "x", wall_2026_11_26, 0);
  EXPECT_NE(line.find(" client=[::1]:8000 "), std::string::npos) << line;
  EXPECT_NE(line.find(" bytes_in=18446744073709551615 "), std::string::npos) << line;
  EXPECT_NE(line.find(" messages_out=4294967296 "), std::string::npos) << line;
}

// ---- parse_cli: --access-log ------------------------------------------------------------------

std::expected<cli_options, std::string> parse(std::vector<std::string_view> args) { return parse_cli(args); }

TEST(cli_access_log, default_is_standard_output) {
  auto o = parse({"-c", "gw.xml"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->access_log, "-");
}

TEST(cli_access_log, value_is_stored) {
  for (std::string_view v : {"/var/log/postern/access.log", "-", "off", "relative.log"}) {
    auto o = parse({"--access-log", v, "-c", "gw.xml"});
    ASSERT_TRUE(o) << o.error();
    EXPECT_EQ(o->access_log, v);
    EXPECT_EQ(o->config_path, "gw.xml");
  }
  auto last = parse({"-c", "gw.xml", "--access-log", "a.log", "--access-log", "off"});
  ASSERT_TRUE(last) << last.error();
  EXPECT_EQ(last->access_log, "off");
}

TEST(cli_access_log, value_is_required) {
  auto missing = parse({"-c", "gw.xml", "--access-log"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "--access-log needs a value");
  auto empty = parse({"-c", "gw.xml", "--access-log", ""});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), "--access-log needs a file, - (standard output) or off");
}

TEST(cli_access_log, usage_names_it) {
  EXPECT_NE(usage_text("postern").find("--access-log"), std::string::npos);
}

}  // namespace
}  // namespace postern::gateway
