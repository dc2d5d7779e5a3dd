#include "gateway/cluster_node.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/readiness.h"
#include "gateway/runtime.h"
#include "gateway/worker.h"

namespace postern::gateway {

namespace {

constexpr int leaving_copies = 3;
constexpr std::uint64_t rejected_log_interval_ms = 60'000;
// After the leaving datagrams are queued, the socket closes this much later, so that they have
// reached the kernel (io_uring sends complete asynchronously; close() would drop queued ones).
constexpr std::uint64_t close_delay_ms = 20;

cluster::membership_options membership_options_of(const worker& w0) {
  cluster::membership_options options;
  if (const auto& cluster = w0.rt().config->cluster) {
    options.heartbeat_interval_ms = cluster->heartbeat_interval_ms;
    options.suspect_after_ms = cluster->suspect_timeout_ms;
    options.failure_timeout_ms = cluster->failure_timeout_ms;
  }
  return options;
}

cluster::member_state initial_state(const worker& w0, const balancing_plan& plan, std::uint64_t start_ms) {
  // Readiness is unknown before the first probe: every service starts not ready, except echo.
  return local_member_state(w0.rt(), plan, start_ms,
                            [](const config::service_config& s) { return s.type == config::service_type::echo; });
}

std::string errno_text(int error) { return std::strerror(error); }

net::socket_address resolve_or_throw(const net::uri& u, const char* what) {
  auto a = net::resolve_address(u.host, u.port);
  if (!a) throw runtime_error(std::string("<cluster> ") + what + " " + u.to_string() + ": " + a.error());
  return *a;
}

// Binds a UDP socket to the accept address with port 0: fails with a clear sentence when that
// address is not one of this host's.
void check_local(const net::uri& accept, const net::socket_address& address) {
  net::socket_address probe = address;
  if (probe.family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&probe.storage)->sin_port = 0;
  else
    reinterpret_cast<sockaddr_in6*>(&probe.storage)->sin6_port = 0;
  auto fd = core::open_udp_socket(probe.get(), probe.length, false);
  if (!fd)
    throw runtime_error("<cluster><accept> " + accept.to_string() + ": " + address.to_string() +
                        " is not an address of this host (bind: " + errno_text(fd.error()) + ")");
}

}  // namespace

void cluster_node::socket_events::on_datagram(std::span<const std::byte> bytes, const sockaddr_storage& from,
                                              socklen_t from_len) {
  _node->receive(bytes, from, from_len);
}

void cluster_node::socket_events::on_datagram_error(int error) {
  // A lost datagram is what gossip tolerates by design: log it at debug level and go on.
  LOG_DEBUG("cluster: gossip socket: %s", std::strerror(error));
}

void cluster_node::socket_events::on_closed() { _node->closed(); }

cluster_node::cluster_node(std::vector<worker*> workers, readiness_registry& readiness,
                           std::shared_ptr<const balancing_plan> plan, std::uint64_t start_wall_ms)
    : _workers(std::move(workers)),
      _readiness(&readiness),
      _plan(std::move(plan)),
      _membership(initial_state(*_workers.at(0), *_plan, start_wall_ms), membership_options_of(*_workers.at(0))),
      _loads(_workers.size(), 0),
      _heartbeat([this] { tick(); }),
      _close_timer([this] {
        // Closes the socket (on_closed then calls closed()), or without one runs `done` now.
        if (!_socket || _socket_closed)
          closed();
        else if (!_socket->closing())
          _socket->close();
      }) {
  const auto& cluster = _workers[0]->rt().config->cluster;
  _socket_closed = true;
  if (!cluster) return;
  if (cluster->accepts.empty()) throw runtime_error("<cluster> needs an <accept> (this member's identity)");
  if (cluster->connects.empty()) throw runtime_error("<cluster> needs a <connect> (udp://group:port or tcp:// seeds)");

  std::optional<cluster::cluster_key> key;
  if (cluster->key_file) {
    auto k = cluster::load_cluster_key(*cluster->key_file);
    if (!k) throw runtime_error("<cluster><key-file>: " + k.error());
    key = std::move(*k);
  } else {
    LOG_WARN("cluster: no <key-file>: gossip datagrams are not authenticated (any host that reaches the "
             "cluster's port can join it or forge members)");
  }
  _codec.emplace(cluster->name, std::move(key));
  if (auto size = _codec->encoded_size(_membership.self()); !size)
    throw runtime_error(std::string("<cluster>: this member's state does not fit one gossip datagram (") +
                        std::string(cluster::to_string(size.error())) + ")");

  const net::uri& accept = cluster->accepts.front();
  const net::socket_address self_address = resolve_or_throw(accept, "<accept>");
  check_local(accept, self_address);

  if (cluster->connects.front().scheme == net::uri_scheme::udp) {
    _multicast = true;
    const net::uri& connect = cluster->connects.front();
    _group = resolve_or_throw(connect, "<connect>");
    if (_group.family() != AF_INET || self_address.family() != AF_INET)
      throw runtime_error("<cluster> multicast needs IPv4 addresses (" + connect.to_string() + ", " +
                          accept.to_string() + ")");
    auto fd = core::open_udp_socket(_group.get(), _group.length, true);
    if (!fd)
      throw runtime_error("<cluster><connect> " + connect.to_string() + ": cannot bind " + _group.to_string() + ": " +
                          errno_text(fd.error()));
    const in_addr group = reinterpret_cast<const sockaddr_in*>(&_group.storage)->sin_addr;
    const in_addr iface = reinterpret_cast<const sockaddr_in*>(&self_address.storage)->sin_addr;
    if (auto joined = core::join_multicast(fd->get(), group, iface); !joined)
      throw runtime_error("<cluster><connect> " + connect.to_string() + ": cannot join the group on " +
                          self_address.to_string() + ": " + errno_text(joined.error()));
    _fd = std::move(*fd);
  } else {
    for (const net::uri& seed : cluster->connects) {
      net::socket_address a = resolve_or_throw(seed, "seed");
      if (a == self_address)
        _seed = true;
      else if (std::find(_seeds.begin(), _seeds.end(), a) == _seeds.end())
        _seeds.push_back(a);
    }
    auto fd = core::open_udp_socket(self_address.get(), self_address.length, false);
    if (!fd)
      throw runtime_error("<cluster><accept> " + accept.to_string() + ": cannot bind " + self_address.to_string() +
                          ": " + errno_text(fd.error()));
    _fd = std::move(*fd);
  }
  // Room for about a second of heartbeats of a few hundred members, so that a reactor busy for a
  // moment loses none (bench/cluster_sim_bench.cc: 87 lost in 200 ms at 256 members with the
  // default buffer, none with 1 MiB). The kernel caps it at net.core.rmem_max.
  const int rcvbuf = 1 << 20;
  ::setsockopt(_fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  _socket_closed = false;
}

cluster_node::~cluster_node() {
  // A socket whose on_closed has not come may still be referred to by its reactor: leaking it
  // is safe, freeing it is not (only reachable when the reactors stopped before stop()).
  if (_socket && !_socket_closed) (void)_socket.release();
}

void cluster_node::start() {
  refresh_self();
  publish_if_changed();
  const std::uint64_t interval = _membership.options().heartbeat_interval_ms;
  core::reactor_group* group = _workers[0]->reactor().group();
  for (worker* w : _workers) {
    if (!w) continue;
    auto begin = [w, this, interval] {
      w->report_load([this](unsigned r, std::size_t n) { on_load(r, n); }, interval);
    };
    if (w == _workers[0] || !group)
      begin();
    else
      group->post(w->reactor().id(), [begin](core::reactor&) { begin(); });
  }
  if (_fd) {
    _socket = std::make_unique<core::datagram_socket>(_workers[0]->reactor(), std::move(_fd), _socket_events);
    _socket->start();
    LOG_INFO("cluster: member %s gossiping %s", _membership.self().identity.c_str(),
             _multicast ? ("to group " + _group.to_string()).c_str()
                        : (_seed ? "as a seed" : "through the seeds"));
    send_heartbeat();
  }
  _workers[0]->reactor().arm_timer(_heartbeat, _membership.options().heartbeat_interval_ms);
}

void cluster_node::stop(std::function<void()> done) {
  if (_stopped) return;
  _stopped = true;
  core::reactor& r = _workers[0]->reactor();
  r.disarm_timer(_heartbeat);
  _on_stopped = std::move(done);
  if (!_socket || _socket_closed) {
    r.arm_timer(_close_timer, 0);  // `done` never runs inside stop()
    return;
  }
  _membership.set_leaving();
  for (int i = 0; i < leaving_copies; ++i) send_heartbeat();
  r.arm_timer(_close_timer, close_delay_ms);
}

void cluster_node::closed() {
  _socket_closed = true;
  if (_on_stopped) {
    std::function<void()> done = std::move(_on_stopped);
    _on_stopped = nullptr;
    done();
  }
}

void cluster_node::on_load(unsigned reactor, std::size_t count) {
  if (reactor < _loads.size()) _loads[reactor] = count;
}

void cluster_node::on_datagram(std::span<const std::byte> bytes) {
  sockaddr_storage none{};
  receive(bytes, none, 0);
}

void cluster_node::receive(std::span<const std::byte> bytes, const sockaddr_storage& from, socklen_t from_len) {
  ++_counters.datagrams_in;
  if (!_codec) {
    ++_counters.rejected;
    return;
  }
  if (auto ok = _codec->decode(bytes, _scratch); !ok) {
    count_rejected(ok.error());
    return;
  }
  const std::uint64_t now = _workers[0]->reactor().now_ms();
  const cluster::datagram_verdict verdict = _membership.on_datagram(_scratch, now, _events);
  if (verdict != cluster::datagram_verdict::applied) ++_counters.dropped;
  // A seed relays what it applied (each datagram once: a copy that comes back is a replay) to
  // the others, but not back to the member it came from nor to the one it speaks for.
  if (_seed && !_stopped && verdict == cluster::datagram_verdict::applied && _socket) {
    net::socket_address sender;
    if (from_len > 0 && from_len <= sizeof(sockaddr_storage)) {
      std::memcpy(&sender.storage, &from, from_len);
      sender.length = from_len;
    }
    const net::socket_address origin = _scratch.state.address;
    for (const cluster::member_view& m : _membership.live_members()) {
      if (m.is_local || m.state->address == origin || m.state->address == sender) continue;
      send_one(bytes, m.state->address);
      ++_counters.forwarded;
    }
  }
  log_events();
}

void cluster_node::count_rejected(cluster::gossip_error why) {
  ++_counters.rejected;
  const auto kind = std::min<std::size_t>(static_cast<std::size_t>(why), error_kinds - 1);
  ++_rejected_since_log[kind];
  const std::uint64_t now = _workers[0]->reactor().now_ms() + 1;  // + 1: 0 means never logged
  if (_rejected_logged_ms[kind] != 0 && now - _rejected_logged_ms[kind] < rejected_log_interval_ms) return;
  LOG_WARN("cluster: ignored %llu gossip datagram(s): %s (%llu rejected in all)",
           static_cast<unsigned long long>(_rejected_since_log[kind]), cluster::to_string(why).data(),
           static_cast<unsigned long long>(_counters.rejected));
  _rejected_logged_ms[kind] = now;
  _rejected_since_log[kind] = 0;
}

void cluster_node::send_heartbeat() {
  if (!_socket || !_codec) return;
  auto size = _codec->encode(_membership.self(), _membership.next_sequence(), _out);
  if (!size) {
    // encoded_size() was checked at start with every balance; only OpenSSL can fail here.
    LOG_ERROR("cluster: cannot encode this member's heartbeat: %s", cluster::to_string(size.error()).data());
    return;
  }
  send_to_all(std::span<const std::byte>(_out.data(), *size), nullptr);
}

void cluster_node::send_to_all(std::span<const std::byte> bytes, const net::socket_address* except) {
  if (_multicast) {
    send_one(bytes, _group);
    return;
  }
  for (const net::socket_address& s : _seeds)
    if (!except || !(s == *except)) send_one(bytes, s);
  for (const cluster::member_view& m : _membership.live_members()) {
    if (m.is_local || (except && m.state->address == *except)) continue;
    if (std::find(_seeds.begin(), _seeds.end(), m.state->address) != _seeds.end()) continue;
    send_one(bytes, m.state->address);
  }
}

void cluster_node::send_one(std::span<const std::byte> bytes, const net::socket_address& to) {
  if (to.length == 0) return;
  if (!_socket->send_to(bytes, to.get(), to.length)) ++_counters.send_refused;
  else ++_counters.datagrams_out;
}

void cluster_node::tick() {
  if (_stopped) return;
  refresh_self();
  send_heartbeat();
  _membership.tick(_workers[0]->reactor().now_ms(), _events);
  log_events();
  publish_if_changed();
  _workers[0]->reactor().arm_timer(_heartbeat, _membership.options().heartbeat_interval_ms);
}

void cluster_node::refresh_self() {
  std::size_t load = 0;
  for (std::size_t n : _loads) load += n;
  _membership.set_load(static_cast<std::uint32_t>(std::min<std::size_t>(load, UINT32_MAX)));
  for (const local_balance& l : _plan->locals) {
    const bool ready = l.service->type == config::service_type::echo || _readiness->ready(*l.service);
    _membership.set_ready(l.balance_uri, ready);
  }
}

void cluster_node::publish_if_changed() {
  if (_membership.generation() == _published_generation) return;
  _published_generation = _membership.generation();
  std::shared_ptr<const cluster::balancer_table> table = cluster::build_balancer_table(_membership);
  ++_counters.tables_built;
  core::reactor_group* group = _workers[0]->reactor().group();
  for (worker* w : _workers) {
    if (!w) continue;
    if (w == _workers[0] || !group)
      w->set_balancer_table(table);
    else
      group->post(w->reactor().id(), [w, table](core::reactor&) { w->set_balancer_table(table); });
  }
}

void cluster_node::log_events() {
  for (const cluster::member_event& e : _events) {
    switch (e.kind) {
      case cluster::member_event_kind::suspected:
      case cluster::member_event_kind::failed:
      case cluster::member_event_kind::refuted:
        LOG_WARN("cluster: member %s %s (incarnation %llu)", e.identity.c_str(), cluster::to_string(e.kind).data(),
                 static_cast<unsigned long long>(e.incarnation));
        break;
      default:
        LOG_INFO("cluster: member %s %s (incarnation %llu)", e.identity.c_str(), cluster::to_string(e.kind).data(),
                 static_cast<unsigned long long>(e.incarnation));
    }
  }
  _events.clear();
}

}  // namespace postern::gateway
