// send_stall: the send.timeout of one connection (README "Limits"). A connection calls
// blocked() when it stops reading one side because the bytes queued toward the other side
// reached maximum.pending.bytes (that peer is not reading), and drained() when that queue has
// emptied; if it stays blocked for the timeout, on_stall runs (the connection closes, saying
// which peer stopped reading). Memory is bounded by maximum.pending.bytes meanwhile; this
// bounds the time. Runs on the connection's reactor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "core/reactor.h"
#include "net/address.h"

namespace postern::gateway {

class send_stall {
 public:
  send_stall(core::reactor& reactor, std::uint64_t timeout_ms, std::move_only_function<void()> on_stall)
      : _reactor(&reactor), _timeout_ms(timeout_ms), _timer(std::move(on_stall)) {}
  ~send_stall() { _reactor->disarm_timer(_timer); }
  send_stall(const send_stall&) = delete;
  send_stall& operator=(const send_stall&) = delete;

  void blocked() {
    if (!_timer.armed() && _timeout_ms > 0) _reactor->arm_timer(_timer, _timeout_ms);
  }
  void drained() { _reactor->disarm_timer(_timer); }
  std::uint64_t timeout_ms() const noexcept { return _timeout_ms; }

 private:
  core::reactor* _reactor;
  std::uint64_t _timeout_ms;
  core::timer _timer;
};

// The log line of a proxy closed by its send.timeout: which peer stopped reading, how much waited.
void log_send_stall(const net::socket_address& client, std::string_view service, std::string_view peer,
                    std::size_t queued, std::uint64_t timeout_ms);

}  // namespace postern::gateway
