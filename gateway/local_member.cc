#include "gateway/local_member.h"

#include <algorithm>

#include "gateway/balancer.h"

namespace postern::gateway {

const local_balance* balancing_plan::find(std::string_view balance_uri) const noexcept {
  for (const local_balance& l : locals)
    if (l.balance_uri == balance_uri) return &l;
  return nullptr;
}

std::shared_ptr<const balancing_plan> build_balancing_plan(const runtime& rt) {
  auto plan = std::make_shared<balancing_plan>();
  for (const config::service_config& s : rt.config->services) {
    if (s.balances.empty()) continue;
    const route* first = nullptr;
    net::socket_address backplane;
    for (const endpoint& ep : rt.endpoints)
      for (const route& r : ep.routes)
        if (r.service == &s && (!first || r.accept == &s.accepts.front())) {
          first = &r;
          backplane = ep.address;
        }
    for (const net::uri& b : s.balances) {
      std::string uri = b.to_string();
      if (plan->find(uri)) continue;
      plan->locals.push_back({std::move(uri), &s, first, backplane});
    }
  }
  const config::security_config& security = rt.config->security;
  if (security.truststore_file) {
    net::tls_settings settings;
    settings.side = net::tls_settings::side_kind::client;
    settings.identity_file = security.keystore_file.value_or("");
    settings.trust_file = *security.truststore_file;
    try {
      plan->member_tls = std::make_unique<net::tls_context>(net::tls_context::make(settings));
    } catch (const net::tls_error& e) {
      throw runtime_error(std::string("balancer: client TLS toward cluster members: ") + e.what());
    }
  }
  return plan;
}

cluster::member_state local_member_state(const runtime& rt, const balancing_plan& plan, std::uint64_t start_ms,
                                         const std::function<bool(const config::service_config&)>& ready) {
  cluster::member_state self;
  const auto& cluster = rt.config->cluster;
  if (cluster && !cluster->accepts.empty()) {
    const net::uri& accept = cluster->accepts.front();
    self.identity = accept.to_string();
    if (auto a = net::resolve_address(accept.host, accept.port)) self.address = *a;
  } else {
    self.identity = std::string(standalone_identity);
    if (auto a = net::resolve_address("0.0.0.0", 0)) self.address = *a;
  }
  self.incarnation = start_ms;
  self.start_time_ms = start_ms;
  for (const local_balance& l : plan.locals) {
    cluster::balance_entry e;
    e.balance_uri = l.balance_uri;
    for (const net::uri& a : l.service->accepts) e.accept_uris.push_back(a.to_string());
    e.backplane = l.backplane;
    e.ready = ready(*l.service);
    self.balances.push_back(std::move(e));
  }
  return self;
}

namespace {

std::expected<backend_target, std::string> member_target(const cluster::balance_candidate& member,
                                                         std::string_view balance_uri, const balancing_plan& plan) {
  const std::string_view accept_uri = member_accept_for(member, balance_uri);
  auto uri = net::parse_uri(accept_uri);
  if (!uri) return std::unexpected("member " + member.identity + ": accept " + std::string(accept_uri) + ": " + uri.error());
  if (!net::is_http_family(uri->scheme))
    return std::unexpected("member " + member.identity + ": accept " + std::string(accept_uri) + " is not ws:// or wss://");
  backend_target t;
  t.uri = std::move(*uri);
  t.address = member.backplane;
  t.websocket = true;
  if (net::is_secure(t.uri.scheme)) {
    if (!plan.member_tls)
      return std::unexpected("member " + member.identity + ": " + std::string(accept_uri) +
                             " needs <security><truststore> to verify the member's certificate");
    t.tls = plan.member_tls.get();
  }
  return t;
}

}  // namespace

std::expected<std::shared_ptr<const proxy_plan>, std::string> member_proxy_plan(
    std::span<const cluster::balance_candidate* const> members, std::string_view balance_uri,
    const config::service_config& balancer, const balancing_plan& plan) {
  if (members.empty()) return std::unexpected(std::string("no member to splice to"));
  auto p = std::make_shared<proxy_plan>();
  for (std::size_t i = 0; i < members.size(); ++i) {
    auto t = member_target(*members[i], balance_uri, plan);
    if (t) p->backends.push_back(std::move(*t));
    else if (i == 0) return std::unexpected(t.error());
  }
  const auto& ao = balancer.accept_options;
  if (ao.ws_inactivity_timeout) p->client_inactivity_ms = static_cast<std::uint64_t>(ao.ws_inactivity_timeout->count());
  if (ao.ws_maximum_message_size) p->max_message_bytes = *ao.ws_maximum_message_size;
  return p;
}

}  // namespace postern::gateway
