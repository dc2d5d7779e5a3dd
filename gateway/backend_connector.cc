#include "gateway/backend_connector.h"

#include "core/log.h"
#include "gateway/readiness.h"
#include "gateway/worker.h"
#include "net/socks5.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace postern::gateway {

namespace socks5 = net::socks5;

backend_connector::backend_connector(worker& w, const config::service_config& service, const proxy_plan& plan,
                                     owner_handler& owner, const net::socket_address* client)
    : _worker(&w), _service(&service), _plan(&plan), _owner(&owner), _timer([this] {
        if (_plan->reverse) {
          if (_transport) {  // claimed in start(): hand it over now
            _owner->on_backend_ready(std::move(_transport), _plan->backends.front());  // may destroy this
            return;
          }
          if (_waiting_for_link) {
            _worker->links().cancel(*this);
            _waiting_for_link = false;
          }
          _owner->on_backend_failed("no reverse link for " + _plan->logical_uri + " within socks.timeout (" +
                                        std::to_string(_plan->socks_timeout_ms) + " ms)",
                                    503);  // may destroy this
          return;
        }
        fail_attempt("connect timed out after " + std::to_string(_plan->connect_timeout_ms) + " ms");
      }) {
  if (client) _client = *client;
}

backend_connector::~backend_connector() {
  _worker->reactor().disarm_timer(_timer);
  if (_waiting_for_link) _worker->links().cancel(*this);
  _worker->dispose(std::move(_transport));
}

void backend_connector::start() {
  if (_plan->reverse) {
    claim_link();
    return;
  }
  attempt();
}

void backend_connector::claim_link() {
  if (std::unique_ptr<net::transport> t = _worker->links().claim(_plan->logical_uri, _client)) {
    _transport = std::move(t);
    _transport->set_handler(*this);
    // Handed over from the next loop turn, so the owner never hears of it inside its constructor.
    _worker->reactor().arm_timer(_timer, 0);
    _waiting_for_link = false;
    return;
  }
  _waiting_for_link = true;
  _worker->links().wait(_plan->logical_uri, _client, *this);
  _worker->reactor().arm_timer(_timer, _plan->socks_timeout_ms);
}

void backend_connector::on_link(std::unique_ptr<net::transport> link) {
  _waiting_for_link = false;
  _worker->reactor().disarm_timer(_timer);
  link->set_handler(*this);
  _owner->on_backend_ready(std::move(link), _plan->backends.front());  // may destroy this
}

void backend_connector::attempt() {
  if (_next >= _plan->backends.size()) {
    _worker->readiness().report(*_worker, *_service, false, _errors);
    _owner->on_backend_failed(_errors, 502);  // may destroy this
    return;
  }
  const backend_target& t = _plan->backends[_next];
  if (t.tls)
    _transport = net::make_tls_transport(_worker->reactor(), {}, *t.tls, t.tls_name.empty() ? t.uri.host : t.tls_name, *this,
                                         _worker->limits().handshake_timeout_ms);
  else
    _transport = net::make_tcp_transport(_worker->reactor(), {}, *this);
  _worker->reactor().arm_timer(_timer, _plan->connect_timeout_ms);
  _transport->connect(t.address);
}

void backend_connector::on_transport_ready() {
  const backend_target& t = _plan->backends[_next];
  if (t.socks_connect) {  // forward mode: CONNECT to the logical URI first
    std::string out;
    socks5::encode_greeting(out);
    socks5::encode_request(out, socks5::command::connect, socks5::address::from_domain(t.uri.to_string(), t.uri.port));
    _transport->write(out);
    _socks_in.clear();
    _socks_state = socks_state::method;
    return;
  }
  hand_over();
}

void backend_connector::hand_over() {
  _worker->reactor().disarm_timer(_timer);
  const backend_target& t = _plan->backends[_next];
  _worker->readiness().report(*_worker, *_service, true, t.uri.to_string());
  _owner->on_backend_ready(std::move(_transport), t);  // may destroy this
}

void backend_connector::on_transport_data(std::span<std::byte> bytes) {
  if (_socks_state == socks_state::none) return;
  _socks_in.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  auto in = [this] { return std::as_bytes(std::span(_socks_in.data(), _socks_in.size())); };
  if (_socks_state == socks_state::method) {
    auto m = socks5::parse_method_choice(in());
    if (m.what == socks5::status::need_more) return;
    if (m.what == socks5::status::error) return fail_attempt("bad SOCKS5 method choice: " + m.error);
    if (!m.value) return fail_attempt("the internal gateway accepts no SOCKS5 method postern offers");
    _socks_in.erase(0, m.consumed);
    _socks_state = socks_state::reply;
  }
  auto r = socks5::parse_reply(in());
  if (r.what == socks5::status::need_more) return;
  if (r.what == socks5::status::error) return fail_attempt("bad SOCKS5 reply: " + r.error);
  if (r.value.code != socks5::reply_code::succeeded)
    return fail_attempt("the internal gateway refused the CONNECT: " + std::string(socks5::to_string(r.value.code)));
  if (r.consumed != _socks_in.size()) return fail_attempt("bytes after the SOCKS5 reply");
  _socks_state = socks_state::none;
  hand_over();
}

void backend_connector::on_transport_eof() { fail_attempt("closed by the backend during the handshake"); }

void backend_connector::on_transport_error(int, std::string_view what) { fail_attempt(what); }

void backend_connector::fail_attempt(std::string_view what) {
  _worker->reactor().disarm_timer(_timer);
  if (_plan->reverse) {  // the claimed link failed before it was handed over
    _worker->dispose(std::move(_transport));
    _owner->on_backend_failed("reverse link for " + _plan->logical_uri + ": " + std::string(what), 502);
    return;
  }
  const backend_target& t = _plan->backends[_next];
  if (!_errors.empty()) _errors += "; ";
  _errors += t.uri.to_string() + ": " + std::string(what);
  if (_next + 1 < _plan->backends.size() && _client.length != 0)  // a client's connect, not a probe
    LOG_INFO("%s service '%s': %s at %s failed (%.*s); trying %s", _client.to_string().c_str(), _service->name.c_str(),
             t.uri.to_string().c_str(), t.address.to_string().c_str(), static_cast<int>(what.size()), what.data(),
             _plan->backends[_next + 1].uri.to_string().c_str());
  _worker->dispose(std::move(_transport));
  _socks_state = socks_state::none;
  ++_next;
  attempt();
}

}  // namespace postern::gateway
