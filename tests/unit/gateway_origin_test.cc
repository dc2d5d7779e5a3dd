#include "gateway/origin.h"

#include <gtest/gtest.h>

namespace postern::gateway {
namespace {

net::uri must_parse(std::string_view text) {
  auto u = net::parse_uri(text);
  EXPECT_TRUE(u) << text;
  return *u;
}

config::service_config service_with(std::vector<std::string> origins) {
  config::service_config s;
  s.name = "svc";
  for (auto& o : origins) s.cross_site.push_back({o, {"GET", "POST"}, {}, {}});
  return s;
}

TEST(origin, normalize_fills_default_ports_and_lowercases) {
  EXPECT_EQ(normalize_origin("http://Example.COM"), "http://example.com:80");
  EXPECT_EQ(normalize_origin("https://example.com"), "https://example.com:443");
  EXPECT_EQ(normalize_origin("https://example.com:8443"), "https://example.com:8443");
  EXPECT_EQ(normalize_origin("http://[::1]:8000"), "http://[::1]:8000");
  EXPECT_EQ(normalize_origin("ftp://example.com"), "");
  EXPECT_EQ(normalize_origin("http://example.com/path"), "");
  EXPECT_EQ(normalize_origin("http://example.com:0"), "");
  EXPECT_EQ(normalize_origin("http://example.com:99999"), "");
  EXPECT_EQ(normalize_origin("http://"), "");
}

TEST(origin, no_origin_header_passes) {
  auto s = service_with({});
  EXPECT_TRUE(origin_allowed(s, must_parse("ws://gw.example:8000/echo"), ""));
}

TEST(origin, same_origin_passes_without_constraint) {
  auto s = service_with({});
  auto accept = must_parse("ws://gw.example:8000/echo");
  EXPECT_TRUE(origin_allowed(s, accept, "http://gw.example:8000"));
  EXPECT_FALSE(origin_allowed(s, accept, "https://gw.example:8000"));
  EXPECT_FALSE(origin_allowed(s, accept, "http://other.example:8000"));
  auto secure = must_parse("wss://gw.example/echo");
  EXPECT_TRUE(origin_allowed(s, secure, "https://gw.example"));
}

TEST(origin, balance_uri_counts_as_same_origin) {
  auto s = service_with({});
  s.balances.push_back(must_parse("wss://gateway.example.com:8443/app1"));
  EXPECT_TRUE(origin_allowed(s, must_parse("wss://127.0.1.1:8443/app1"), "https://gateway.example.com:8443"));
}

TEST(origin, listed_origin_passes_others_refused) {
  auto s = service_with({"http://allowed.example:80"});
  auto accept = must_parse("ws://gw.example:8000/echo");
  EXPECT_TRUE(origin_allowed(s, accept, "http://allowed.example"));
  EXPECT_TRUE(origin_allowed(s, accept, "http://ALLOWED.example:80"));
  EXPECT_FALSE(origin_allowed(s, accept, "https://allowed.example"));
  EXPECT_FALSE(origin_allowed(s, accept, "http://evil.example"));
  EXPECT_FALSE(origin_allowed(s, accept, "null"));
}

TEST(origin, wildcard_passes_everything_including_null) {
  auto s = service_with({"*"});
  auto accept = must_parse("ws://gw.example:8000/echo");
  EXPECT_TRUE(origin_allowed(s, accept, "http://evil.example"));
  EXPECT_TRUE(origin_allowed(s, accept, "null"));
  EXPECT_TRUE(origin_allowed(s, accept, "chrome-extension://abc"));
}

}  // namespace
}  // namespace postern::gateway
