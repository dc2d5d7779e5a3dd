// backend_connector: dials a proxy service's backends in the order of its <connect> elements,
// each within the connect timeout, and hands the first transport that is ready (TCP connected
// and, for ssl:// and wss://, the TLS handshake done with the backend's certificate verified
// against the truststore and the URI's host name; in socks.mode forward, the transport's TLS and
// a SOCKS5 CONNECT naming the URI, answered with success) to its owner. Reports every outcome to the
// readiness registry.
//
// In reverse mode (DESIGN §5: connect-options socks.mode reverse) it dials nothing: it claims a
// link parked on its reactor for the plan's logical URI (telling the internal gateway the
// client's address), or waits for one up to socks.timeout; then the owner's failure status is
// 503 (no link: the service is unavailable, not broken). The backplane, not the connector,
// tells the readiness registry about reverse services.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/reactor.h"
#include "gateway/backplane.h"
#include "gateway/runtime.h"
#include "net/transport.h"

namespace postern::gateway {

class worker;

class backend_connector final : public net::transport_handler, private link_pool::waiter {
 public:
  class owner_handler {
   public:
    // t is ready; the owner must set_handler() on it at once.
    virtual void on_backend_ready(std::unique_ptr<net::transport> t, const backend_target& target) = 0;
    // Every backend failed; why names each one and its error. http_status: what a client that is
    // still waiting for its upgrade should get (502, or 503 when no reverse link came in time).
    virtual void on_backend_failed(const std::string& why, int http_status) = 0;

   protected:
    ~owner_handler() = default;
  };

  // client: the address of the client this backend is for (reverse links name it to the
  // internal gateway); null for probes.
  backend_connector(worker& w, const config::service_config& service, const proxy_plan& plan, owner_handler& owner,
                    const net::socket_address* client = nullptr);
  ~backend_connector();
  backend_connector(const backend_connector&) = delete;
  backend_connector& operator=(const backend_connector&) = delete;

  void start();

  void on_transport_ready() override;
  void on_transport_data(std::span<std::byte> bytes) override;  // the SOCKS5 CONNECT's replies (forward mode)
  void on_transport_eof() override;
  void on_transport_error(int error, std::string_view what) override;
  void on_transport_closed() override {}

 private:
  void attempt();
  void fail_attempt(std::string_view what);
  void claim_link();
  void hand_over();
  void on_link(std::unique_ptr<net::transport> link) override;

  worker* _worker;
  const config::service_config* _service;
  const proxy_plan* _plan;
  owner_handler* _owner;
  std::size_t _next = 0;
  std::unique_ptr<net::transport> _transport;
  std::string _errors;
  net::socket_address _client;
  enum class socks_state : std::uint8_t { none, method, reply };
  socks_state _socks_state = socks_state::none;  // forward mode: where the CONNECT stands
  std::string _socks_in;
  bool _waiting_for_link = false;
  core::timer _timer;
};

}  // namespace postern::gateway
