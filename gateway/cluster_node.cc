#include "gateway/cluster_node.h"

#include <chrono>

#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/readiness.h"
#include "gateway/worker.h"

namespace postern::gateway {

namespace {

cluster::member_state initial_state(const worker& w0, const balancing_plan& plan, std::uint64_t start_ms) {
  // Readiness is unknown before the first probe: every service starts not ready, except echo.
  return local_member_state(w0.rt(), plan, start_ms,
                            [](const config::service_config& s) { return s.type == config::service_type::echo; });
}

}  // namespace

cluster_node::cluster_node(std::vector<worker*> workers, readiness_registry& readiness,
                           std::shared_ptr<const balancing_plan> plan, std::uint64_t start_wall_ms)
    : _workers(std::move(workers)),
      _readiness(&readiness),
      _plan(std::move(plan)),
      _membership(initial_state(*_workers.at(0), *_plan, start_wall_ms)),
      _loads(_workers.size(), 0),
      _heartbeat([this] { tick(); }) {}

cluster_node::~cluster_node() = default;

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
  _workers[0]->reactor().arm_timer(_heartbeat, _membership.options().heartbeat_interval_ms);
}

void cluster_node::stop() {
  if (_stopped) return;
  _stopped = true;
  _workers[0]->reactor().disarm_timer(_heartbeat);
}

void cluster_node::on_load(unsigned reactor, std::size_t count) {
  if (reactor < _loads.size()) _loads[reactor] = count;
}

void cluster_node::on_datagram(std::span<const std::byte> bytes) {
  ++_counters.datagrams_in;
  if (!_codec || !_codec->decode(bytes, _scratch)) {
    ++_counters.rejected;
    return;
  }
  const std::uint64_t now = _workers[0]->reactor().now_ms();
  if (_membership.on_datagram(_scratch, now, _events) != cluster::datagram_verdict::applied) ++_counters.dropped;
  log_events();
}

void cluster_node::tick() {
  if (_stopped) return;
  refresh_self();
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
