// balancer: the decision of the `balancer` service for one upgrade request (DESIGN §6). Pure:
// it reads a reactor's own balancer_table snapshot and two random values, and allocates only
// for a redirect's Location. The connection (http_connection) carries the decision out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/balancer_choice.h"
#include "cluster/balancer_table.h"
#include "config/gateway_config.h"

namespace postern::gateway {

enum class balancer_mode : std::uint8_t {
  proxy,     // splice the client to the chosen member (the default)
  redirect,  // 302 to the chosen member's http(s) URI
};
// The service's <properties><balancer.mode>; proxy when unset.
balancer_mode balancer_mode_of(const config::service_config& service) noexcept;
// How the balancer service chooses: its balancer.local.preference, or the default factor.
cluster::choice_options choice_options_of(const config::service_config& service) noexcept;

// A member's accept URI as a browser location: ws://→http://, wss://→https://; other schemes
// are returned unchanged.
std::string http_location_of(std::string_view accept_uri);

// Of a candidate's accept URIs, the one a client of balance_uri should reach: the first with
// the balance URI's scheme (ws or wss), else the first; empty when it lists none.
std::string_view member_accept_for(const cluster::balance_candidate& member, std::string_view balance_uri) noexcept;

struct balancer_decision {
  enum class kind : std::uint8_t {
    local,        // serve with the local service registered under the balance URI
    remote,       // proxy mode: splice to `member` at its backplane address
    redirect,     // redirect mode: 302 with `location`
    unavailable,  // no ready member: 503 with Retry-After
  };
  kind what = kind::unavailable;
  const cluster::balance_candidate* member = nullptr;  // chosen member (not for unavailable)
  std::string location;                                // redirect only
  // remote only: the other ready members a splice may try, in turn, when `member` cannot be
  // reached (a member killed a moment ago is still ready until the cluster notices): least
  // loaded first, the local member among them (dialed at its own backplane address).
  std::vector<const cluster::balance_candidate*> fallbacks;
};

// Chooses a member for balance_uri with cluster::choose_candidate. table may be null (no
// snapshot yet: unavailable). local_load_now: the local member's current load, if known.
// In proxy mode a remote member without a backplane address or accept URI is unusable, as is
// one without an accept URI in redirect mode: unavailable then.
balancer_decision decide_balancer(const cluster::balancer_table* table, std::string_view balance_uri,
                                  balancer_mode mode, const cluster::choice_options& options,
                                  std::uint64_t random_a, std::uint64_t random_b,
                                  std::optional<std::uint32_t> local_load_now = std::nullopt);

}  // namespace postern::gateway
