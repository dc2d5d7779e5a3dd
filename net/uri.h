// uri: the URIs of gateway-config.xml (accept, connect, balance, transports). Pure.
// Schemes: tcp, ssl (tls is an alias and parses as ssl), ws, wss, http, https, udp, socks,
// socks+ssl (socks+tls alias). Hosts are names, IPv4 literals or bracketed IPv6 literals,
// kept lower-case. Default ports: ws/http 80, wss/https 443, socks/socks+ssl 1080; tcp, ssl
// and udp need an explicit port.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace postern::net {

enum class uri_scheme : std::uint8_t { tcp, ssl, ws, wss, http, https, udp, socks, socks_ssl };

std::string_view to_string(uri_scheme scheme);  // "tcp", "ssl", ..., "socks+ssl"
bool is_secure(uri_scheme scheme) noexcept;      // ssl, wss, https, socks+ssl
// True for ws/wss/http/https: URIs that carry a path and go through an HTTP request.
bool is_http_family(uri_scheme scheme) noexcept;

struct uri {
  uri_scheme scheme = uri_scheme::tcp;
  std::string host;          // lower-case; IPv6 without brackets
  std::uint16_t port = 0;    // always set (default filled in)
  bool port_explicit = false;
  bool host_is_ipv6 = false;
  std::string path;          // "/" at least for http-family schemes; empty for the others
  std::string query;         // without '?'

  // host[:port] as it appears in a Host header: IPv6 bracketed, port omitted when default.
  std::string authority() const;
  // host:port always with the port (IPv6 bracketed).
  std::string host_port() const;
  std::string to_string() const;
  friend bool operator==(const uri&, const uri&) = default;
};

// Parses text; on failure returns a sentence naming what is wrong ("missing port in
// 'tcp://host'", "unknown scheme 'foo' (expected tcp, ssl, ...)").
std::expected<uri, std::string> parse_uri(std::string_view text);

std::uint16_t default_port(uri_scheme scheme) noexcept;  // 0 when the scheme has none

// A bind address as the *.bind options write it: "8001" (all addresses), "host:port",
// "[v6]:port" or "tcp://host:port". host is empty for the wildcard.
struct bind_address {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const bind_address&, const bind_address&) = default;
};
std::expected<bind_address, std::string> parse_bind_address(std::string_view text);

}  // namespace postern::net
