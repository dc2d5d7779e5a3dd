// service: one <service> element, read and checked against the rules of its type. Cold code.
//
// Types and what they take:
//   echo        accept ws, wss, tcp, ssl; no connect
//   proxy       accept ws, wss, tcp, ssl; connect tcp, ssl, ws, wss (at least one)
//   balancer    accept ws, wss; no connect, connect-options or balance
//   management  accept http, https, ws, wss; no connect
// A <balance> is a ws:// or wss:// URI (the accept of a balancer). A secure accept (wss, ssl,
// https) or a socks+ssl:// transport needs <security><keystore>; ssl.verify-client (or
// socks.ssl.verify-client) optional or required needs <security><truststore>.
//
// Service <properties>: maximum.pending.bytes (size; proxy, balancer), maximum.recovery.interval
// (duration; proxy), prepared.connection.count (0 to 4096; proxy), balancer.mode (proxy or
// redirect; balancer), balancer.local.preference (a number from 0 to 100, postern's own;
// balancer), send.timeout (duration, postern's own; every type).
#pragma once

#include <vector>

#include "config/gateway_config.h"
#include "config/options.h"
#include "config/xml_tree.h"

namespace postern::config {

inline constexpr unsigned max_prepared_connection_count = 4096;

// A service and where its parts were written, for the checks that span services.
struct parsed_service {
  service_config config;
  xml_position name_position;                  // of the <name> text
  std::vector<xml_position> accept_positions;  // of the accept texts, parallel to config.accepts
  std::vector<std::string> accept_texts;       // as written, parallel to config.accepts
  parsed_options accept_options;
  parsed_options connect_options;
};

// Reads one <service> and checks what the service alone decides: children, type, schemes,
// properties, cross-site constraints.
parsed_service parse_service(const xml_document& doc, const xml_element& element);

// Merges <service-defaults> (the service's own options win) and checks what needs the rest of
// the document: certificates for secure accepts and transports.
void complete_service(const xml_document& doc, parsed_service& service, const parsed_options& accept_defaults,
                      const parsed_options& connect_defaults, const security_config& security);

}  // namespace postern::config
