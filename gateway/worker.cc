#include "gateway/worker.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include <time.h>

#include <sys/socket.h>

#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/acceptor.h"
#include "gateway/backplane.h"
#include "gateway/local_member.h"
#include "gateway/reload.h"
#include "gateway/reverse_link.h"
#include "gateway/socks_listener.h"
#include "gateway/http_connection.h"
#include "gateway/tcp_echo_connection.h"
#include "gateway/tcp_proxy.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace postern::gateway {

// Holds a transport nobody wants any more until it has closed.
class worker::grave final : public net::transport_handler {
 public:
  // flush: a lingering close — what is queued is sent, then our FIN (TLS: close_notify first);
  // input is read and discarded until the peer's FIN (or, when it came already, until what is
  // queued has left) or the linger time, so that a peer still sending does not get a reset that
  // could destroy what we sent last (a close frame, a 4xx).
  grave(worker& owner, std::unique_ptr<net::transport> t, bool flush, bool peer_finished)
      : _worker(&owner), _transport(std::move(t)), _timer([this] { close(); }), _peer_finished(peer_finished) {
    _transport->set_handler(*this);
    if (!flush || (peer_finished && _transport->queued_bytes() == 0)) {
      close();
      return;
    }
    _transport->shutdown_write();
    if (_transport->reading_paused()) _transport->resume_reading();
    owner.reactor().arm_timer(_timer, owner.limits().close_linger_ms);
  }
  void on_transport_ready() override {}
  void on_transport_data(std::span<std::byte>) override {}
  void on_transport_eof() override {
    _peer_finished = true;
    if (_transport->queued_bytes() == 0) close();
  }
  void on_transport_drained() override {
    if (_peer_finished) close();
  }
  void on_transport_error(int, std::string_view) override { close(); }
  void on_transport_closed() override {
    worker* w = _worker;
    delete this;
    --w->_closing_transports;
    w->check_drained();
  }

 private:
  ~grave() = default;
  void close() {
    if (_closing) return;
    _closing = true;
    _worker->reactor().disarm_timer(_timer);
    _transport->close();
  }
  worker* _worker;
  std::unique_ptr<net::transport> _transport;
  core::timer _timer;
  bool _peer_finished;
  bool _closing = false;
};

worker::worker(core::reactor& reactor, std::shared_ptr<const runtime> rt, readiness_registry& readiness,
               gateway_limits limits)
    : _reactor(&reactor),
      _runtime(std::move(rt)),
      _readiness(&readiness),
      _limits(limits),
      _random(0x5eed0000ull + reactor.id() * 0x9e3779b97f4a7c15ull +
              static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(this))),
      _load_timer([this] {
        if (_draining || !_load_sink) return;
        const std::size_t n = _load_count;
        if (n != _load_sent) {
          _load_sent = n;
          core::reactor_group* g = _reactor->group();
          const unsigned id = _reactor->id();
          if (!g || id == 0)
            _load_sink(id, n);
          else
            g->post(0, [sink = _load_sink, id, n](core::reactor&) { sink(id, n); });
        }
        _reactor->arm_timer(_load_timer, _load_interval_ms);
      }),
      _links(std::make_unique<link_pool>(*this)),
      _lag_timer([this] { on_lag_tick(); }) {
  for (const config::service_config& s : _runtime->config->services) service_index(s);
}

void worker::on_lag_tick() {
  const std::uint64_t now = _reactor->now_ms();
  const std::uint64_t late = now > _lag_due_ms ? now - _lag_due_ms : 0;
  if (now - _lag_window_start_ms >= 1000) {
    _lag_last_window_ms = _lag_this_window_ms;
    _lag_this_window_ms = 0;
    _lag_window_start_ms = now;
  }
  _lag_this_window_ms = std::max(_lag_this_window_ms, late);
  _metrics.loop_lag_ms = std::max(_lag_this_window_ms, _lag_last_window_ms);
  release_unused_generations();
  if (_draining) return;
  _lag_due_ms = now + lag_tick_ms;
  _reactor->arm_timer(_lag_timer, lag_tick_ms);
}

std::size_t worker::service_index(const config::service_config& service) {
  auto [it, added] = _service_slots.try_emplace(service.name, _metrics.services.size());
  if (added) {
    _metrics.service_names.push_back(service.name);
    _metrics.services.emplace_back();
  }
  return it->second;
}

void worker::set_session_service(connection& c, const config::service_config& service) {
  session& s = c._session;
  if (!c._has_session || s.service == &service) return;
  if (s.service) {
    service_metrics& old = _metrics.services[service_index(*s.service)];
    --old.open;
    --old.total;
  }
  s.service = &service;
  service_metrics& now = _metrics.services[service_index(service)];
  ++now.open;
  ++now.total;
}

void worker::end_session(connection& c) {
  c._has_session = false;
  const session& s = c._session;
  // The runtime it came in under may go only later (on_lag_tick): the connection object, its
  // graves and connectors still point into it until their deferred frees have run.
  if (auto it = _generation_sessions.find(s.generation); it != _generation_sessions.end() && it->second > 0)
    --it->second;
  if (s.service) {
    service_metrics& m = _metrics.services[service_index(*s.service)];
    --m.open;
    m.traffic.add(s);
  }
  const bool management = s.service && s.service->type == config::service_type::management;
  if (s.http_status >= 400 && !management) ++_metrics.refused[s.http_status];  // /health's 503 is an answer
  else if (s.close_code) ++_metrics.close_codes[s.close_code];
  if (_access_log) {
    timespec wall{};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    const std::uint64_t wall_ms = static_cast<std::uint64_t>(wall.tv_sec) * 1000 + static_cast<std::uint64_t>(wall.tv_nsec) / 1'000'000;
    const std::uint64_t now = _reactor->now_ms();
    _access_log->write(format_access_line(s, s.service ? std::string_view(s.service->name) : std::string_view{},
                                          wall_ms, now > s.started_ms ? now - s.started_ms : 0));
  }
}

reactor_snapshot worker::snapshot() const {
  reactor_snapshot r;
  r.reactor = _reactor->id();
  r.services = _metrics.services;
  for (const connection* c = _connections; c; c = c->_next) {
    if (!c->_has_session) continue;
    if (c->_session.service) r.services[_service_slots.at(c->_session.service->name)].traffic.add(c->_session);
    if (c->_session.link == session::link_use::backend_over_link) ++r.reverse_links_in_use_dmz;
    if (c->_session.link == session::link_use::arrived_over_link) ++r.reverse_links_in_use_internal;
  }
  r.refused = _metrics.refused;
  r.close_codes = _metrics.close_codes;
  r.balancer_decisions = _metrics.balancer_decisions;
  r.refused_at_limit = _metrics.refused_at_limit;
  r.loop_lag_ms = _metrics.loop_lag_ms;
  r.open_sockets = _reactor->open_streams();
  r.reverse_links_idle_dmz = _links->parked();
  for (const auto& d : _dialers) r.reverse_links_idle_internal += d->parked();
  r.reverse_links_claimed = _metrics.reverse_links_claimed;
  r.reverse_dial_failures = _metrics.reverse_dial_failures;
  return r;
}

void connection::open_session(const net::socket_address& peer) noexcept {
  _has_session = true;
  _session = session{};
  _session.peer = peer;
  _session.started_ms = _worker->reactor().now_ms();
  _session.generation = _worker->_generation;
  ++_worker->_generation_sessions[_session.generation];
}

void worker::report_load(std::function<void(unsigned, std::size_t)> sink, std::uint64_t interval_ms) {
  _load_sink = std::move(sink);
  _load_interval_ms = std::max<std::uint64_t>(interval_ms, 1);
  _reactor->arm_timer(_load_timer, _load_interval_ms);
}

worker::~worker() = default;

void worker::start() {
  _lag_window_start_ms = _reactor->now_ms();
  _lag_due_ms = _lag_window_start_ms + lag_tick_ms;
  _reactor->arm_timer(_lag_timer, lag_tick_ms);
  _runtimes.emplace(_generation, _runtime);
  for (const endpoint& ep : _runtime->endpoints) {
    auto error = listen_on(ep);
    if (!error.empty()) throw std::runtime_error(error);
  }
  // Internal side, forward mode: a socks listener per transport address (DESIGN §5).
  std::vector<const socks_accept*> forward;
  for (const socks_accept& r : _runtime->socks_accepts)
    if (r.mode == config::socks_mode::forward) forward.push_back(&r);
  while (!forward.empty()) {
    const net::socket_address address = forward.front()->link_address;
    std::vector<const socks_accept*> here;
    std::erase_if(forward, [&](const socks_accept* r) {
      if (!(r->link_address == address)) return false;
      here.push_back(r);
      return true;
    });
    auto fd = core::open_listen_socket(address.get(), address.length, true);
    if (!fd)
      throw std::runtime_error("cannot listen on " + address.to_string() + " (socks forward links for " +
                               here.front()->logical_uri + "): " + std::strerror(fd.error()));
    auto& a = _listeners.emplace_back(std::make_unique<acceptor>(
        *_reactor, std::move(*fd), "socks " + here.front()->transport.to_string(),
        [this, here, what = "socks " + here.front()->transport.to_string()](core::unique_fd s) {
          if (!_draining && !refuse_at_limit(what)) serve_forward_link(*this, std::move(s), here);
        }));
    a->start();
  }
  // Internal side, reverse mode: this reactor's share of each accept's prepared links.
  const core::reactor_group* group = _reactor->group();
  const unsigned reactors = group ? group->size() : 1;
  const unsigned id = _reactor->id();
  for (const socks_accept& r : _runtime->socks_accepts) {
    if (r.mode != config::socks_mode::reverse) continue;
    const unsigned share = r.prepared / reactors + (id < r.prepared % reactors ? 1 : 0);
    if (share == 0) continue;
    // A proxy dials once its backend has answered a probe (set_backend_ready); echo at once.
    const bool gated = _runtime->plan_of(*r.service) != nullptr;
    _dialers.push_back(std::make_unique<reverse_dialer>(*this, r, share, !gated));
    _dialers.back()->start();
  }
}

std::string worker::listen_on(const endpoint& ep) {
  auto fd = core::open_listen_socket(ep.address.get(), ep.address.length, true);
  if (!fd)
    return "cannot listen on " + ep.address.to_string() + " (for " + ep.routes.front().accept->to_string() +
           "): " + std::strerror(fd.error());
  auto l = std::make_unique<listening>();
  l->ep = &ep;
  listening* at = l.get();
  l->socket = std::make_unique<acceptor>(*_reactor, std::move(*fd), ep.address.to_string(),
                                         [this, at](core::unique_fd s) { on_accept(*at->ep, std::move(s)); });
  l->socket->start();
  _listening.push_back(std::move(l));
  return {};
}

void worker::reload(std::shared_ptr<const runtime> next, const reload_plan& plan) {
  if (_draining) return;
  // Listeners: an address that stays keeps its socket (no client is refused meanwhile) and
  // routes by the new endpoint from now on; a new one opens; one no longer used closes.
  std::vector<std::unique_ptr<listening>> now;
  for (const endpoint& ep : next->endpoints) {
    auto same = std::ranges::find_if(_listening, [&](const auto& l) {
      return l && l->ep->address == ep.address && l->ep->kind == ep.kind;
    });
    if (same != _listening.end()) {
      (*same)->ep = &ep;
      now.push_back(std::move(*same));
      continue;
    }
    std::string error = listen_on(ep);
    if (!error.empty()) {
      LOG_ERROR("reload: %s", error.c_str());
      continue;
    }
    now.push_back(std::move(_listening.back()));
    _listening.pop_back();
  }
  for (auto& l : _listening) {
    if (!l) continue;
    l->socket->close();
    _listeners.push_back(std::move(l->socket));  // freed with the worker, closed now
  }
  _listening = std::move(now);
  // The new runtime serves new clients; the old one stays while clients it served are open.
  const std::uint32_t old = _generation;
  _runtime = std::move(next);
  _generation = old + 1;
  _runtimes.emplace(_generation, _runtime);
  for (const config::service_config& s : _runtime->config->services) service_index(s);
  // Clients of stopped services finish as at a drain: close 1001, or a FIN. By fingerprint: a
  // client may have come in under any earlier runtime's copy of the service.
  std::set<std::string_view> stopped;
  for (const config::service_config* s : plan.stopped) stopped.insert(s->fingerprint);
  for (connection* c = _connections; c;) {
    connection* next_c = c->_next;
    if (c->_has_session && c->_session.service && stopped.contains(c->_session.service->fingerprint))
      c->begin_drain();
    c = next_c;
  }
}

void worker::release_unused_generations() {
  // The first runtime stays: what is fixed at start (links, backplane, balancing) refers to it.
  for (auto it = _runtimes.begin(); it != _runtimes.end();) {
    const std::uint32_t generation = it->first;
    auto count = _generation_sessions.find(generation);
    if (generation == 0 || generation == _generation || (count != _generation_sessions.end() && count->second > 0)) {
      ++it;
      continue;
    }
    if (count != _generation_sessions.end()) _generation_sessions.erase(count);
    it = _runtimes.erase(it);
  }
}

const endpoint* worker::current_endpoint(const endpoint& ep) const noexcept {
  auto within = [&](const std::vector<endpoint>& v) { return !v.empty() && &ep >= v.data() && &ep < v.data() + v.size(); };
  if (within(_runtime->endpoints)) return &ep;
  // Only a listener's endpoint moves; a reverse link's (socks_accept's) stays what it is.
  const bool listener = std::ranges::any_of(_runtimes, [&](const auto& g) { return within(g.second->endpoints); });
  if (!listener) return &ep;
  for (const endpoint& e : _runtime->endpoints)
    if (e.address == ep.address && e.kind == ep.kind) return &e;
  return nullptr;
}

void worker::rebase_session(connection& c) noexcept {
  if (!c._has_session || c._session.generation == _generation) return;
  if (auto it = _generation_sessions.find(c._session.generation); it != _generation_sessions.end() && it->second > 0)
    --it->second;
  c._session.generation = _generation;
  ++_generation_sessions[_generation];
}

const proxy_plan* worker::plan_of(const config::service_config& service) const noexcept {
  if (const proxy_plan* p = _runtime->plan_of(service)) return p;
  for (const auto& [generation, rt] : _runtimes)
    if (const proxy_plan* p = rt->plan_of(service)) return p;
  return nullptr;
}

void worker::set_backend_ready(const config::service_config& service, bool ready) {
  if (_draining) return;
  for (auto& d : _dialers)
    if (&d->service() == &service) d->set_backend_ready(ready);
}

bool worker::refuse_at_limit(std::string_view what) {
  if (_reactor->open_streams() < _stream_limit) return false;
  ++_refused_unlogged;
  ++_metrics.refused_at_limit;
  const std::uint64_t now = _reactor->now_ms();
  if (_refused_logged_ms == 0 || now - _refused_logged_ms >= 10'000) {
    LOG_WARN("connection limit reached on reactor %u (%zu open sockets, its share of RLIMIT_NOFILE): refused %zu "
             "new client(s) on %.*s%s",
             _reactor->id(), _reactor->open_streams(), _refused_unlogged, static_cast<int>(what.size()), what.data(),
             _refused_logged_ms == 0 ? "" : " in the last 10 s or more");
    _refused_logged_ms = now == 0 ? 1 : now;
    _refused_unlogged = 0;
  }
  return true;
}

void worker::on_accept(const endpoint& ep, core::unique_fd fd) {
  if (_draining) return;  // fd closes here: the gateway is stopping
  if (refuse_at_limit(ep.address.to_string())) {
    if (ep.kind == endpoint_kind::http) {
      // One small send on a fresh socket fits its buffer: the client reads why, then EOF.
      static constexpr std::string_view answer =
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      [[maybe_unused]] auto sent = ::send(fd.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return;  // fd closes here
  }
  switch (ep.kind) {
    case endpoint_kind::http:
    case endpoint_kind::https:
      new http_connection(*this, std::move(fd), ep);
      return;
    case endpoint_kind::tcp:
    case endpoint_kind::tls: {
      const route& r = ep.routes.front();
      if (r.service->type == config::service_type::proxy)
        new tcp_proxy(*this, std::move(fd), ep, r);
      else
        new tcp_echo_connection(*this, std::move(fd), ep, r);
      return;
    }
  }
}

std::unique_ptr<net::transport> worker::accepted_transport(const endpoint& ep, core::unique_fd fd,
                                                           net::transport_handler& handler) {
  if (const net::tls_context* tls = _runtime->server_tls_of(ep))
    return net::make_tls_transport(*_reactor, std::move(fd), *tls, {}, handler, _limits.handshake_timeout_ms);
  return net::make_tcp_transport(*_reactor, std::move(fd), handler);
}

void worker::dispose(std::unique_ptr<net::transport> t, bool flush, bool peer_finished) {
  if (!t) return;
  ++_closing_transports;
  new grave(*this, std::move(t), flush, peer_finished);
}

void worker::drain(std::function<void()> on_drained) {
  _draining = true;
  _on_drained = std::move(on_drained);
  _reactor->disarm_timer(_load_timer);
  _reactor->disarm_timer(_lag_timer);
  for (auto& l : _listeners) l->close();
  for (auto& l : _listening) l->socket->close();
  for (auto& d : _dialers) d->stop();
  _links->close_all();
  // begin_drain may end a connection, which unlinks it at once: keep the next one first.
  for (connection* c = _connections; c;) {
    connection* next = c->_next;
    c->begin_drain();
    c = next;
  }
  check_drained();
}

void worker::abort_all() {
  for (connection* c = _connections; c;) {
    connection* next = c->_next;
    c->abort();
    c = next;
  }
}

void worker::check_drained() {
  if (_draining && _connection_count == 0 && _closing_transports == 0 && _on_drained)
    std::exchange(_on_drained, nullptr)();
}

void worker::adopt(connection& c) noexcept {
  c._prev = nullptr;
  c._next = _connections;
  if (_connections) _connections->_prev = &c;
  _connections = &c;
  ++_connection_count;
}

void worker::count_as_load(connection& c) noexcept {
  if (c._counted_as_load) return;
  c._counted_as_load = true;
  ++_load_count;
}

void connection::count_as_load() noexcept { _worker->count_as_load(*this); }

void worker::forget(connection& c) noexcept {
  if (c._prev) c._prev->_next = c._next;
  else _connections = c._next;
  if (c._next) c._next->_prev = c._prev;
  c._prev = c._next = nullptr;
  --_connection_count;
  if (c._has_session) end_session(c);
  if (c._counted_as_load) {
    c._counted_as_load = false;
    --_load_count;
  }
  check_drained();
}

}  // namespace postern::gateway
