// worker: the gateway's part of one reactor. It owns that reactor's listeners (one
// SO_REUSEPORT socket per endpoint) and every connection accepted on them, and knows the
// immutable config and endpoints shared by all workers. Runs only on its reactor's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "config/gateway_config.h"
#include "core/reactor.h"
#include "gateway/connection.h"
#include "gateway/routes.h"

namespace postern::gateway {

// Limits every connection of a worker obeys (DESIGN §8).
struct gateway_limits {
  std::uint64_t handshake_timeout_ms = 10'000;
  std::uint64_t close_linger_ms = 2'000;        // waiting for the peer's close / FIN
  std::uint64_t default_max_message_bytes = 1024 * 1024;
  std::uint64_t default_max_pending_bytes = 1024 * 1024;
};

class worker {
 public:
  worker(core::reactor& reactor, std::shared_ptr<const config::gateway_config> config,
         std::shared_ptr<const std::vector<endpoint>> endpoints, gateway_limits limits = {});
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker();

  // Opens this reactor's listening sockets and starts accepting. Throws std::runtime_error
  // naming the address when a socket cannot be bound.
  void start();
  // Stops accepting and asks every connection to finish; on_drained runs (once, on this
  // thread) when the last connection is gone.
  void drain(std::function<void()> on_drained);
  // After the drain timeout: closes every remaining connection at once.
  void abort_all();

  core::reactor& reactor() const noexcept { return *_reactor; }
  const gateway_limits& limits() const noexcept { return _limits; }
  const config::gateway_config& config() const noexcept { return *_config; }
  std::size_t connection_count() const noexcept { return _connection_count; }

  void adopt(connection& c) noexcept;
  void forget(connection& c) noexcept;

 private:
  class accept_handler;

  core::reactor* _reactor;
  std::shared_ptr<const config::gateway_config> _config;
  std::shared_ptr<const std::vector<endpoint>> _endpoints;
  gateway_limits _limits;
  std::vector<std::unique_ptr<accept_handler>> _listeners;
  connection* _connections = nullptr;
  std::size_t _connection_count = 0;
  bool _draining = false;
  std::function<void()> _on_drained;
};

}  // namespace postern::gateway
