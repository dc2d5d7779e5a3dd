#include "gateway/runtime.h"

#include <algorithm>
#include <cctype>

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

// The socks:// or socks+ssl:// transport of an options block, or nullptr. Without socks.mode the
// mode is forward, as in KAAZING.
const net::uri* socks_transport(const config::service_options& o) {
  const net::uri* t = o.http_transport ? &*o.http_transport : o.tcp_transport ? &*o.tcp_transport : nullptr;
  if (!t || (t->scheme != net::uri_scheme::socks && t->scheme != net::uri_scheme::socks_ssl)) return nullptr;
  return t;
}

bool reverse_mode(const config::service_options& o) { return o.socks_mode == config::socks_mode::reverse; }

// The verify-client of the side that accepts links (the DMZ's backplane in reverse mode, the
// internal gateway's socks listener in forward mode): socks.ssl.verify-client, else
// ssl.verify-client, else required (an unauthenticated link would carry clients into, or
// receive clients from, the trusted network).
net::tls_settings::verify_kind link_verify(const config::service_options& o) {
  if (o.socks_ssl.verify_client) return to_verify(o.socks_ssl.verify_client);
  if (o.ssl.verify_client) return to_verify(o.ssl.verify_client);
  return net::tls_settings::verify_kind::required;
}

const config::tls_options& link_tls_options(const config::service_options& o) {
  return o.socks_ssl.ciphers || o.socks_ssl.protocols ? o.socks_ssl : o.ssl;
}

// Reverse connectivity (DESIGN §5): the DMZ's backplanes and the internal side's reverse accepts.
void build_reverse(runtime& rt) {
  const config::gateway_config& config = *rt.config;
  const config::security_config& security = config.security;
  for (const config::service_config& s : config.services) {
    const std::string who = "service '" + s.name + "'";
    // DMZ side: a proxy whose connect goes through a reverse socks transport.
    if (const net::uri* t = socks_transport(s.connect_options);
        t && reverse_mode(s.connect_options) && s.type == config::service_type::proxy) {
      if (s.connects.size() != 1)
        throw runtime_error(who + ": socks.mode reverse in connect-options takes exactly one <connect> (the logical "
                                  "URI the internal gateway binds), not " + std::to_string(s.connects.size()));
      auto address = net::resolve_address(t->host, t->port);
      if (!address) throw runtime_error(who + ": transport " + t->to_string() + ": " + address.error());
      for (const endpoint& ep : rt.endpoints)
        if (ep.address == *address)
          throw runtime_error(who + ": backplane " + t->to_string() + " is also the listen address of service '" +
                              ep.routes.front().service->name + "'");
      auto bp = std::ranges::find_if(rt.backplanes, [&](const backplane_plan& b) { return b.address == *address; });
      if (bp == rt.backplanes.end()) {
        backplane_plan plan;
        plan.transport = *t;
        plan.address = *address;
        if (t->scheme == net::uri_scheme::socks_ssl) {
          if (!security.keystore_file) throw runtime_error(who + ": backplane " + t->to_string() + " needs <security><keystore>");
          net::tls_settings settings;
          settings.side = net::tls_settings::side_kind::server;
          settings.identity_file = *security.keystore_file;
          settings.trust_file = security.truststore_file.value_or("");
          settings.verify_client = link_verify(s.connect_options);
          if (settings.verify_client != net::tls_settings::verify_kind::none && settings.trust_file.empty())
            throw runtime_error(who + ": backplane " + t->to_string() +
                                " checks the internal gateways' certificates and needs <security><truststore>");
          const config::tls_options& o = link_tls_options(s.connect_options);
          settings.ciphers = o.ciphers.value_or("");
          settings.protocols = o.protocols.value_or("");
          rt.client_tls.push_back(make_context(settings, "backplane " + t->to_string()));
          plan.tls = rt.client_tls.back().get();
        }
        rt.backplanes.push_back(std::move(plan));
        bp = rt.backplanes.end() - 1;
      } else if (bp->transport.scheme != t->scheme) {
        throw runtime_error(who + ": backplane " + t->to_string() + " is also used as " + bp->transport.to_string());
      }
      const std::string logical = s.connects.front().to_string();
      if (std::ranges::find(bp->logical_uris, logical) == bp->logical_uris.end()) bp->logical_uris.push_back(logical);
      bp->services.push_back(&s);
      proxy_plan& plan = rt.proxies.at(&s);
      plan.reverse = true;
      plan.logical_uri = logical;
      plan.socks_timeout_ms = ms(s.connect_options.socks_timeout, plan.socks_timeout_ms);
    }
    // Internal side: a service whose accepts are served over links: dialed to the DMZ and parked
    // there (reverse), or accepted from the DMZ on the transport's address (forward).
    if (const net::uri* t = socks_transport(s.accept_options)) {
      const bool reverse = reverse_mode(s.accept_options);
      auto address = net::resolve_address(t->host, t->port);
      if (!address) throw runtime_error(who + ": transport " + t->to_string() + ": " + address.error());
      const net::tls_context* tls = nullptr;
      if (t->scheme == net::uri_scheme::socks_ssl) {
        net::tls_settings settings;
        const config::tls_options& o = link_tls_options(s.accept_options);
        settings.ciphers = o.ciphers.value_or("");
        settings.protocols = o.protocols.value_or("");
        if (reverse) {
          if (!security.truststore_file)
            throw runtime_error(who + ": transport " + t->to_string() +
                                " needs <security><truststore> to verify the DMZ gateway's certificate");
          settings.side = net::tls_settings::side_kind::client;
          settings.identity_file = security.keystore_file.value_or("");
          settings.trust_file = *security.truststore_file;
        } else {
          if (!security.keystore_file) throw runtime_error(who + ": transport " + t->to_string() + " needs <security><keystore>");
          settings.side = net::tls_settings::side_kind::server;
          settings.identity_file = *security.keystore_file;
          settings.trust_file = security.truststore_file.value_or("");
          settings.verify_client = link_verify(s.accept_options);
          if (settings.verify_client != net::tls_settings::verify_kind::none && settings.trust_file.empty())
            throw runtime_error(who + ": transport " + t->to_string() +
                                " checks the DMZ gateways' certificates and needs <security><truststore>");
        }
        rt.client_tls.push_back(make_context(settings, who + " transport " + t->to_string()));
        tls = rt.client_tls.back().get();
      }
      for (const net::uri& a : s.accepts) {
        socks_accept r;
        r.service = &s;
        r.mode = reverse ? config::socks_mode::reverse : config::socks_mode::forward;
        r.logical_uri = a.to_string();
        r.logical_port = a.port;
        r.transport = *t;
        r.link_address = *address;
        r.tls = tls;
        r.prepared = std::max(1u, s.prepared_connection_count.value_or(1));
        r.retry_max_ms = ms(s.accept_options.socks_retry_maximum_interval, r.retry_max_ms);
        r.ep.address = *address;
        r.ep.kind = net::is_http_family(a.scheme) ? endpoint_kind::http : endpoint_kind::tcp;
        std::string host = a.host;
        for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.ep.routes.push_back(route{host, a.port, net::is_http_family(a.scheme) ? a.path : std::string(), &s, &a});
        rt.socks_accepts.push_back(std::move(r));
      }
    }
  }
}

}  // namespace

const net::tls_context* runtime::server_tls_of(const endpoint& ep) const noexcept {
  if (endpoints.empty() || &ep < endpoints.data() || &ep >= endpoints.data() + endpoints.size())
    return nullptr;  // a reverse accept's endpoint: the link's TLS is the only TLS layer
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
    for (const auto* o : {&s.accept_options, &s.connect_options}) {
      const std::string_view side = o == &s.accept_options ? "accept-options" : "connect-options";
      const net::uri* t = o->http_transport ? &*o->http_transport : o->tcp_transport ? &*o->tcp_transport : nullptr;
      if (t && t->scheme != net::uri_scheme::socks && t->scheme != net::uri_scheme::socks_ssl)
        out.push_back(who + ": " + std::string(side) + " transport " + t->to_string() +
                      " is not available in this build (postern takes socks:// and socks+ssl:// transports)");
      else if (!t && o->socks_mode)
        out.push_back(who + ": " + std::string(side) + " socks.mode needs http.transport or tcp.transport");
    }
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
      if (const net::uri* via = socks_transport(co)) {
        if (reverse_mode(co)) {  // reached over a parked reverse link: nothing to resolve or dial
          plan.backends.push_back(std::move(t));
          continue;
        }
        // Forward: dial the transport's address, TLS to its host for socks+ssl, then CONNECT.
        auto address = net::resolve_address(via->host, via->port);
        if (!address) throw runtime_error("service '" + s.name + "': transport " + via->to_string() + ": " + address.error());
        t.address = *address;
        t.socks_connect = true;
        t.tls_name = via->host;
        if (via->scheme == net::uri_scheme::socks_ssl) {
          if (!security.truststore_file)
            throw runtime_error("service '" + s.name + "': transport " + via->to_string() +
                                " needs <security><truststore> to verify the internal gateway's certificate");
          net::tls_settings settings;
          settings.side = net::tls_settings::side_kind::client;
          settings.identity_file = security.keystore_file.value_or("");
          settings.trust_file = *security.truststore_file;
          const config::tls_options& o = link_tls_options(co);
          settings.ciphers = o.ciphers.value_or("");
          settings.protocols = o.protocols.value_or("");
          rt->client_tls.push_back(make_context(settings, "service '" + s.name + "' transport " + via->to_string()));
          t.tls = rt->client_tls.back().get();
        }
        plan.backends.push_back(std::move(t));
        continue;
      }
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
  build_reverse(*rt);
  return rt;
}

}  // namespace postern::gateway
