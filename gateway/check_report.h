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

// With <cluster>, one line of how this member gossips, as
//   "cluster 'dmz': member tcp://10.0.0.1:5941 -> udp://239.255.0.1:5941, key-file k.key,
//    heartbeat 200 ms, suspect after 600 ms, failed after 1500 ms"
// ("no key-file (unauthenticated)" without one); empty without <cluster>.
std::string cluster_line(const config::gateway_config& config);

}  // namespace postern::gateway
