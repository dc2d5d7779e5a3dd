#include "gateway/origin.h"

#include <algorithm>
#include <charconv>

namespace postern::gateway {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The origin a browser would send for a page served from this URI's host.
std::string origin_of(const net::uri& u) {
  bool secure = net::is_secure(u.scheme);
  std::string host = u.host_is_ipv6 ? "[" + u.host + "]" : u.host;
  return std::string(secure ? "https://" : "http://") + lower(host) + ":" + std::to_string(u.port);
}

}  // namespace

std::string normalize_origin(std::string_view origin) {
  std::string o = lower(origin);
  std::string_view rest = o;
  std::string scheme;
  std::uint16_t port = 0;
  if (rest.starts_with("http://")) {
    scheme = "http";
    port = 80;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    scheme = "https";
    port = 443;
    rest.remove_prefix(8);
  } else {
    return {};
  }
  if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos) return {};
  std::string_view host = rest;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return {};
    std::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return {};
      rest = after.substr(1);
    } else {
      rest = {};
    }
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    rest = host.substr(colon + 1);
    host = host.substr(0, colon);
  } else {
    rest = {};
  }
  if (!rest.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc{} || end != rest.data() + rest.size() || value == 0 || value > 65535) return {};
    port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) return {};
  return scheme + "://" + std::string(host) + ":" + std::to_string(port);
}

bool origin_allowed(const config::service_config& service, const net::uri& accept, std::string_view origin) {
  if (origin.empty()) return true;
  bool wildcard = std::ranges::any_of(service.cross_site, [](const auto& c) { return c.allow_origin == "*"; });
  if (origin == "null") return wildcard;
  std::string normal = normalize_origin(origin);
  if (normal.empty()) return wildcard;
  if (normal == origin_of(accept)) return true;
  for (const net::uri& balance : service.balances)
    if (normal == origin_of(balance)) return true;
  if (wildcard) return true;
  return std::ranges::any_of(service.cross_site, [&](const auto& c) {
    return normalize_origin(c.allow_origin) == normal;
  });
}

}  // namespace postern::gateway
