// runtime: everything the workers share, built once from the config before any reactor starts
// and immutable afterwards: the endpoints, the TLS contexts, and each proxy service's resolved
// backends. Cold code; build_runtime throws runtime_error with a sentence for the operator.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/gateway_config.h"
#include "gateway/routes.h"
#include "net/address.h"
#include "net/tls_context.h"
#include "net/uri.h"

namespace postern::gateway {

class runtime_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One <connect> of a proxy service, resolved.
struct backend_target {
  net::uri uri;
  net::socket_address address;
  const net::tls_context* tls = nullptr;  // ssl:// and wss:// connects, and socks+ssl:// transports
  bool websocket = false;                 // ws:// and wss:// connects
  // socks.mode forward (DESIGN §5): address is the internal gateway's socks listener; after the
  // TCP (and TLS) connect a SOCKS5 CONNECT names uri, and then uri's protocol runs over it.
  bool socks_connect = false;
  std::string tls_name;                   // the name the TLS certificate must carry; empty: uri.host
};

// What a proxy service needs at run time.
struct proxy_plan {
  std::vector<backend_target> backends;   // tried in order
  std::uint64_t connect_timeout_ms = 5'000;
  std::uint64_t max_pending_bytes = 1024 * 1024;
  std::uint64_t client_inactivity_ms = 0;    // 0: off (accept-options ws.inactivity.timeout)
  std::uint64_t backend_inactivity_ms = 0;   // connect-options ws.inactivity.timeout
  std::uint64_t max_message_bytes = 1024 * 1024;
  std::uint64_t recovery_interval_ms = 30'000;  // maximum.recovery.interval: probe backoff cap
  // Reverse mode (connect-options socks.mode reverse, DESIGN §5): the one backend is reached over
  // a link that an internal gateway parked at a backplane under logical_uri; nothing is dialed.
  bool reverse = false;
  std::string logical_uri;                 // net::uri::to_string() of the connect
  std::uint64_t socks_timeout_ms = 10'000; // how long a client waits for a parked link
};

// DMZ side of reverse connectivity: an address where internal gateways dial in and park links.
struct backplane_plan {
  net::uri transport;                      // socks://host:port or socks+ssl://host:port
  net::socket_address address;             // where to listen
  const net::tls_context* tls = nullptr;   // socks+ssl: server context (client certificates checked)
  std::vector<std::string> logical_uris;   // links are accepted for these URIs only
  std::vector<const config::service_config*> services;  // the proxy services that use them
};

// Internal side: one logical accept of a service with a socks:// or socks+ssl:// transport in its
// accept-options, served over links: in reverse mode links this gateway dials to the DMZ and
// keeps parked there; in forward mode links the DMZ dials to the transport's address.
struct socks_accept {
  const config::service_config* service = nullptr;
  config::socks_mode mode = config::socks_mode::reverse;
  std::string logical_uri;                 // what the BIND (or CONNECT) request names
  std::uint16_t logical_port = 0;
  net::uri transport;                      // socks://host:port or socks+ssl://host:port
  net::socket_address link_address;        // reverse: where to dial; forward: where to listen
  // socks+ssl: reverse, a client context with this gateway's certificate; forward, the server
  // context that checks the DMZ's certificate.
  const net::tls_context* tls = nullptr;
  unsigned prepared = 1;                   // idle links to keep (prepared.connection.count, at least 1)
  std::uint64_t retry_max_ms = 30'000;     // socks.retry.maximum.interval
  endpoint ep;                             // how a claimed link is served: kind http or tcp, one route
};

struct runtime {
  std::shared_ptr<const config::gateway_config> config;
  std::vector<endpoint> endpoints;
  // The server context of each secure endpoint (index into endpoints), and the client
  // contexts of secure connects; owned here, pointed to from endpoints' users and plans.
  std::map<std::size_t, std::unique_ptr<net::tls_context>> server_tls;
  std::vector<std::unique_ptr<net::tls_context>> client_tls;
  std::map<const config::service_config*, proxy_plan> proxies;
  std::vector<backplane_plan> backplanes;
  std::vector<socks_accept> socks_accepts;

  const net::tls_context* server_tls_of(const endpoint& ep) const noexcept;
  const proxy_plan* plan_of(const config::service_config& service) const noexcept;
};

// Features the config uses that this build cannot serve yet, one sentence each (transports
// other than socks:// and socks+ssl://). Empty when it can run.
std::vector<std::string> unsupported_features(const config::gateway_config& config);

std::shared_ptr<const runtime> build_runtime(std::shared_ptr<const config::gateway_config> config);

}  // namespace postern::gateway
