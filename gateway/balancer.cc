#include "gateway/balancer.h"

#include <algorithm>

namespace postern::gateway {

cluster::choice_options choice_options_of(const config::service_config& service) noexcept {
  cluster::choice_options options;
  if (service.balancer_local_preference) options.local_preference_factor = *service.balancer_local_preference;
  return options;
}

balancer_mode balancer_mode_of(const config::service_config& service) noexcept {
  return service.balancer_mode && *service.balancer_mode == "redirect" ? balancer_mode::redirect
                                                                       : balancer_mode::proxy;
}

std::string http_location_of(std::string_view accept_uri) {
  if (accept_uri.starts_with("wss://")) return "https://" + std::string(accept_uri.substr(6));
  if (accept_uri.starts_with("ws://")) return "http://" + std::string(accept_uri.substr(5));
  return std::string(accept_uri);
}

std::string_view member_accept_for(const cluster::balance_candidate& member, std::string_view balance_uri) noexcept {
  if (member.accept_uris.empty()) return {};
  const std::string_view scheme = balance_uri.substr(0, balance_uri.find("://") + 3);
  for (const std::string& a : member.accept_uris)
    if (std::string_view(a).starts_with(scheme)) return a;
  return member.accept_uris.front();
}

balancer_decision decide_balancer(const cluster::balancer_table* table, std::string_view balance_uri,
                                  balancer_mode mode, const cluster::choice_options& options,
                                  std::uint64_t random_a, std::uint64_t random_b,
                                  std::optional<std::uint32_t> local_load_now) {
  balancer_decision d;
  const cluster::balance_group* group = table ? table->find(balance_uri) : nullptr;
  if (!group) return d;
  auto index = cluster::choose_candidate(*group, options, random_a, random_b, local_load_now);
  if (!index) return d;
  const cluster::balance_candidate& member = group->candidates[*index];
  const std::string_view accept = member_accept_for(member, balance_uri);
  if (mode == balancer_mode::redirect) {
    if (accept.empty()) return d;
    d.what = balancer_decision::kind::redirect;
    d.member = &member;
    d.location = http_location_of(accept);
    return d;
  }
  if (member.is_local) {
    d.what = balancer_decision::kind::local;
    d.member = &member;
    return d;
  }
  if (accept.empty() || member.backplane.length == 0) return d;
  d.what = balancer_decision::kind::remote;
  d.member = &member;
  for (std::uint32_t i : group->ready) {
    const cluster::balance_candidate& c = group->candidates[i];
    if (&c != &member && c.backplane.length != 0 && !member_accept_for(c, balance_uri).empty())
      d.fallbacks.push_back(&c);
  }
  std::stable_sort(d.fallbacks.begin(), d.fallbacks.end(),
                   [](const cluster::balance_candidate* x, const cluster::balance_candidate* y) { return x->load < y->load; });
  return d;
}

}  // namespace postern::gateway
