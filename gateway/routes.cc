#include "gateway/routes.h"

#include <algorithm>
#include <charconv>

namespace postern::gateway {

std::string_view to_string(endpoint_kind kind) {
  switch (kind) {
    case endpoint_kind::http: return "http";
    case endpoint_kind::https: return "https";
    case endpoint_kind::tcp: return "tcp";
    case endpoint_kind::tls: return "tls";
  }
  return "?";
}

namespace {

endpoint_kind kind_of(net::uri_scheme scheme) {
  switch (scheme) {
    case net::uri_scheme::ws:
    case net::uri_scheme::http: return endpoint_kind::http;
    case net::uri_scheme::wss:
    case net::uri_scheme::https: return endpoint_kind::https;
    case net::uri_scheme::ssl: return endpoint_kind::tls;
    default: return endpoint_kind::tcp;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::ranges::equal(a, b, [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

}  // namespace

net::bind_address bind_address_of(const config::service_config& service, const net::uri& accept) {
  const config::service_options& o = service.accept_options;
  const std::optional<net::bind_address>* specific = nullptr;
  switch (accept.scheme) {
    case net::uri_scheme::ws: specific = &o.ws_bind; break;
    case net::uri_scheme::wss: specific = &o.wss_bind; break;
    case net::uri_scheme::http: specific = &o.http_bind; break;
    case net::uri_scheme::https: specific = &o.https_bind; break;
    case net::uri_scheme::ssl: specific = &o.ssl_bind; break;
    default: break;
  }
  if (specific && *specific) return **specific;
  if (o.tcp_bind) return *o.tcp_bind;
  return net::bind_address{accept.host, accept.port};
}

bool listens(const config::service_config& service) {
  const config::service_options& o = service.accept_options;
  return !o.http_transport && !o.tcp_transport;
}

std::vector<endpoint> build_endpoints(const config::gateway_config& config) {
  std::vector<endpoint> out;
  for (const config::service_config& service : config.services) {
    if (!listens(service)) continue;
    for (const net::uri& accept : service.accepts) {
      net::bind_address bind = bind_address_of(service, accept);
      auto address = net::resolve_address(bind.host, bind.port);
      if (!address)
        throw route_error("service '" + service.name + "': accept " + accept.to_string() + ": " +
                          address.error());
      endpoint_kind kind = kind_of(accept.scheme);
      auto same = std::ranges::find_if(out, [&](const endpoint& e) { return e.address == *address; });
      if (same == out.end()) {
        out.push_back(endpoint{*address, kind, {}});
        same = out.end() - 1;
      } else if (same->kind != kind) {
        throw route_error("service '" + service.name + "': accept " + accept.to_string() +
                          " needs " + std::string(to_string(kind)) + " on " + address->to_string() +
                          ", where another service already listens with " +
                          std::string(to_string(same->kind)));
      } else if (kind == endpoint_kind::tcp || kind == endpoint_kind::tls) {
        throw route_error("service '" + service.name + "': accept " + accept.to_string() +
                          ": address " + address->to_string() + " is already served by service '" +
                          same->routes.front().service->name +
                          "' (tcp:// and ssl:// listeners cannot be shared)");
      }
      // A management service answers under its accept path: <path>/metrics and <path>/health.
      std::vector<std::string> paths{accept.path};
      if (service.type == config::service_type::management) {
        const std::string base = accept.path.ends_with('/') ? accept.path : accept.path + "/";
        paths = {base + "metrics", base + "health"};
      }
      for (std::string& path : paths) {
        route r{lower(accept.host), accept.port, std::move(path), &service, &accept};
        for (const route& existing : same->routes)
          if (existing.host == r.host && existing.port == r.port && existing.path == r.path)
            throw route_error("service '" + service.name + "': accept " + accept.to_string() +
                              " is already served by service '" + existing.service->name + "'");
        same->routes.push_back(std::move(r));
      }
    }
  }
  return out;
}

route_match find_route(const endpoint& ep, std::string_view host_header, std::string_view path) noexcept {
  // Split "host[:port]" / "[v6]:port".
  std::string_view host = host_header;
  std::uint16_t port = (ep.kind == endpoint_kind::https || ep.kind == endpoint_kind::tls) ? 443 : 80;
  bool port_ok = true;
  std::string_view port_text;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return {nullptr, route_miss::unknown_host};
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return {nullptr, route_miss::unknown_host};
      port_text = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    port_ok = ec == std::errc{} && end == port_text.data() + port_text.size() && value > 0 && value < 65536;
    port = static_cast<std::uint16_t>(value);
  }

  bool path_seen = false;
  bool single_authority = true;
  for (const route& r : ep.routes) {
    const route& first = ep.routes.front();
    if (r.host != first.host || r.port != first.port) single_authority = false;
    if (r.path != path) continue;
    path_seen = true;
    if (port_ok && r.port == port && iequals(r.host, host)) return {&r, route_miss::none};
  }
  if (!path_seen) return {nullptr, route_miss::unknown_path};
  if (single_authority)
    for (const route& r : ep.routes)
      if (r.path == path) return {&r, route_miss::none};
  return {nullptr, route_miss::unknown_host};
}

}  // namespace postern::gateway
