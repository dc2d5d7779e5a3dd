// sections: the document-level elements other than <service> and <properties>. Cold code.
//
// <security>: <keystore> and <truststore>, each a <file> (recorded as written, relative to the
//   working directory, not opened here) and an optional <type> that must be PEM (the default).
// <cluster>: <name> (required, free text), <accept> (1+, tcp://ip:port: this member), <connect>
//   (exactly one udp://group:port, a multicast group, or one or more tcp:// seeds), <key-file>,
//   and postern's failure-detection durations <heartbeat-interval> (200 ms), <suspect-timeout>
//   (600 ms) and <failure-timeout> (1500 ms), each longer than the one before.
//   KAAZING's seed-walkthrough slip (<name>tcp://ip:port</name> with the same ip bare in
//   <accept>) loads with one warning: the member address comes from <name>.
// <reactor> (postern's): <threads> 1-256, <cpus> a CPU list, <backend> auto|io_uring|epoll,
//   <ring-entries> a power of two from 64 to 32768.
// <service-defaults>: <accept-options> and <connect-options> that every service inherits.
#pragma once

#include <string>
#include <vector>

#include "config/gateway_config.h"
#include "config/options.h"
#include "config/xml_tree.h"

namespace postern::config {

security_config parse_security(const xml_document& doc, const xml_element& element);

// Adds its warnings (at most one) to warnings.
cluster_config parse_cluster(const xml_document& doc, const xml_element& element, std::vector<std::string>& warnings);

reactor_config parse_reactor(const xml_document& doc, const xml_element& element);

struct service_defaults {
  parsed_options accept_options;
  parsed_options connect_options;
};
service_defaults parse_service_defaults(const xml_document& doc, const xml_element& element);

}  // namespace postern::config
