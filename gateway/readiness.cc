#include "gateway/readiness.h"

#include <algorithm>
#include <set>

#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/backend_connector.h"
#include "gateway/reload.h"
#include "gateway/worker.h"

namespace postern::gateway {

namespace {
constexpr std::uint64_t first_probe_delay_ms = 500;
// While a service is ready, its backend is probed this often too: a gateway without clients
// notices a lost backend (its /health, its cluster state) within about this long.
constexpr std::uint64_t ready_probe_interval_ms = 2000;
enum class health : std::uint8_t { unknown, ready, unreachable };
}  // namespace

struct readiness_registry::monitor final : backend_connector::owner_handler {
  readiness_registry* registry;
  const config::service_config* service;
  const proxy_plan* plan;
  health state = health::unknown;
  std::uint64_t backoff_ms = first_probe_delay_ms;
  std::unique_ptr<backend_connector> probe;
  core::timer timer;

  monitor(readiness_registry& r, const config::service_config& s, const proxy_plan& p)
      : registry(&r), service(&s), plan(&p), timer([this] { start_probe(); }) {}

  void start_probe() {
    if (registry->_stopped || probe) return;
    probe = std::make_unique<backend_connector>(*registry->_worker0, *service, *plan, *this);
    probe->start();
  }
  void on_backend_ready(std::unique_ptr<net::transport> t, const backend_target&) override {
    registry->_worker0->dispose(std::move(t));
    end_probe();
    if (state == health::ready && !registry->_stopped)
      registry->_worker0->reactor().arm_timer(timer, ready_probe_interval_ms);
  }
  void on_backend_failed(const std::string&, int) override {
    end_probe();
    if (state == health::unreachable) registry->arm_probe(*this);
  }
  // The connector is inside its own callback: free it after the callback returns.
  void end_probe() {
    if (!probe) return;
    registry->_worker0->reactor().defer([p = std::shared_ptr<backend_connector>(std::move(probe))] {});
  }
};

readiness_registry::readiness_registry(unsigned reactor_count) : _last_sent(reactor_count) {}

readiness_registry::~readiness_registry() = default;

void readiness_registry::start(worker& w) {
  _worker0 = &w;
  for (const config::service_config& s : w.config().services) {
    const proxy_plan* plan = w.rt().plan_of(s);
    if (!plan) continue;
    if (_monitors.contains(s.fingerprint)) continue;  // an identical service: one view for both
    auto& m = _monitors[s.fingerprint] = std::make_unique<monitor>(*this, s, *plan);
    if (plan->reverse) {
      LOG_INFO("service '%s': waiting for a reverse link for %s", s.name.c_str(), plan->logical_uri.c_str());
      continue;  // ready once a link is parked (report_links)
    }
    m->start_probe();
  }
}

void readiness_registry::reload(const runtime& next, const reload_plan& plan) {
  if (_stopped) return;
  std::set<std::string_view> still;  // fingerprints of the services that stay or come
  for (const auto& [old, now] : plan.kept) still.insert(now->fingerprint);
  for (const config::service_config* s : plan.started) still.insert(s->fingerprint);
  for (const config::service_config* s : plan.stopped) {
    if (still.contains(s->fingerprint)) continue;
    auto it = _monitors.find(s->fingerprint);
    if (it == _monitors.end()) continue;
    _worker0->reactor().disarm_timer(it->second->timer);
    it->second->end_probe();
    _monitors.erase(it);
  }
  // A kept service's view stays; what it probes with moves to the new runtime, so the old one
  // can go once its clients have (services fixed at start keep the first runtime's).
  for (const auto& [old, now] : plan.kept) {
    auto it = _monitors.find(now->fingerprint);
    const proxy_plan* p = next.plan_of(*now);
    if (it == _monitors.end() || !p || fixed_at_start(*now)) continue;
    monitor& m = *it->second;
    const bool probing = m.probe != nullptr;
    m.end_probe();
    m.service = now;
    m.plan = p;
    if (probing) m.start_probe();
  }
  for (const config::service_config* s : plan.started) {
    const proxy_plan* p = next.plan_of(*s);
    if (!p || _monitors.contains(s->fingerprint)) continue;
    _monitors[s->fingerprint] = std::make_unique<monitor>(*this, *s, *p);
    _monitors[s->fingerprint]->start_probe();
  }
}

void readiness_registry::stop() {
  _stopped = true;
  for (auto& [fingerprint, m] : _monitors) {
    _worker0->reactor().disarm_timer(m->timer);
    m->probe.reset();
  }
}

bool readiness_registry::ready(const config::service_config& service) const {
  auto it = _monitors.find(service.fingerprint);
  return it != _monitors.end() && it->second->state == health::ready;
}

void readiness_registry::report(worker& from, const config::service_config& service, bool ok, const std::string& why) {
  unsigned id = from.reactor().id();
  auto& last = _last_sent[id];
  auto it = last.find(service.fingerprint);
  if (it != last.end() && it->second == ok) return;
  last[service.fingerprint] = ok;
  if (id == 0) {
    on_report(service.fingerprint, ok, why);
    return;
  }
  // By value: the reporting reactor's runtime may be gone by the time reactor 0 reads it.
  from.reactor().group()->post(0, [this, f = service.fingerprint, ok, why](core::reactor&) { on_report(f, ok, why); });
}

void readiness_registry::report_links(const config::service_config& service, bool ok, const std::string& why) {
  on_report(service.fingerprint, ok, why);
}

void readiness_registry::on_report(std::string_view fingerprint, bool ok, const std::string& why) {
  auto it = _monitors.find(fingerprint);
  if (it == _monitors.end()) return;
  monitor& m = *it->second;
  // Reactor 0's own filter also resets, so its next different outcome is seen again.
  _last_sent[0][std::string(fingerprint)] = ok;
  const config::service_config& service = *m.service;
  if (ok) {
    if (m.state == health::ready) return;
    m.state = health::ready;
    m.backoff_ms = first_probe_delay_ms;
    if (m.plan->reverse || _stopped) _worker0->reactor().disarm_timer(m.timer);
    else if (!m.probe) _worker0->reactor().arm_timer(m.timer, ready_probe_interval_ms);
    if (m.plan->reverse) LOG_INFO("service '%s': ready, %s", service.name.c_str(), why.c_str());
    else LOG_INFO("service '%s': backend %s reachable", service.name.c_str(), why.c_str());
    if (_on_change) _on_change(*m.service, true);
    return;
  }
  if (m.plan->reverse) {
    m.state = health::unreachable;
    LOG_WARN("service '%s': not ready, %s", service.name.c_str(), why.c_str());
    if (_on_change) _on_change(*m.service, false);
    return;  // never probed: links come from the internal gateway
  }
  if (m.state == health::unreachable) return;
  m.state = health::unreachable;
  m.backoff_ms = first_probe_delay_ms;
  LOG_WARN("service '%s': backend unreachable (%s); probing with backoff up to %llu ms", service.name.c_str(),
           why.c_str(), static_cast<unsigned long long>(m.plan->recovery_interval_ms));
  if (_on_change) _on_change(*m.service, false);
  if (!m.probe) arm_probe(m);
}

void readiness_registry::arm_probe(monitor& m) {
  if (_stopped) return;
  _worker0->reactor().arm_timer(m.timer, m.backoff_ms);
  m.backoff_ms = std::min(m.backoff_ms * 2, std::max<std::uint64_t>(m.plan->recovery_interval_ms, first_probe_delay_ms));
}

}  // namespace postern::gateway
