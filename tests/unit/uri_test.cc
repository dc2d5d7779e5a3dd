#include "net/uri.h"

#include <gtest/gtest.h>

#include <string>

namespace postern::net {
namespace {

// Parses text, expecting success.
uri ok(std::string_view text) {
  auto parsed = parse_uri(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error());
  return parsed.value_or(uri{});
}

// Parses text, expecting a failure whose message names the input and contains every part.
void refused(std::string_view text, std::initializer_list<std::string_view> parts) {
  auto parsed = parse_uri(text);
  ASSERT_FALSE(parsed.has_value()) << text << " parsed as " << parsed->to_string();
  EXPECT_NE(parsed.error().find("'" + std::string(text) + "'"), std::string::npos) << parsed.error();
  for (std::string_view part : parts) {
    EXPECT_NE(parsed.error().find(part), std::string::npos) << "'" << part << "' not in: " << parsed.error();
  }
}

TEST(uri, schemes_aliases_and_default_ports) {
  struct row {
    std::string_view text;
    uri_scheme scheme;
    std::uint16_t port;
    bool secure;
    bool http_family;
    std::string_view name;
  };
  const row rows[] = {
      {"tcp://h:1", uri_scheme::tcp, 1, false, false, "tcp"},
      {"ssl://h:2", uri_scheme::ssl, 2, true, false, "ssl"},
      {"tls://h:3", uri_scheme::ssl, 3, true, false, "ssl"},
      {"udp://224.2.2.44:44444", uri_scheme::udp, 44444, false, false, "udp"},
      {"ws://h", uri_scheme::ws, 80, false, true, "ws"},
      {"wss://h", uri_scheme::wss, 443, true, true, "wss"},
      {"http://h", uri_scheme::http, 80, false, true, "http"},
      {"https://h", uri_scheme::https, 443, true, true, "https"},
      {"socks://h", uri_scheme::socks, 1080, false, false, "socks"},
      {"socks+ssl://h", uri_scheme::socks_ssl, 1080, true, false, "socks+ssl"},
      {"socks+tls://h", uri_scheme::socks_ssl, 1080, true, false, "socks+ssl"},
      {"WSS://H", uri_scheme::wss, 443, true, true, "wss"},
  };
  for (const row& r : rows) {
    SCOPED_TRACE(std::string(r.text));
    const uri u = ok(r.text);
    EXPECT_EQ(u.scheme, r.scheme);
    EXPECT_EQ(u.port, r.port);
    EXPECT_EQ(is_secure(u.scheme), r.secure);
    EXPECT_EQ(is_http_family(u.scheme), r.http_family);
    EXPECT_EQ(to_string(u.scheme), r.name);
    EXPECT_EQ(u.path, r.http_family ? "/" : "");
  }
  EXPECT_EQ(default_port(uri_scheme::tcp), 0);
  EXPECT_EQ(default_port(uri_scheme::ssl), 0);
  EXPECT_EQ(default_port(uri_scheme::udp), 0);
  EXPECT_EQ(default_port(uri_scheme::socks_ssl), 1080);
}

TEST(uri, fields_of_a_full_uri) {
  const uri u = ok("wss://Gateway.Example.COM:8443/App1/chat?room=7&Name=Ann");
  EXPECT_EQ(u.scheme, uri_scheme::wss);
  EXPECT_EQ(u.host, "gateway.example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_TRUE(u.port_explicit);
  EXPECT_FALSE(u.host_is_ipv6);
  EXPECT_EQ(u.path, "/App1/chat");  // the path keeps its case
  EXPECT_EQ(u.query, "room=7&Name=Ann");
  EXPECT_EQ(u.authority(), "gateway.example.com:8443");
  EXPECT_EQ(u.host_port(), "gateway.example.com:8443");
  EXPECT_EQ(u.to_string(), "wss://gateway.example.com:8443/App1/chat?room=7&Name=Ann");

  const uri d = ok("ws://localhost/echo");
  EXPECT_FALSE(d.port_explicit);
  EXPECT_EQ(d.port, 80);
  EXPECT_EQ(d.authority(), "localhost");
  EXPECT_EQ(d.host_port(), "localhost:80");
  EXPECT_EQ(d.to_string(), "ws://localhost/echo");

  // An explicit default port: left out of the Host header, kept in to_string.
  const uri e = ok("https://a.b:443");
  EXPECT_EQ(e.authority(), "a.b");
  EXPECT_EQ(e.to_string(), "https://a.b:443/");
  EXPECT_NE(e, ok("https://a.b"));  // port_explicit differs

  EXPECT_EQ(ok("ws://h?x=1").path, "/");
  EXPECT_EQ(ok("ws://h?x=1").query, "x=1");
  EXPECT_EQ(ok("http://h/a%2Fb/~x;p=1:@!$&'()*+,=").path, "/a%2Fb/~x;p=1:@!$&'()*+,=");
  EXPECT_EQ(ok("http://h/?a=/b?c").query, "a=/b?c");
}

TEST(uri, ip_literals) {
  const uri v4 = ok("tcp://127.0.0.1:8001");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_FALSE(v4.host_is_ipv6);

  const uri v6 = ok("ws://[FE80::1:AbCd]:8000/x");
  EXPECT_EQ(v6.host, "fe80::1:abcd");
  EXPECT_TRUE(v6.host_is_ipv6);
  EXPECT_EQ(v6.authority(), "[fe80::1:abcd]:8000");
  EXPECT_EQ(v6.host_port(), "[fe80::1:abcd]:8000");
  EXPECT_EQ(v6.to_string(), "ws://[fe80::1:abcd]:8000/x");

  const uri loopback = ok("wss://[::1]");
  EXPECT_EQ(loopback.host, "::1");
  EXPECT_EQ(loopback.authority(), "[::1]");
  EXPECT_EQ(loopback.host_port(), "[::1]:443");
  EXPECT_EQ(ok("tcp://[::ffff:10.0.0.1]:5").host, "::ffff:10.0.0.1");
}

TEST(uri, to_string_round_trips) {
  for (std::string_view text :
       {"tcp://h:1", "tls://10.1.2.3:65535", "ws://[::1]:80/a?b", "wss://x.y/p/q?r=s&t",
        "socks+tls://dmz:1443", "udp://224.2.2.44:44444", "http://h/%41", "https://h:8443/"}) {
    const uri u = ok(text);
    EXPECT_EQ(ok(u.to_string()), u) << text << " -> " << u.to_string();
  }
}

TEST(uri, refuses_what_it_cannot_use) {
  refused("localhost:8000", {"not a URI", "scheme://"});
  refused("foo://h:1", {"unknown scheme 'foo'", "tcp, ssl"});
  refused("wsn+ssl://dmz:1080/shield", {"unknown scheme 'wsn+ssl'"});
  refused("pipe://name", {"unknown scheme 'pipe'"});
  refused("tcp://host", {"missing port", "tcp"});
  refused("ssl://host", {"missing port"});
  refused("udp://224.2.2.44", {"missing port"});
  refused("tcp://h:0", {"port '0'", "1-65535"});
  refused("tcp://h:65536", {"'65536'", "1-65535"});
  refused("tcp://h:99999999999999999999", {"1-65535"});
  refused("tcp://h:", {"empty port"});
  refused("tcp://h:8x", {"invalid port '8x'"});
  refused("tcp://h:-1", {"invalid port '-1'"});
  refused("tcp://h:+1", {"invalid port '+1'"});
  refused("tcp://h:1/", {"path '/' not allowed"});
  refused("tcp://h:1/x", {"path '/x' not allowed"});
  refused("ssl://h:1?x", {"query not allowed"});
  refused("socks://h/x", {"path '/x' not allowed"});
  refused("udp://h:1/x", {"path '/x' not allowed"});
  refused("ws://user:pw@h/x", {"user information 'user:pw@' not allowed"});
  refused("tcp://@eth0:5941", {"network-interface host '@eth0:5941' not supported"});
  refused("ws://h/x#top", {"fragment '#top' not allowed"});
  refused("ws://h#", {"fragment '#' not allowed"});
  refused("ws://", {"missing host"});
  refused("ws:///path", {"missing host"});
  refused("tcp://:80", {"missing host"});
  refused("ws://h b/", {"invalid character", "host"});
  refused("ws://h_%zz/", {"bad percent-encoding in host"});
  refused("ws://h/a b", {"invalid character ' ' in path"});
  refused("ws://h/a%2", {"bad percent-encoding in path"});
  refused("ws://h/a\x01", {"invalid character byte 1 in path"});
  refused("ws://h/?a b", {"invalid character ' ' in query"});
  refused("ws://h/?%g0", {"bad percent-encoding in query"});
  refused("ws://h/a|b", {"invalid character '|' in path"});
  refused("ws://1.2.3/", {"invalid IPv4 address '1.2.3'"});
  refused("ws://1.2.3.256/", {"invalid IPv4 address '1.2.3.256'"});
  refused("ws://127.1/", {"invalid IPv4 address"});
  refused("tcp://8001:1", {"invalid IPv4 address '8001'"});
  refused("tcp://::1:80", {"IPv6 address must be in brackets"});
  refused("tcp://[::1:80", {"unterminated IPv6 literal"});
  refused("tcp://[::g]:80", {"invalid IPv6 address '::g'"});
  refused("tcp://[1.2.3.4]:80", {"invalid IPv6 address '1.2.3.4'"});
  refused("tcp://[]:80", {"invalid IPv6 address ''"});
  refused("tcp://[fe80::1%25eth0]:80", {"invalid IPv6 address"});
  refused("tcp://[::1]x:80", {"unexpected 'x:80' after the IPv6 literal"});
  refused("tcp://" + std::string(254, 'a') + ":1", {"longer than 253 bytes"});
  EXPECT_TRUE(parse_uri("tcp://" + std::string(253, 'a') + ":1").has_value());
}

TEST(uri, bind_addresses) {
  const auto bind = [](std::string_view text) {
    auto parsed = parse_bind_address(text);
    EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error());
    return parsed.value_or(bind_address{"unparsed", 0});
  };
  EXPECT_EQ(bind("8001"), (bind_address{"", 8001}));
  EXPECT_EQ(bind("443"), (bind_address{"", 443}));
  EXPECT_EQ(bind("Gateway.Local:8001"), (bind_address{"gateway.local", 8001}));
  EXPECT_EQ(bind("0.0.0.0:80"), (bind_address{"0.0.0.0", 80}));
  EXPECT_EQ(bind("[::1]:9000"), (bind_address{"::1", 9000}));
  EXPECT_EQ(bind("[::]:9000"), (bind_address{"::", 9000}));
  EXPECT_EQ(bind("tcp://127.0.0.2:8443"), (bind_address{"127.0.0.2", 8443}));
  EXPECT_EQ(bind("tcp://[::1]:1"), (bind_address{"::1", 1}));

  const auto refused_bind = [](std::string_view text, std::string_view part) {
    auto parsed = parse_bind_address(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_NE(parsed.error().find(part), std::string::npos) << parsed.error();
    EXPECT_NE(parsed.error().find("'" + std::string(text) + "'"), std::string::npos) << parsed.error();
  };
  refused_bind("0", "port '0'");
  refused_bind("65536", "1-65535");
  refused_bind("host", "missing port in bind address 'host'");
  refused_bind("host:", "empty port");
  refused_bind("[::1]", "missing port");
  refused_bind(":8001", "missing host");
  refused_bind("ssl://h:1", "has scheme 'ssl'");
  refused_bind("ws://h:1/", "has scheme 'ws'");
  refused_bind("tcp://h", "missing port");
  refused_bind("tcp://h:1/x", "path '/x' not allowed");
  refused_bind("h:1/x", "invalid bind address");
  refused_bind("a@h:1", "invalid bind address");
  refused_bind("::1:80", "IPv6 address must be in brackets");
  refused_bind("1.2.3:80", "invalid IPv4 address");
  EXPECT_FALSE(parse_bind_address("").has_value());
}

}  // namespace
}  // namespace postern::net
