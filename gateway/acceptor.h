// acceptor: one listening socket on one reactor, handing every accepted socket to its owner's
// callback and logging a failed accept with what the socket serves. Used by the workers'
// listeners and by the DMZ backplane. Runs only on its reactor's thread.
#pragma once

#include <functional>
#include <string>

#include "core/reactor.h"
#include "core/unique_fd.h"

namespace postern::gateway {

class acceptor final : public core::listener_handler {
 public:
  // what names the socket in log lines ("127.0.0.1:8000", "backplane socks+ssl://10.0.0.1:1443").
  acceptor(core::reactor& reactor, core::unique_fd fd, std::string what,
           std::function<void(core::unique_fd)> on_accept);

  void start() { _listener.start(); }
  // Stops accepting; idempotent.
  void close();

  void on_accept(core::unique_fd fd) override;
  void on_accept_error(int error) override;

 private:
  std::string _what;
  std::function<void(core::unique_fd)> _on_accept;
  core::listener _listener;
  bool _closed = false;
};

}  // namespace postern::gateway
