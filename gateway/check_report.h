// check_report: what `postern --check` prints, and the lines of the effective services. Pure.
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

}  // namespace postern::gateway
