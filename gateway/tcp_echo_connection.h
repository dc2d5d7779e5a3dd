// tcp_echo_connection: the echo service on a tcp:// accept: every byte read is written back.
// The peer's FIN is answered with ours once everything read has been sent back; a peer that
// stops reading pauses our reading once maximum.pending.bytes are queued for it.
#pragma once

#include <cstdint>

#include "core/reactor.h"
#include "gateway/connection.h"
#include "gateway/routes.h"

namespace postern::gateway {

class tcp_echo_connection final : public connection, public core::stream_handler {
 public:
  tcp_echo_connection(worker& owner, core::unique_fd fd, const route& r);

  void begin_drain() override;
  void abort() override;

  void on_readable(std::span<std::byte> bytes) override;
  void on_read_eof() override;
  void on_stream_error(int error) override;
  void on_write_drained() override;
  void on_closed() override;

  enum class state : std::uint8_t {
    open,        // echoing both ways
    half_closed, // the peer sent FIN (or we are draining): our FIN follows the queued bytes
    closed,      // close() called; on_closed() frees the connection
  };

 private:
  ~tcp_echo_connection() override = default;
  void close_now();

  core::stream _stream;
  state _state = state::open;
  bool _peer_eof = false;
  std::uint64_t _max_pending_bytes;
  core::timer _linger;   // bounds the wait for the peer's FIN once ours is sent
};

}  // namespace postern::gateway
