// tcp_proxy: the proxy service on a tcp:// or ssl:// accept toward a tcp:// or ssl:// backend:
// bytes both ways (DESIGN §4). The client's bytes that arrive while the backend is being
// dialed are held (at most maximum.pending.bytes, then the client is not read). A backend that
// cannot be reached closes the client connection, with a log line naming it. Each direction
// queues at most maximum.pending.bytes before the other side stops being read; a FIN on one
// side becomes a FIN on the other once what it sent has gone out.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/reactor.h"
#include "gateway/backend_connector.h"
#include "gateway/connection.h"
#include "gateway/routes.h"
#include "gateway/runtime.h"
#include "gateway/send_stall.h"
#include "net/address.h"
#include "net/transport.h"

namespace postern::gateway {

class tcp_proxy final : public connection, public backend_connector::owner_handler {
 public:
  tcp_proxy(worker& owner, core::unique_fd fd, const endpoint& ep, const route& r);
  // A client that arrived over a reverse link (DESIGN §5): client is ready, peer is the address
  // the second BIND reply named, early what followed that reply.
  tcp_proxy(worker& owner, std::unique_ptr<net::transport> client, const route& r, const net::socket_address& peer,
            std::span<std::byte> early);

  void begin_drain() override;
  void abort() override;

  void on_backend_ready(std::unique_ptr<net::transport> t, const backend_target& target) override;
  void on_backend_failed(const std::string& why, int http_status) override;

  enum class state : std::uint8_t {
    connecting,  // dialing the backend; client bytes are held in _held
    open,        // bytes flow both ways (each side may have sent its FIN already)
    done,        // transports disposed of; freed after the current callback
  };

 private:
  struct leg final : net::transport_handler {
    tcp_proxy* proxy;
    bool client_side;
    std::unique_ptr<net::transport> transport;
    bool eof = false;
    bool paused_by_us = false;
    leg(tcp_proxy& p, bool c) : proxy(&p), client_side(c) {}
    void on_transport_ready() override {}
    void on_transport_data(std::span<std::byte> bytes) override { proxy->on_data(*this, bytes); }
    void on_transport_eof() override { proxy->on_eof(*this); }
    void on_transport_error(int, std::string_view what) override { proxy->on_error(*this, what); }
    void on_transport_drained() override { proxy->on_drained(*this); }
    void on_transport_closed() override {}
  };

  ~tcp_proxy() override = default;
  void on_data(leg& from, std::span<std::byte> bytes);
  void on_eof(leg& from);
  void on_error(leg& from, std::string_view what);
  void on_drained(leg& to);
  leg& other(leg& l) noexcept { return &l == &_client ? _backend : _client; }
  void finish(bool graceful);
  void on_stall();

  leg _client;
  leg _backend;
  const route* _route;
  const proxy_plan* _plan;
  net::socket_address _peer;
  state _state = state::connecting;
  std::string _held;
  std::unique_ptr<backend_connector> _connector;
  send_stall _stall;            // one side reads nothing queued for it for send.timeout
  bool _stalled_client = false; // which side the stall is waiting on
};

}  // namespace postern::gateway
