#include "gateway/tcp_proxy.h"

#include "core/log.h"
#include "gateway/worker.h"

namespace postern::gateway {

tcp_proxy::tcp_proxy(worker& owner, core::unique_fd fd, const endpoint& ep, const route& r)
    : connection(owner),
      _client(*this, true),
      _backend(*this, false),
      _route(&r),
      _plan(owner.plan_of(*r.service)),
      _peer(net::peer_address_of(fd.get())),
      _stall(owner.reactor(), owner.send_timeout_ms(*r.service), [this] { on_stall(); }) {
  _client.transport = owner.accepted_transport(ep, std::move(fd), _client);
  owner.adopt(*this);
  open_session(_peer);
  owner.set_session_service(*this, *r.service);
  count_as_load();
  _client.transport->start();
  _connector = std::make_unique<backend_connector>(owner, *r.service, *_plan, *this, &_peer);
  _connector->start();
}

tcp_proxy::tcp_proxy(worker& owner, std::unique_ptr<net::transport> client, const route& r,
                     const net::socket_address& peer, std::span<std::byte> early)
    : connection(owner),
      _client(*this, true),
      _backend(*this, false),
      _route(&r),
      _plan(owner.plan_of(*r.service)),
      _peer(peer),
      _stall(owner.reactor(), owner.send_timeout_ms(*r.service), [this] { on_stall(); }) {
  _client.transport = std::move(client);
  _client.transport->set_handler(_client);
  owner.adopt(*this);
  open_session(_peer);
  client_session().link = session::link_use::arrived_over_link;
  owner.set_session_service(*this, *r.service);
  count_as_load();
  _held.assign(reinterpret_cast<const char*>(early.data()), early.size());
  _connector = std::make_unique<backend_connector>(owner, *r.service, *_plan, *this, &_peer);
  _connector->start();
}

void tcp_proxy::on_backend_ready(std::unique_ptr<net::transport> t, const backend_target& target) {
  if (_plan->reverse) client_session().link = session::link_use::backend_over_link;
  owner().reactor().defer([c = std::shared_ptr<backend_connector>(std::move(_connector))] {});
  _backend.transport = std::move(t);
  _backend.transport->set_handler(_backend);
  if (_state != state::connecting) return;
  _state = state::open;
  LOG_DEBUG("%s proxied to %s", _peer.to_string().c_str(), target.uri.to_string().c_str());
  _backend.transport->start();
  if (!_held.empty()) {
    _backend.transport->write(_held);
    std::string().swap(_held);
  }
  if (_client.paused_by_us) {
    _client.paused_by_us = false;
    _client.transport->resume_reading();
  }
  if (_client.eof) _backend.transport->shutdown_write();
}

void tcp_proxy::on_backend_failed(const std::string& why, int) {
  owner().reactor().defer([c = std::shared_ptr<backend_connector>(std::move(_connector))] {});
  if (_state != state::connecting) return;
  LOG_WARN("%s service '%s': backend unavailable: %s", _peer.to_string().c_str(), _route->service->name.c_str(),
           why.c_str());
  client_session().end_as("backend-unavailable");
  finish(false);
}

void tcp_proxy::on_data(leg& from, std::span<std::byte> bytes) {
  if (from.client_side) client_session().bytes_in += bytes.size();
  if (_state == state::connecting) {
    if (!from.client_side) return;
    _held.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (_held.size() > _plan->max_pending_bytes && !_client.paused_by_us) {
      _client.paused_by_us = true;
      _client.transport->pause_reading();
    }
    return;
  }
  if (_state != state::open) return;
  leg& to = other(from);
  if (!to.transport) return;
  if (to.client_side) client_session().bytes_out += bytes.size();
  to.transport->write(std::span<const std::byte>(bytes));
  if (!from.paused_by_us && to.transport->queued_bytes() > _plan->max_pending_bytes) {
    from.paused_by_us = true;
    from.transport->pause_reading();
    _stalled_client = to.client_side;
    _stall.blocked();
  }
}

void tcp_proxy::on_stall() {
  leg& to = _stalled_client ? _client : _backend;
  log_send_stall(_peer, _route->service->name, _stalled_client ? "client" : "backend",
                 to.transport ? to.transport->queued_bytes() : 0, _stall.timeout_ms());
  client_session().end_as("send-timeout");
  finish(false);
}

void tcp_proxy::on_eof(leg& from) {
  from.eof = true;
  if (from.client_side) client_session().end_as("eof");
  if (_state == state::connecting) {
    if (!from.client_side) return;
    if (_held.empty()) finish(false);  // the client gave up before the backend answered
    return;
  }
  if (_state != state::open) return;
  leg& to = other(from);
  if (to.eof || !to.transport) {
    finish(true);
    return;
  }
  to.transport->shutdown_write();
}

void tcp_proxy::on_error(leg& from, std::string_view what) {
  client_session().end_as(from.client_side ? "error" : "backend-error");
  if (!from.client_side)
    LOG_WARN("%s service '%s': backend failed: %.*s", _peer.to_string().c_str(), _route->service->name.c_str(),
             static_cast<int>(what.size()), what.data());
  finish(false);
}

void tcp_proxy::on_drained(leg& to) {
  leg& from = other(to);
  if (to.client_side == _stalled_client) _stall.drained();
  if (from.paused_by_us && from.transport && _state == state::open) {
    from.paused_by_us = false;
    from.transport->resume_reading();
  }
}

void tcp_proxy::begin_drain() {
  if (_state != state::open) {
    finish(false);
    return;
  }
  finish(true);
}

void tcp_proxy::abort() { finish(false); }

void tcp_proxy::finish(bool graceful) {
  if (_state == state::done) return;
  _state = state::done;
  _stall.drained();
  if (_connector) owner().reactor().defer([c = std::shared_ptr<backend_connector>(std::move(_connector))] {});
  owner().dispose(std::move(_client.transport), graceful, _client.eof);
  owner().dispose(std::move(_backend.transport), graceful, _backend.eof);
  owner().forget(*this);
  owner().reactor().defer([this] { delete this; });
}

}  // namespace postern::gateway
