#include "gateway/worker.h"

#include <cstring>
#include <stdexcept>

#include "core/log.h"
#include "gateway/http_connection.h"
#include "gateway/tcp_echo_connection.h"

namespace postern::gateway {

// One listening socket of this worker's reactor for one endpoint.
class worker::accept_handler final : public core::listener_handler {
 public:
  accept_handler(worker& owner, const endpoint& ep, core::unique_fd fd)
      : _worker(&owner), _endpoint(&ep), _listener(owner.reactor(), std::move(fd), *this) {}

  void start() { _listener.start(); }
  void close() {
    if (!_closed) {
      _closed = true;
      _listener.close();
    }
  }

  void on_accept(core::unique_fd fd) override {
    if (_worker->_draining) return;  // fd closes here: the gateway is stopping
    switch (_endpoint->kind) {
      case endpoint_kind::http:
        new http_connection(*_worker, std::move(fd), *_endpoint);
        break;
      case endpoint_kind::tcp:
        new tcp_echo_connection(*_worker, std::move(fd), _endpoint->routes.front());
        break;
      case endpoint_kind::https:
      case endpoint_kind::tls:
        // build_runtime refuses these endpoints before any listener opens.
        break;
    }
  }

  void on_accept_error(int error) override {
    LOG_WARN("accept on %s failed: %s", _endpoint->address.to_string().c_str(), std::strerror(error));
  }

 private:
  worker* _worker;
  const endpoint* _endpoint;
  core::listener _listener;
  bool _closed = false;
};

worker::worker(core::reactor& reactor, std::shared_ptr<const config::gateway_config> config,
               std::shared_ptr<const std::vector<endpoint>> endpoints, gateway_limits limits)
    : _reactor(&reactor), _config(std::move(config)), _endpoints(std::move(endpoints)), _limits(limits) {}

worker::~worker() = default;

void worker::start() {
  for (const endpoint& ep : *_endpoints) {
    auto fd = core::open_listen_socket(ep.address.get(), ep.address.length, true);
    if (!fd)
      throw std::runtime_error("cannot listen on " + ep.address.to_string() + " (for " +
                               ep.routes.front().accept->to_string() + "): " + std::strerror(fd.error()));
    auto& handler = _listeners.emplace_back(std::make_unique<accept_handler>(*this, ep, std::move(*fd)));
    handler->start();
  }
}

void worker::drain(std::function<void()> on_drained) {
  _draining = true;
  _on_drained = std::move(on_drained);
  for (auto& l : _listeners) l->close();
  // begin_drain may close a connection, which unlinks it later (on_closed), never now.
  for (connection* c = _connections; c; c = c->_next) c->begin_drain();
  if (_connection_count == 0 && _on_drained) std::exchange(_on_drained, nullptr)();
}

void worker::abort_all() {
  for (connection* c = _connections; c; c = c->_next) c->abort();
}

void worker::adopt(connection& c) noexcept {
  c._prev = nullptr;
  c._next = _connections;
  if (_connections) _connections->_prev = &c;
  _connections = &c;
  ++_connection_count;
}

void worker::forget(connection& c) noexcept {
  if (c._prev) c._prev->_next = c._next;
  else _connections = c._next;
  if (c._next) c._next->_prev = c._prev;
  c._prev = c._next = nullptr;
  --_connection_count;
  if (_draining && _connection_count == 0 && _on_drained) std::exchange(_on_drained, nullptr)();
}

}  // namespace postern::gateway
