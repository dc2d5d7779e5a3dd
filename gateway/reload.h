// reload: what a SIGHUP may change while the gateway serves (DESIGN §7, issue 8). The new
// config is matched against the running one service by service, by fingerprint (the service's
// canonical XML with the defaults and security it inherits): equal ones are kept — their
// connections go on, new clients get the new runtime (fresh TLS contexts: certificates that
// changed on disk are picked up) —; the others are stopped (their clients get close 1001 or a
// FIN) or started. Pure: plan_reload decides, worker::reload and readiness_registry::reload
// apply it on their reactors.
//
// Not reloadable (a restart is needed; the reload is refused with a sentence and the running
// config stays): <cluster> and <reactor>, and any change that adds, removes or alters a
// service that takes part in the cluster or the reverse links — a balancer, a service with
// <balance>, a socks:// transport in its accept or connect options.
#pragma once

#include <expected>
#include <string>
#include <utility>
#include <vector>

#include "config/gateway_config.h"

namespace postern::gateway {

struct reload_plan {
  // (running service, its equal in the new config)
  std::vector<std::pair<const config::service_config*, const config::service_config*>> kept;
  std::vector<const config::service_config*> stopped;  // running services not in the new config
  std::vector<const config::service_config*> started;  // new services
};

// Whether the service takes part in the cluster or the reverse links (never reloaded).
bool fixed_at_start(const config::service_config& service);

// The plan, or every reason the reload is refused (one sentence each).
std::expected<reload_plan, std::vector<std::string>> plan_reload(const config::gateway_config& running,
                                                                 const config::gateway_config& next);

}  // namespace postern::gateway
