// management: the management service (<type>management</type>): GET <accept path>/metrics
// answers the Prometheus text of metrics.h, GET <accept path>/health answers 200 while this
// member is ready for at least one of its balanced services (without <balance>: at least one
// service it serves is ready), else 503 — for an L4 load balancer's health check.
//
// A scrape never takes a lock: the hub posts to every reactor, each copies its own counters
// (worker::snapshot) on its thread, reactor 0 adds the cluster's view and the health, and the
// last one posts the whole back to the reactor that asked, which renders and answers.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/metrics.h"

namespace postern::core {
class reactor_group;
}

namespace postern::gateway {

class worker;
class readiness_registry;
class cluster_node;
struct balancing_plan;

class management_hub {
 public:
  // workers[i] is reactor i's worker; all outlive the hub's last answer (main drains the
  // reactors before it frees either).
  management_hub(core::reactor_group* group, std::vector<worker*> workers, const readiness_registry& readiness,
                 std::shared_ptr<const balancing_plan> balancing);

  // Reactor 0 only (post it): the cluster node once it runs, null when it stops.
  void set_cluster(const cluster_node* node) noexcept { _cluster = node; }

  // From reactor `from`'s thread: done runs later on that thread with the snapshot, or with
  // nullopt when a reactor could not be asked (its mailbox was full); without a group, at
  // once. When the asker's own mailbox is full at the end, done never runs: the caller keeps
  // a deadline.
  void gather(unsigned from, std::function<void(std::optional<metrics_snapshot>)> done);

 private:
  struct scrape;
  void fill_reactor0(metrics_snapshot& snap) const;  // cluster and health, on reactor 0
  bool healthy() const;

  core::reactor_group* _group;
  std::vector<worker*> _workers;
  const readiness_registry* _readiness;
  std::shared_ptr<const balancing_plan> _balancing;
  const cluster_node* _cluster = nullptr;
};

// The HTTP response for a management request: method GET or HEAD (else 405), what is
// "metrics" or "health". Pure; head_only leaves the body out (Content-Length stays).
std::string management_response(std::string_view method, std::string_view what, const metrics_snapshot& snap);

}  // namespace postern::gateway
