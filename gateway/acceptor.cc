#include "gateway/acceptor.h"

#include <cstring>
#include <utility>

#include "core/log.h"

namespace postern::gateway {

acceptor::acceptor(core::reactor& reactor, core::unique_fd fd, std::string what,
                   std::function<void(core::unique_fd)> on_accept)
    : _what(std::move(what)), _on_accept(std::move(on_accept)), _listener(reactor, std::move(fd), *this) {}

void acceptor::close() {
  if (_closed) return;
  _closed = true;
  _listener.close();
}

void acceptor::on_accept(core::unique_fd fd) {
  if (_closed) return;  // fd closes here
  _on_accept(std::move(fd));
}

void acceptor::on_accept_error(int error) {
  LOG_WARN("accept on %s failed: %s", _what.c_str(), std::strerror(error));
}

}  // namespace postern::gateway
