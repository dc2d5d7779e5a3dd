// local_member: what this process offers the cluster, from its config and runtime (DESIGN §6).
// Built once at start-up (cold code): the member's own state, the local service behind each
// balance URI, and the run-time plan a balancer uses to splice a client to another member.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/balancer_choice.h"
#include "cluster/balancer_table.h"
#include "cluster/member_state.h"
#include "config/gateway_config.h"
#include "gateway/routes.h"
#include "gateway/runtime.h"
#include "net/tls_context.h"

namespace postern::gateway {

// The identity of a gateway without <cluster>: its table holds only itself.
inline constexpr std::string_view standalone_identity = "tcp://0.0.0.0:0";

// A local service registered under a balance URI.
struct local_balance {
  std::string balance_uri;                      // net::uri::to_string() of the <balance>
  const config::service_config* service = nullptr;
  const route* local_route = nullptr;           // the route of the service's first accept
  net::socket_address backplane;                // the address that accept is bound to
};

// Shared, immutable, by every worker.
struct balancing_plan {
  std::vector<local_balance> locals;            // one per balance URI, first service wins
  // Verifies members' wss:// accepts against the truststore (null without a truststore).
  std::unique_ptr<net::tls_context> member_tls;

  // The local service under balance_uri, or nullptr.
  const local_balance* find(std::string_view balance_uri) const noexcept;
};

// Throws runtime_error (a sentence) when a truststore is configured but cannot be loaded.
std::shared_ptr<const balancing_plan> build_balancing_plan(const runtime& rt);

// The member's own state: identity = the cluster <accept> (or standalone_identity), its
// resolved address, incarnation and start time = start_ms, load 0, and one balance entry per
// balance URI of `plan` with its service's accept URIs, its backplane, and ready(service).
cluster::member_state local_member_state(const runtime& rt, const balancing_plan& plan, std::uint64_t start_ms,
                                         const std::function<bool(const config::service_config&)>& ready);

// The plan that splices a balancer's client to members' services, tried in the order given
// (the chosen member, then fallbacks): per member one ws(s) backend at its backplane address,
// whose upgrade carries its accept URI for balance_uri (Host and path); TLS verified against the
// truststore and the accept's host name for wss://. The balancer service's accept options set
// the client inactivity and message size. Errors (a sentence) only for the first member; a
// fallback that cannot be used is left out.
std::expected<std::shared_ptr<const proxy_plan>, std::string> member_proxy_plan(
    std::span<const cluster::balance_candidate* const> members, std::string_view balance_uri,
    const config::service_config& balancer, const balancing_plan& plan);

}  // namespace postern::gateway
