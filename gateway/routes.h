// routes: which socket each accept URI listens on and how a request on that socket finds its
// service. Built once from the config at start-up (cold code, may throw route_error); pure
// lookups afterwards.
//
// The accept URI is the public identity; the *.bind options choose the listen address (ws.bind
// for ws://, wss.bind for wss://, http.bind, https.bind, ssl.bind, and tcp.bind for every
// scheme). Several services share one listener when their bind addresses are equal: the
// seed's balancer and member service both live on port 8443 of one address. A request is
// routed by its Host authority and exact path. A listener that serves a single authority
// routes by path alone, whatever Host the client sent (a client that reached the socket by an
// address or another name still gets the service); a listener that serves several authorities
// needs a matching Host.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/gateway_config.h"
#include "net/address.h"
#include "net/uri.h"

namespace postern::gateway {

// What runs on the accepted bytes of a listener.
enum class endpoint_kind : std::uint8_t {
  http,      // ws:// and http:// accepts: an HTTP/1.1 request head, then the service
  https,     // wss:// and https:// accepts: TLS, then as http
  tcp,       // tcp:// accepts: bytes straight to the service
  tls,       // ssl:// accepts: TLS, then bytes
};
std::string_view to_string(endpoint_kind kind);

struct route {
  std::string host;       // lower-case accept host
  std::uint16_t port = 0; // accept port (default filled)
  std::string path;       // exact path ("/" at least) for http kinds; empty for tcp kinds; a
                          // management service has two routes: <accept path>/metrics and /health
  const config::service_config* service = nullptr;
  const net::uri* accept = nullptr;
};

struct endpoint {
  net::socket_address address;   // where to listen
  endpoint_kind kind = endpoint_kind::http;
  std::vector<route> routes;
};

class route_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The listen address of one accept of a service ("host:port" form), before resolution.
net::bind_address bind_address_of(const config::service_config& service, const net::uri& accept);

// True when the service listens on its accepts; false when its accept-options name a transport
// (http.transport or tcp.transport): its clients come over links (DESIGN §5), dialed out to the
// DMZ in reverse mode or accepted on the transport's address in forward mode.
bool listens(const config::service_config& service);

// Groups every listening accept of the config into endpoints. Resolves host names. Throws
// route_error when a host cannot be resolved or two accepts need the same address for
// incompatible protocols, or two services claim the same tcp:// address.
std::vector<endpoint> build_endpoints(const config::gateway_config& config);

enum class route_miss : std::uint8_t { none, unknown_host, unknown_path };

struct route_match {
  const route* found = nullptr;
  route_miss miss = route_miss::none;
};

// Finds the route for a request with this Host header value and path (without query).
route_match find_route(const endpoint& ep, std::string_view host_header, std::string_view path) noexcept;

}  // namespace postern::gateway
