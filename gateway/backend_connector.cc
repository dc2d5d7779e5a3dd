#include "gateway/backend_connector.h"

#include "gateway/readiness.h"
#include "gateway/worker.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace postern::gateway {

backend_connector::backend_connector(worker& w, const config::service_config& service, const proxy_plan& plan,
                                     owner_handler& owner)
    : _worker(&w), _service(&service), _plan(&plan), _owner(&owner), _timer([this] {
        fail_attempt("connect timed out after " + std::to_string(_plan->connect_timeout_ms) + " ms");
      }) {}

backend_connector::~backend_connector() {
  _worker->reactor().disarm_timer(_timer);
  _worker->dispose(std::move(_transport));
}

void backend_connector::start() { attempt(); }

void backend_connector::attempt() {
  if (_next >= _plan->backends.size()) {
    _worker->readiness().report(*_worker, *_service, false, _errors);
    _owner->on_backend_failed(_errors);  // may destroy this
    return;
  }
  const backend_target& t = _plan->backends[_next];
  if (t.tls)
    _transport = net::make_tls_transport(_worker->reactor(), {}, *t.tls, t.uri.host, *this,
                                         _worker->limits().handshake_timeout_ms);
  else
    _transport = net::make_tcp_transport(_worker->reactor(), {}, *this);
  _worker->reactor().arm_timer(_timer, _plan->connect_timeout_ms);
  _transport->connect(t.address);
}

void backend_connector::on_transport_ready() {
  _worker->reactor().disarm_timer(_timer);
  const backend_target& t = _plan->backends[_next];
  _worker->readiness().report(*_worker, *_service, true, t.uri.to_string());
  _owner->on_backend_ready(std::move(_transport), t);  // may destroy this
}

void backend_connector::on_transport_eof() { fail_attempt("closed by the backend during the handshake"); }

void backend_connector::on_transport_error(int, std::string_view what) { fail_attempt(what); }

void backend_connector::fail_attempt(std::string_view what) {
  _worker->reactor().disarm_timer(_timer);
  const backend_target& t = _plan->backends[_next];
  if (!_errors.empty()) _errors += "; ";
  _errors += t.uri.to_string() + ": " + std::string(what);
  _worker->dispose(std::move(_transport));
  ++_next;
  attempt();
}

}  // namespace postern::gateway
