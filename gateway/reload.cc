#include "gateway/reload.h"

#include <algorithm>

namespace postern::gateway {
namespace {

bool socks_transport(const config::service_options& o) {
  for (const auto* t : {&o.http_transport, &o.tcp_transport})
    if (*t && ((*t)->scheme == net::uri_scheme::socks || (*t)->scheme == net::uri_scheme::socks_ssl)) return true;
  return false;
}

std::string quoted(const config::service_config& s) { return "service '" + s.name + "'"; }

}  // namespace

bool fixed_at_start(const config::service_config& service) {
  return service.type == config::service_type::balancer || !service.balances.empty() ||
         socks_transport(service.accept_options) || socks_transport(service.connect_options);
}

std::expected<reload_plan, std::vector<std::string>> plan_reload(const config::gateway_config& running,
                                                                 const config::gateway_config& next) {
  std::vector<std::string> refused;
  if (running.fixed_fingerprint != next.fixed_fingerprint)
    refused.push_back("<cluster> or <reactor> changed: restart postern to apply that");
  reload_plan plan;
  std::vector<bool> matched(next.services.size(), false);
  for (const config::service_config& old : running.services) {
    const config::service_config* equal = nullptr;
    for (std::size_t i = 0; i < next.services.size() && !equal; ++i)
      if (!matched[i] && next.services[i].fingerprint == old.fingerprint) {
        matched[i] = true;
        equal = &next.services[i];
      }
    if (equal) {
      plan.kept.emplace_back(&old, equal);
      continue;
    }
    plan.stopped.push_back(&old);
    if (fixed_at_start(old))
      refused.push_back(quoted(old) +
                        " takes part in the cluster or the reverse links: changing or removing it needs a restart");
  }
  for (std::size_t i = 0; i < next.services.size(); ++i) {
    if (matched[i]) continue;
    plan.started.push_back(&next.services[i]);
    const bool changed = std::ranges::any_of(plan.stopped, [&](const config::service_config* s) {
      return s->name == next.services[i].name && fixed_at_start(*s);
    });  // said already: changing it needs a restart
    if (fixed_at_start(next.services[i]) && !changed)
      refused.push_back(quoted(next.services[i]) +
                        " would take part in the cluster or the reverse links: adding it needs a restart");
  }
  if (!refused.empty()) return std::unexpected(std::move(refused));
  return plan;
}

}  // namespace postern::gateway
