#include "gateway/check_report.h"

#include "gateway/routes.h"

namespace postern::gateway {

std::vector<std::string> effective_service_lines(const config::gateway_config& config) {
  std::vector<std::string> lines;
  for (const config::service_config& s : config.services) {
    std::string connects;
    for (const net::uri& c : s.connects) connects += (connects.empty() ? "" : ",") + c.to_string();
    if (connects.empty()) connects = "-";
    for (const net::uri& a : s.accepts) {
      std::string where;
      if (listens(s)) {
        net::bind_address b = bind_address_of(s, a);
        std::string host = b.host.empty() ? "0.0.0.0" : b.host;
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        where = host + ":" + std::to_string(b.port);
      } else {
        const auto& o = s.accept_options;
        const std::string t = (o.http_transport ? o.http_transport : o.tcp_transport)->to_string();
        where = o.socks_mode == config::socks_mode::reverse ? "reverse via " + t : "forward links at " + t;
      }
      lines.push_back(s.name + ": " + a.to_string() + " -> " + where + " -> " +
                      std::string(config::to_string(s.type)) + " -> " + connects);
    }
  }
  return lines;
}

std::string cluster_line(const config::gateway_config& config) {
  if (!config.cluster) return {};
  const config::cluster_config& c = *config.cluster;
  std::string members, connects;
  for (const net::uri& a : c.accepts) members += (members.empty() ? "" : ",") + a.to_string();
  for (const net::uri& u : c.connects) connects += (connects.empty() ? "" : ",") + u.to_string();
  return "cluster '" + c.name + "': member " + members + " -> " + connects + ", " +
         (c.key_file ? "key-file " + *c.key_file : std::string("no key-file (unauthenticated)")) + ", heartbeat " +
         std::to_string(c.heartbeat_interval_ms) + " ms, suspect after " + std::to_string(c.suspect_timeout_ms) +
         " ms, failed after " + std::to_string(c.failure_timeout_ms) + " ms";
}

}  // namespace postern::gateway
