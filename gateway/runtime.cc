#include "gateway/runtime.h"

#include <algorithm>

namespace postern::gateway {

namespace {

net::tls_settings::verify_kind to_verify(std::optional<config::verify_client> v) {
  if (!v) return net::tls_settings::verify_kind::none;
  switch (*v) {
    case config::verify_client::optional: return net::tls_settings::verify_kind::optional;
    case config::verify_client::required: return net::tls_settings::verify_kind::required;
    case config::verify_client::none: break;
  }
  return net::tls_settings::verify_kind::none;
}

std::unique_ptr<net::tls_context> make_context(const net::tls_settings& settings, const std::string& who) {
  try {
    return std::make_unique<net::tls_context>(net::tls_context::make(settings));
  } catch (const net::tls_error& e) {
    throw runtime_error(who + ": " + e.what());
  }
}

std::uint64_t ms(std::optional<config::milliseconds> d, std::uint64_t fallback) {
  return d ? static_cast<std::uint64_t>(d->count()) : fallback;
}

bool same_tls(const config::tls_options& a, const config::tls_options& b) {
  return a.ciphers == b.ciphers && a.protocols == b.protocols && a.verify_client == b.verify_client;
}

}  // namespace

const net::tls_context* runtime::server_tls_of(const endpoint& ep) const noexcept {
  auto index = static_cast<std::size_t>(&ep - endpoints.data());
  auto it = server_tls.find(index);
  return it == server_tls.end() ? nullptr : it->second.get();
}

const proxy_plan* runtime::plan_of(const config::service_config& service) const noexcept {
  auto it = proxies.find(&service);
  return it == proxies.end() ? nullptr : &it->second;
}

std::vector<std::string> unsupported_features(const config::gateway_config& config) {
  std::vector<std::string> out;
  for (const config::service_config& s : config.services) {
    const std::string who = "service '" + s.name + "'";
    switch (s.type) {
      case config::service_type::management:
        out.push_back(who + ": type " + std::string(config::to_string(s.type)) +
                      " is not available in this build yet");
        continue;
      case config::service_type::echo:
      case config::service_type::proxy:
      case config::service_type::balancer:
        break;
    }
    if (s.type == config::service_type::balancer && !config.cluster) {
      // Standalone balancer: its only member is this process, so a local service must balance it.
      bool served = false;
      for (const config::service_config& m : config.services)
        for (const net::uri& b : m.balances)
          for (const net::uri& a : s.accepts) served = served || b == a;
      if (!served)
        out.push_back(who + ": type balancer without <cluster> needs a service here whose <balance> names one of its "
                            "accept URIs (it would have no member to send clients to)");
    }
    if (!listens(s))
      out.push_back(who + ": reverse connectivity (socks.mode reverse in accept-options) is not available in this build yet");
    const auto& co = s.connect_options;
    if (co.http_transport || co.tcp_transport || co.socks_mode)
      out.push_back(who + ": connecting through a socks transport is not available in this build yet");
    if (s.type == config::service_type::proxy) {
      bool ws_accept = std::ranges::any_of(s.accepts, [](const net::uri& u) { return net::is_http_family(u.scheme); });
      bool stream_accept = std::ranges::any_of(s.accepts, [](const net::uri& u) { return !net::is_http_family(u.scheme); });
      bool ws_connect = std::ranges::any_of(s.connects, [](const net::uri& u) { return net::is_http_family(u.scheme); });
      if (stream_accept && ws_connect)
        out.push_back(who + ": a tcp:// or ssl:// accept cannot be proxied to a ws:// or wss:// connect in this build");
      (void)ws_accept;
    }
  }
  // <cluster> is served by gateway/cluster_node (UDP gossip); its addresses are checked there.
  return out;
}

std::shared_ptr<const runtime> build_runtime(std::shared_ptr<const config::gateway_config> config) {
  auto rt = std::make_shared<runtime>();
  rt->config = config;
  try {
    rt->endpoints = build_endpoints(*config);
  } catch (const route_error& e) {
    throw runtime_error(e.what());
  }
  const config::security_config& security = config->security;

  for (std::size_t i = 0; i < rt->endpoints.size(); ++i) {
    const endpoint& ep = rt->endpoints[i];
    if (ep.kind != endpoint_kind::https && ep.kind != endpoint_kind::tls) continue;
    const config::service_config& first = *ep.routes.front().service;
    for (const route& r : ep.routes)
      if (!same_tls(r.service->accept_options.ssl, first.accept_options.ssl))
        throw runtime_error("services '" + first.name + "' and '" + r.service->name + "' share " +
                            ep.address.to_string() + " but ask for different ssl.* accept options");
    if (!security.keystore_file)
      throw runtime_error("service '" + first.name + "': a secure accept needs <security><keystore>");
    net::tls_settings settings;
    settings.side = net::tls_settings::side_kind::server;
    settings.identity_file = *security.keystore_file;
    settings.trust_file = security.truststore_file.value_or("");
    settings.verify_client = to_verify(first.accept_options.ssl.verify_client);
    settings.ciphers = first.accept_options.ssl.ciphers.value_or("");
    settings.protocols = first.accept_options.ssl.protocols.value_or("");
    rt->server_tls[i] = make_context(settings, "listener " + ep.address.to_string());
  }

  for (const config::service_config& s : config->services) {
    if (s.type != config::service_type::proxy) continue;
    proxy_plan plan;
    const auto& co = s.connect_options;
    const auto& ao = s.accept_options;
    plan.connect_timeout_ms = ms(co.connect_timeout, plan.connect_timeout_ms);
    plan.max_pending_bytes = s.maximum_pending_bytes.value_or(plan.max_pending_bytes);
    plan.client_inactivity_ms = ms(ao.ws_inactivity_timeout, 0);
    plan.backend_inactivity_ms = ms(co.ws_inactivity_timeout, 0);
    plan.max_message_bytes = ao.ws_maximum_message_size.value_or(plan.max_message_bytes);
    plan.recovery_interval_ms = ms(s.maximum_recovery_interval, plan.recovery_interval_ms);
    const net::tls_context* client_tls = nullptr;
    for (const net::uri& c : s.connects) {
      backend_target t;
      t.uri = c;
      t.websocket = net::is_http_family(c.scheme);
      auto address = net::resolve_address(c.host, c.port);
      if (!address) throw runtime_error("service '" + s.name + "': connect " + c.to_string() + ": " + address.error());
      t.address = *address;
      if (net::is_secure(c.scheme)) {
        if (!client_tls) {
          if (!security.truststore_file)
            throw runtime_error("service '" + s.name + "': connect " + c.to_string() +
                                " needs <security><truststore> to verify the backend's certificate");
          net::tls_settings settings;
          settings.side = net::tls_settings::side_kind::client;
          settings.identity_file = security.keystore_file.value_or("");
          settings.trust_file = *security.truststore_file;
          settings.ciphers = co.ssl.ciphers.value_or("");
          settings.protocols = co.ssl.protocols.value_or("");
          rt->client_tls.push_back(make_context(settings, "service '" + s.name + "'"));
          client_tls = rt->client_tls.back().get();
        }
        t.tls = client_tls;
      }
      plan.backends.push_back(std::move(t));
    }
    rt->proxies.emplace(&s, std::move(plan));
  }
  return rt;
}

}  // namespace postern::gateway
