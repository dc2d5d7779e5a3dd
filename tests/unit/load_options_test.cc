#include "bench/load/options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace postern::load {
namespace {

std::expected<load_options, std::string> parse(std::initializer_list<std::string_view> args) {
  const std::vector<std::string_view> v(args);
  return parse_load_options(v);
}

load_options parse_ok(std::initializer_list<std::string_view> args) {
  auto r = parse(args);
  EXPECT_TRUE(r.has_value()) << r.error();
  return r.value_or(load_options{});
}

void expect_error(std::initializer_list<std::string_view> args, std::string_view sentence) {
  auto r = parse(args);
  ASSERT_FALSE(r.has_value()) << "accepted";
  EXPECT_EQ(r.error(), sentence);
}

TEST(load_options, defaults) {
  const load_options o = parse_ok({"--url", "ws://127.0.40.1:8000/echo"});
  EXPECT_EQ(o.url, "ws://127.0.40.1:8000/echo");
  EXPECT_EQ(o.target.scheme, net::uri_scheme::ws);
  EXPECT_EQ(o.target.host, "127.0.40.1");
  EXPECT_EQ(o.target.port, 8000);
  EXPECT_EQ(o.target.path, "/echo");
  EXPECT_EQ(o.connections, 100u);
  EXPECT_EQ(o.in_flight, 1u);
  EXPECT_EQ(o.size_bytes, 64u);
  EXPECT_EQ(o.duration_ms, 10'000u);
  EXPECT_EQ(o.warmup_ms, 2'000u);
  EXPECT_EQ(o.rate_per_s, 0.0);
  EXPECT_FALSE(o.open_loop());
  EXPECT_EQ(o.threads, 1u);
  EXPECT_TRUE(o.cpus.empty());
  EXPECT_FALSE(o.text);
  EXPECT_FALSE(o.json);
  EXPECT_FALSE(o.hold);
  EXPECT_TRUE(o.source_addresses.empty());
  EXPECT_TRUE(o.websocket());
}

TEST(load_options, every_option) {
  const load_options o = parse_ok({"--url", "wss://gw.example:9443/a?b=c", "--connections", "2000", "--in-flight",
                                   "8", "--size", "4k", "--duration", "30s", "--warmup", "500ms", "--rate",
                                   "12500.5", "--threads", "2", "--cpus", "0,2-3", "--text", "--ca",
                                   "/tmp/ca.pem", "--json", "--source-addresses", "127.0.0.2,127.0.0.3"});
  EXPECT_EQ(o.target.scheme, net::uri_scheme::wss);
  EXPECT_EQ(o.target.query, "b=c");
  EXPECT_EQ(o.connections, 2000u);
  EXPECT_EQ(o.in_flight, 8u);
  EXPECT_EQ(o.size_bytes, 4096u);
  EXPECT_EQ(o.duration_ms, 30'000u);
  EXPECT_EQ(o.warmup_ms, 500u);
  EXPECT_EQ(o.rate_per_s, 12500.5);
  EXPECT_TRUE(o.open_loop());
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.cpus, (std::vector<int>{0, 2, 3}));
  EXPECT_TRUE(o.text);
  EXPECT_EQ(o.ca_file, "/tmp/ca.pem");
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.source_addresses, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
}

TEST(load_options, equals_form_and_last_value_wins) {
  const load_options o = parse_ok({"--url=tcp://127.0.40.1:8001", "--connections=5", "--connections", "7",
                                   "--size=1MiB", "--hold", "--duration=2m"});
  EXPECT_EQ(o.target.scheme, net::uri_scheme::tcp);
  EXPECT_FALSE(o.websocket());
  EXPECT_EQ(o.connections, 7u);
  EXPECT_EQ(o.size_bytes, 1024u * 1024u);
  EXPECT_TRUE(o.hold);
  EXPECT_EQ(o.duration_ms, 120'000u);
}

TEST(load_options, help_needs_nothing_else) {
  EXPECT_TRUE(parse_ok({"--help"}).help);
  EXPECT_TRUE(parse_ok({"-h"}).help);
}

TEST(load_options, durations) {
  EXPECT_EQ(parse_duration_ms("--d", "10"), 10'000u);
  EXPECT_EQ(parse_duration_ms("--d", "10s"), 10'000u);
  EXPECT_EQ(parse_duration_ms("--d", "1.5s"), 1'500u);
  EXPECT_EQ(parse_duration_ms("--d", "250ms"), 250u);
  EXPECT_EQ(parse_duration_ms("--d", "2m"), 120'000u);
  EXPECT_EQ(parse_duration_ms("--d", "1min"), 60'000u);
  EXPECT_EQ(parse_duration_ms("--d", "0"), 0u);
  EXPECT_EQ(parse_duration_ms("--d", "1440m"), 86'400'000u);
  for (std::string_view bad : {"", "s", "-1s", "10h", "10 s", "1e3", "1441m", "ten", ".5s", "5sec"}) {
    auto r = parse_duration_ms("--warmup", bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error(), "--warmup: '" + std::string(bad) +
                             "' is not a duration such as 10s, 500ms or 2m (at most one day)");
  }
}

TEST(load_options, sizes) {
  EXPECT_EQ(parse_size_bytes("--size", "16"), 16u);
  EXPECT_EQ(parse_size_bytes("--size", "125"), 125u);
  EXPECT_EQ(parse_size_bytes("--size", "64K"), 65536u);
  EXPECT_EQ(parse_size_bytes("--size", "4KiB"), 4096u);
  EXPECT_EQ(parse_size_bytes("--size", "64m"), 64u << 20);
  for (std::string_view bad : {"15", "0", "", "k", "4kb", "65m", "-4", "4 k", "99999999999999999999"}) {
    auto r = parse_size_bytes("--size", bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error(), "--size: '" + std::string(bad) +
                             "' is not a size from 16 bytes to 64 MiB (such as 64, 4k or 1MiB)");
  }
}

TEST(load_options, cpu_lists) {
  EXPECT_EQ(parse_cpu_list("--cpus", "0"), (std::vector<int>{0}));
  EXPECT_EQ(parse_cpu_list("--cpus", "1,0"), (std::vector<int>{1, 0}));
  EXPECT_EQ(parse_cpu_list("--cpus", "2-4,7"), (std::vector<int>{2, 3, 4, 7}));
  for (std::string_view bad : {"", ",", "0,", "a", "3-1", "1-", "-1", "70000", "1;2"}) {
    auto r = parse_cpu_list("--cpus", bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error(), "--cpus: '" + std::string(bad) + "' is not a CPU list such as 0,2-3");
  }
}

TEST(load_options, address_lists) {
  EXPECT_EQ(parse_address_list("--s", "::1,127.0.40.3"), (std::vector<std::string>{"::1", "127.0.40.3"}));
  auto r = parse_address_list("--source-addresses", "127.0.0.2,localhost");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "--source-addresses: 'localhost' is not an IPv4 or IPv6 address literal");
  EXPECT_FALSE(parse_address_list("--s", "127.0.0.2,").has_value());
  EXPECT_FALSE(parse_address_list("--s", "127.0.0.256").has_value());
}

TEST(load_options, refusals_name_the_option) {
  expect_error({}, "--url is required (ws://, wss:// or tcp://)");
  expect_error({"--connections", "5"}, "--url is required (ws://, wss:// or tcp://)");
  expect_error({"--url", "ws://h:1/", "--bogus"}, "unknown option '--bogus'");
  expect_error({"--url", "ws://h:1/", "extra"}, "unknown option 'extra'");
  expect_error({"--url"}, "--url needs a value");
  expect_error({"--url", "ws://h:1/", "--json=yes"}, "--json takes no value");
  expect_error({"--url", "http://h:1/"}, "--url: postern-load speaks ws://, wss:// and tcp://, not http://");
  expect_error({"--url", "tcp://h"}, "--url: missing port in 'tcp://h' (tcp URIs need scheme://host:port)");
  expect_error({"--url", "wss://h/"}, "--url: wss:// needs --ca FILE, the CA bundle that verifies the server");
  expect_error({"--url", "ws://h/", "--ca", "x.pem"}, "--ca applies to wss:// only");
  expect_error({"--url", "tcp://h:1", "--text"}, "--text applies to ws:// and wss:// only");
  expect_error({"--url", "ws://h/", "--connections", "0"},
               "--connections: '0' is not a whole number from 1 to 1000000");
  expect_error({"--url", "ws://h/", "--in-flight", "1x"},
               "--in-flight: '1x' is not a whole number from 1 to 65536");
  expect_error({"--url", "ws://h/", "--threads", "1025"}, "--threads: '1025' is not a whole number from 1 to 1024");
  expect_error({"--url", "ws://h/", "--duration", "0s"}, "--duration must be above 0");
  expect_error({"--url", "ws://h/", "--rate", "0"},
               "--rate: '0' is not a number of messages per second above 0 (at most 1e9)");
  expect_error({"--url", "ws://h/", "--rate", "5/s"},
               "--rate: '5/s' is not a number of messages per second above 0 (at most 1e9)");
  expect_error({"--url", "ws://h/", "--hold", "--rate", "10"}, "--hold sends nothing: --rate does not apply");
  expect_error({"--url", "ws://h/", "--size", "8"},
               "--size: '8' is not a size from 16 bytes to 64 MiB (such as 64, 4k or 1MiB)");
}

}  // namespace
}  // namespace postern::load
