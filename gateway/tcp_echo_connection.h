// tcp_echo_connection: the echo service on a tcp:// or ssl:// accept: every byte read is
// written back. The peer's FIN (or close_notify) is answered with ours once everything read has
// been sent back; a peer that stops reading pauses our reading once maximum.pending.bytes are
// queued for it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/reactor.h"
#include "gateway/connection.h"
#include "gateway/routes.h"
#include "gateway/send_stall.h"
#include "net/transport.h"

namespace postern::gateway {

class tcp_echo_connection final : public connection, public net::transport_handler {
 public:
  tcp_echo_connection(worker& owner, core::unique_fd fd, const endpoint& ep, const route& r);
  // A client that arrived over a reverse link (DESIGN §5): t is ready; early is what followed
  // the link's last SOCKS reply.
  tcp_echo_connection(worker& owner, std::unique_ptr<net::transport> t, const route& r, std::span<std::byte> early);

  void begin_drain() override;
  void abort() override;

  void on_transport_ready() override {}
  void on_transport_data(std::span<std::byte> bytes) override;
  void on_transport_eof() override;
  void on_transport_error(int error, std::string_view what) override;
  void on_transport_drained() override;
  void on_transport_closed() override {}

  enum class state : std::uint8_t {
    open,         // echoing both ways
    closed,       // the transport is disposed of; freed after the current callback
  };

 private:
  ~tcp_echo_connection() override = default;
  void finish(bool graceful);
  void on_stall();

  std::unique_ptr<net::transport> _transport;
  state _state = state::open;
  std::uint64_t _max_pending_bytes;
  bool _peer_eof = false;
  send_stall _stall;  // the peer reads none of its echoes for send.timeout
};

}  // namespace postern::gateway
