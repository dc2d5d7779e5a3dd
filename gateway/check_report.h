// check_report: what `postern --check` prints, and what this build can run. Pure.
#pragma once

#include <string>
#include <vector>

#include "config/gateway_config.h"

namespace postern::gateway {

// One line per accept of each service:
//   "<service>: <accept URI> -> <bind host:port> -> <type> -> <connect URIs or ->"
// An internal reverse-mode service shows where it dials instead of a bind address:
//   "<service>: <accept URI> -> reverse via <transport URI> -> proxy -> tcp://..."
std::vector<std::string> effective_service_lines(const config::gateway_config& config);

// Features the config uses that this build of postern cannot serve yet, one sentence each
// naming the service and the feature. Empty when the config can run.
std::vector<std::string> unsupported_features(const config::gateway_config& config);

}  // namespace postern::gateway
