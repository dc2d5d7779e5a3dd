#include "gateway/backplane.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/acceptor.h"
#include "gateway/readiness.h"
#include "gateway/worker.h"
#include "net/socks5.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace postern::gateway {

namespace socks5 = net::socks5;

void set_link_keepalive(int fd) noexcept {
  const int on = 1, idle = 10, interval = 5, count = 3;
  const unsigned user_timeout_ms = 25'000;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

// ---------------------------------------------------------------------------------------------
// One link on its reactor, from the accepted socket to parked, and until it is claimed or gone.

class link_pool::link final : public net::transport_handler {
 public:
  enum class state : std::uint8_t { handshaking, greeting, parked, claimed, gone };

  link(link_pool& pool, core::unique_fd fd, const backplane_plan& bp)
      : _pool(&pool), _plan(&bp), _peer(net::peer_address_of(fd.get())), _timer([this] {
          fail("no SOCKS5 BIND request within the handshake timeout");
        }) {
    worker& w = *pool._worker;
    set_link_keepalive(fd.get());
    if (bp.tls)
      _transport = net::make_tls_transport(w.reactor(), std::move(fd), *bp.tls, {}, *this, w.limits().handshake_timeout_ms);
    else
      _transport = net::make_tcp_transport(w.reactor(), std::move(fd), *this);
    w.reactor().arm_timer(_timer, w.limits().handshake_timeout_ms);
    _transport->start();
  }
  ~link() { _pool->_worker->reactor().disarm_timer(_timer); }

  state current() const noexcept { return _state; }
  // Whether reactor 0 has been told that this handed-off socket parked or ended (once).
  bool settle() noexcept { return !std::exchange(_settled, true); }
  const std::string& uri() const noexcept { return _uri; }
  const net::socket_address& peer() const noexcept { return _peer; }

  // claimed: the caller takes the transport.
  std::unique_ptr<net::transport> take(const net::socket_address& client) {
    std::string reply;
    socks5::encode_reply(reply, socks5::reply_code::succeeded, socks5::address::from_sockaddr(client.get()));
    _transport->write(reply);
    _state = state::claimed;
    return std::move(_transport);
  }

  // Ends a parked link politely so that the internal gateway dials a replacement at once, which
  // reactor 0 hands to a reactor where a client waits (reply 6, "TTL expired": retired).
  void retire() {
    std::string reply;
    socks5::encode_reply(reply, socks5::reply_code::ttl_expired,
                         socks5::address::from_sockaddr(_plan->address.get()));
    _transport->write(reply);
    _state = state::gone;
    _pool->_worker->dispose(std::move(_transport), true);
    _pool->on_gone(*this);
  }

  void close_now() {
    if (_state == state::gone) return;
    _state = state::gone;
    _pool->_worker->reactor().disarm_timer(_timer);
    _pool->_worker->dispose(std::move(_transport));
    _pool->on_gone(*this);
  }

  void on_transport_ready() override {
    if (_state == state::handshaking) _state = state::greeting;
  }

  void on_transport_data(std::span<std::byte> bytes) override {
    if (_state == state::parked) {
      fail("sent " + std::to_string(bytes.size()) + " byte(s) while parked (only the DMZ speaks before a client)");
      return;
    }
    if (_state != state::greeting) return;
    _in.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::string out;
    const auto step = _handshake.feed(_in, out);
    if (!out.empty()) _transport->write(out);
    out.clear();
    if (step == socks5::server_handshake::step::need_more) return;
    if (step == socks5::server_handshake::step::error) return refuse_after_write(_handshake.error());
    if (!_in.empty()) return fail("bytes after the SOCKS5 BIND request");
    const socks5::request& r = _handshake.received();
    const socks5::address bound = socks5::address::from_sockaddr(_plan->address.get());
    if (r.cmd != socks5::command::bind) {
      socks5::encode_reply(out, socks5::reply_code::command_not_supported, bound);
      _transport->write(out);
      return refuse_after_write("SOCKS5 " + std::string(socks5::to_string(r.cmd)) +
                                " request (a backplane takes BIND only)");
    }
    const socks5::address& target = r.target;
    const bool known = target.type == socks5::address::kind::domain &&
                       std::ranges::find(_plan->logical_uris, target.domain) != _plan->logical_uris.end();
    if (!known) {
      socks5::encode_reply(out, socks5::reply_code::not_allowed, bound);
      _transport->write(out);
      return refuse_after_write("BIND for " + target.to_string() + ", which no service here connects to");
    }
    socks5::encode_reply(out, socks5::reply_code::succeeded, bound);
    _transport->write(out);
    _in.clear();
    _uri = target.domain;
    _state = state::parked;
    _pool->_worker->reactor().disarm_timer(_timer);
    _pool->on_parked(*this);
  }

  void on_transport_eof() override {
    fail(_state == state::parked ? "closed by the internal gateway" : "closed during the SOCKS5 handshake");
  }
  void on_transport_error(int, std::string_view what) override { fail(what); }
  void on_transport_closed() override {}

 private:
  void fail(std::string_view why) {
    if (_state == state::gone) return;
    if (_state == state::parked)
      LOG_INFO("backplane %s: parked link from %s for %s dropped: %.*s", _plan->transport.to_string().c_str(),
               _peer.to_string().c_str(), _uri.c_str(), static_cast<int>(why.size()), why.data());
    else
      LOG_WARN("backplane %s: link from %s refused: %.*s", _plan->transport.to_string().c_str(),
               _peer.to_string().c_str(), static_cast<int>(why.size()), why.data());
    close_now();
  }
  // Sends what was written (the refusal), then closes.
  void refuse_after_write(std::string why) {
    LOG_WARN("backplane %s: link from %s refused: %s", _plan->transport.to_string().c_str(), _peer.to_string().c_str(),
             why.c_str());
    _state = state::gone;
    _pool->_worker->reactor().disarm_timer(_timer);
    _pool->_worker->dispose(std::move(_transport), true);
    _pool->on_gone(*this);
  }

  link_pool* _pool;
  const backplane_plan* _plan;
  net::socket_address _peer;
  std::unique_ptr<net::transport> _transport;
  state _state = state::handshaking;
  std::string _in;
  socks5::server_handshake _handshake;
  std::string _uri;
  bool _settled = false;
  core::timer _timer;
};

// ---------------------------------------------------------------------------------------------

link_pool::link_pool(worker& w) : _worker(&w) {}

link_pool::~link_pool() = default;

void link_pool::adopt_link(core::unique_fd fd, const backplane_plan& bp) {
  if (_closed) return;
  _links.push_back(std::make_unique<link>(*this, std::move(fd), bp));
}

std::unique_ptr<net::transport> link_pool::claim(std::string_view uri, const net::socket_address& client) {
  auto it = _parked.find(uri);
  if (it == _parked.end() || it->second.empty()) return nullptr;
  link* l = it->second.front();
  it->second.pop_front();
  return hand_over(*l, client);
}

std::unique_ptr<net::transport> link_pool::hand_over(link& l, const net::socket_address& client) {
  LOG_DEBUG("backplane: link from %s for %s claimed by %s", l.peer().to_string().c_str(), l.uri().c_str(),
            client.to_string().c_str());
  std::unique_ptr<net::transport> t = l.take(client);
  report(l.uri(), -1, 0);
  ++_worker->metrics().reverse_links_claimed;
  // The link object is done; free it after this callback (its timer is disarmed).
  auto found = std::ranges::find_if(_links, [&](const auto& p) { return p.get() == &l; });
  if (found != _links.end()) {
    std::shared_ptr<link> keep(std::move(*found));
    _links.erase(found);
    _worker->reactor().defer([keep] {});
  }
  return t;
}

void link_pool::wait(std::string_view uri, const net::socket_address& client, waiter& w) {
  _waiting.push_back(waiting{&w, std::string(uri), client});
  report(uri, 0, +1);
}

void link_pool::cancel(waiter& w) noexcept {
  auto it = std::ranges::find_if(_waiting, [&](const waiting& x) { return x.who == &w; });
  if (it == _waiting.end()) return;
  std::string uri = std::move(it->uri);
  _waiting.erase(it);
  report(uri, 0, -1);
}

void link_pool::on_parked(link& l) {
  LOG_DEBUG("backplane: link from %s parked for %s", l.peer().to_string().c_str(), l.uri().c_str());
  auto w = std::ranges::find_if(_waiting, [&](const waiting& x) { return x.uri == l.uri(); });
  if (w != _waiting.end()) {
    waiting who = std::move(*w);
    _waiting.erase(w);
    report(who.uri, +1, -1, l.settle());
    who.who->on_link(hand_over(l, who.client));
    return;
  }
  _parked[l.uri()].push_back(&l);
  report(l.uri(), +1, 0, l.settle());
}

void link_pool::on_gone(link& l) {
  bool was_parked = false;
  auto it = _parked.find(l.uri());
  if (it != _parked.end()) {
    auto p = std::ranges::find(it->second, &l);
    if (p != it->second.end()) {
      it->second.erase(p);
      was_parked = true;
    }
  }
  report(l.uri(), was_parked ? -1 : 0, 0, l.settle());
  auto found = std::ranges::find_if(_links, [&](const auto& p) { return p.get() == &l; });
  if (found != _links.end()) {
    std::shared_ptr<link> keep(std::move(*found));
    _links.erase(found);
    _worker->reactor().defer([keep] {});
  }
}

void link_pool::retire_one(std::string_view uri) {
  if (std::ranges::any_of(_waiting, [&](const waiting& w) { return w.uri == uri; })) return;  // ours now
  auto it = _parked.find(uri);
  if (it == _parked.end() || it->second.empty()) return;
  link* l = it->second.front();
  LOG_DEBUG("backplane: link from %s for %s retired so that a waiting client's reactor gets one",
            l->peer().to_string().c_str(), l->uri().c_str());
  l->retire();
}

void link_pool::close_all() {
  _closed = true;
  std::vector<link*> all;
  for (auto& l : _links) all.push_back(l.get());
  for (link* l : all) l->close_now();
}

void link_pool::report(std::string_view uri, int delta_parked, int delta_waiting, bool settled) {
  if (!_backplane || (delta_parked == 0 && delta_waiting == 0 && !settled)) return;
  const unsigned id = _worker->reactor().id();
  if (id == 0 || !_worker->reactor().group()) {
    _backplane->on_counts(id, std::string(uri), delta_parked, delta_waiting, settled);
    return;
  }
  _worker->reactor().group()->post(0, [b = _backplane, id, u = std::string(uri), delta_parked, delta_waiting,
                                       settled](core::reactor&) { b->on_counts(id, u, delta_parked, delta_waiting, settled); });
}

// ---------------------------------------------------------------------------------------------

backplane::backplane(std::vector<worker*> workers, readiness_registry& readiness)
    : _workers(std::move(workers)), _rt(&_workers[0]->rt()), _readiness(&readiness), _load(_workers.size(), 0) {}

backplane::~backplane() = default;

void backplane::start() {
  const runtime& rt = *_rt;
  for (const backplane_plan& bp : rt.backplanes) {
    auto fd = core::open_listen_socket(bp.address.get(), bp.address.length, false);
    if (!fd)
      throw runtime_error("cannot listen on backplane " + bp.transport.to_string() + " (" + bp.address.to_string() +
                          "): " + std::strerror(fd.error()));
    _acceptors.push_back(std::make_unique<acceptor>(
        _workers[0]->reactor(), std::move(*fd), "backplane " + bp.transport.to_string(),
        [this, plan = &bp, what = "backplane " + bp.transport.to_string()](core::unique_fd s) {
          if (!_workers[0]->refuse_at_limit(what)) hand_off(std::move(s), *plan);
        }));
    _acceptors.back()->start();
    for (const std::string& uri : bp.logical_uris) {
      if (_uris.contains(uri)) continue;
      _uris.emplace(uri, std::make_unique<uri_state>(uri, _workers.size(), [this, uri] {
                      uri_state& u = *_uris.at(uri);
                      if (u.total() == 0 && u.ready) publish(u, false);
                    }));
    }
    std::string uris;
    for (const std::string& uri : bp.logical_uris) uris += (uris.empty() ? "" : ", ") + uri;
    LOG_INFO("backplane %s listening on %s for %s", bp.transport.to_string().c_str(), bp.address.to_string().c_str(),
             uris.c_str());
  }
}

void backplane::stop() {
  for (auto& a : _acceptors) a->close();
  for (auto& [uri, u] : _uris) _workers[0]->reactor().disarm_timer(u->grace);
}

void backplane::hand_off(core::unique_fd fd, const backplane_plan& bp) {
  // The reactor with the fewest parked links, clients waiting counting against it; ties go round.
  const unsigned n = static_cast<unsigned>(_workers.size());
  unsigned best = _next % n;
  for (unsigned k = 0; k < n; ++k) {
    const unsigned i = (_next + k) % n;
    if (_load[i] < _load[best]) best = i;
  }
  _next = (best + 1) % n;
  ++_load[best];  // counted at once, so that a burst of links spreads before the pools report
  worker* w = _workers[best];
  if (best == 0 || !w->reactor().group()) {
    w->links().adopt_link(std::move(fd), bp);
    return;
  }
  w->reactor().group()->post(best, [w, raw = fd.release(), plan = &bp](core::reactor&) {
    w->links().adopt_link(core::unique_fd(raw), *plan);
  });
}

void backplane::on_counts(unsigned reactor, const std::string& uri, int delta_parked, int delta_waiting,
                          bool settled) {
  if (reactor >= _load.size()) return;
  _load[reactor] += delta_parked - delta_waiting - (settled ? 1 : 0);
  auto it = _uris.find(uri);
  if (it == _uris.end()) return;
  uri_state& u = *it->second;
  u.parked[reactor] += delta_parked;
  u.waiting[reactor] += delta_waiting;
  // A client waits on a reactor without a link while another reactor has one parked: that one
  // is retired, and its replacement comes to the waiting reactor (hand_off counts waiters).
  // Both orders happen: the client starts waiting while the link is parked, or the link parks
  // (it was being set up there) after the client started waiting.
  if (delta_waiting > 0 && u.parked[reactor] == 0) {
    auto most = std::ranges::max_element(u.parked);
    if (*most > 0) retire_one(u, static_cast<unsigned>(most - u.parked.begin()));
  } else if (delta_parked > 0 && delta_waiting == 0) {
    for (std::size_t r = 0; r < u.waiting.size(); ++r)
      if (r != reactor && u.waiting[r] > 0 && u.parked[r] == 0) {
        retire_one(u, reactor);
        break;
      }
  }
  const long total = u.total();
  if (total > 0) {
    _workers[0]->reactor().disarm_timer(u.grace);
    if (!u.ready) publish(u, true);
    return;
  }
  // None parked: a burst of clients can take every link for the moment it takes the internal
  // gateway to dial replacements; only a pool that stays empty makes the service not ready.
  if (u.ready) _workers[0]->reactor().arm_timer(u.grace, not_ready_grace_ms);
}

void backplane::retire_one(uri_state& u, unsigned holder) {
  worker* w = _workers[holder];
  if (holder == 0 || !w->reactor().group())
    w->links().retire_one(u.uri);
  else
    w->reactor().group()->post(holder, [w, uri = u.uri](core::reactor&) { w->links().retire_one(uri); });
}

long backplane::uri_state::total() const noexcept {
  long sum = 0;
  for (long c : parked) sum += c;
  return sum;
}

void backplane::publish(uri_state& u, bool ready) {
  u.ready = ready;
  const long total = u.total();
  for (const backplane_plan& bp : _rt->backplanes)
    for (const config::service_config* s : bp.services) {
      const proxy_plan* plan = _rt->plan_of(*s);
      if (!plan || plan->logical_uri != u.uri) continue;
      _readiness->report_links(*s, ready,
                               ready ? std::to_string(total) + " reverse link(s) parked for " + u.uri
                                     : "no reverse link parked for " + u.uri);
    }
}

}  // namespace postern::gateway
