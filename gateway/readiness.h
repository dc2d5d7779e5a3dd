// readiness: whether each proxy service can reach its backends (DESIGN §1: a member advertises
// a service as ready only while it can reach it). The view is kept on reactor 0: every connect
// outcome on any reactor is reported, and a reactor forwards its outcome to reactor 0 only when
// it differs from the last one it forwarded, so the data path sends no message per connection.
// While a service is unreachable, reactor 0 probes its backends (a full connect, TLS included)
// with a backoff from 500 ms doubling up to maximum.recovery.interval (default 30 s), like
// KAAZING's; while it is ready, every 2 s (so an idle gateway notices a lost backend). Every
// change is logged; the cluster publishes it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/gateway_config.h"
#include "core/reactor.h"

namespace postern::gateway {

class worker;
class backend_connector;
struct runtime;
struct reload_plan;

class readiness_registry {
 public:
  explicit readiness_registry(unsigned reactor_count);
  ~readiness_registry();
  readiness_registry(const readiness_registry&) = delete;
  readiness_registry& operator=(const readiness_registry&) = delete;

  // Called on reactor 0 at every change of a service's readiness (set before start()).
  void on_change(std::function<void(const config::service_config&, bool ready)> callback) {
    _on_change = std::move(callback);
  }
  // On reactor 0, once, before its loop: probes every proxy service once now.
  void start(worker& reactor0_worker);
  // Stops probing (reactor 0, at drain).
  void stop();
  // From any reactor's thread: the outcome of a connect to a service's backends; why is the
  // backend that answered (ok) or every backend's error (not ok).
  void report(worker& from, const config::service_config& service, bool ok, const std::string& why);
  // Reactor 0 only: a reverse-mode proxy service (DESIGN §5) is ready while at least one link is
  // parked for it; the backplane tells each change. Such services are never probed.
  void report_links(const config::service_config& service, bool ok, const std::string& why);
  // Reactor 0 only, at a reload (reload.h): stops watching the stopped services, starts
  // probing the started ones, and keeps the view of kept ones (matched by fingerprint, so a
  // report about any generation's copy of a service counts for all).
  void reload(const runtime& next, const reload_plan& plan);
  // Reactor 0 only: the current view (unknown counts as not ready).
  bool ready(const config::service_config& service) const;

 private:
  struct monitor;
  void on_report(std::string_view fingerprint, bool ok, const std::string& why);
  void arm_probe(monitor& m);

  // _last_sent[reactor][service]: what that reactor last forwarded; touched only by its reactor.
  std::vector<std::map<std::string, bool, std::less<>>> _last_sent;
  worker* _worker0 = nullptr;
  // By the service's fingerprint (identical services share a view); reactor 0 only.
  std::map<std::string, std::unique_ptr<monitor>, std::less<>> _monitors;
  bool _stopped = false;
  std::function<void(const config::service_config&, bool)> _on_change;
};

}  // namespace postern::gateway
