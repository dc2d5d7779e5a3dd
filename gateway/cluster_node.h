// cluster_node: this member's part of the cluster, on reactor 0 only (DESIGN §3, §6). Every
// heartbeat interval it refreshes the member's own state (readiness of each balanced service,
// load summed from every worker's reports), advances the membership's failure detection, logs
// its events, and when the membership's generation changed (at most once per tick) builds a
// new balancer table and posts it to every worker. Without <cluster> the membership holds only
// this member (KAAZING's standalone balancer).
//
// Gossip over UDP (multicast group or unicast seeds) needs core/datagram.h, which is not in
// the tree yet: until it is, a config with <cluster> is refused at start-up (runtime.cc) and
// this node runs standalone. on_datagram() is the receiving entry point the socket will call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cluster/gossip_codec.h"
#include "cluster/membership.h"
#include "core/reactor.h"
#include "gateway/local_member.h"

namespace postern::gateway {

class worker;
class readiness_registry;

struct cluster_counters {
  std::uint64_t datagrams_in = 0;
  std::uint64_t rejected = 0;     // failed decoding (bad tag, other cluster, garbage): ignored
  std::uint64_t dropped = 0;      // authentic but not applied (replayed, stale, own, ...)
  std::uint64_t tables_built = 0;
};

class cluster_node {
 public:
  // workers[i] is reactor i's worker; workers[0] owns the reactor this node runs on. Built on
  // any thread; everything else runs on reactor 0.
  cluster_node(std::vector<worker*> workers, readiness_registry& readiness,
               std::shared_ptr<const balancing_plan> plan, std::uint64_t start_wall_ms);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  // Builds and posts the first table, starts the heartbeat timer and the workers' load reports.
  void start();
  // Drain: stops the heartbeat (the leaving datagrams go out here once gossip exists).
  void stop();

  // A worker's connection count (posted by worker::report_load).
  void on_load(unsigned reactor, std::size_t count);
  // One received datagram: decoded, applied to the membership, events logged. A datagram that
  // fails decoding is counted and changes nothing.
  void on_datagram(std::span<const std::byte> bytes);

  const cluster::membership& members() const noexcept { return _membership; }
  const cluster_counters& counters() const noexcept { return _counters; }

 private:
  void tick();
  void refresh_self();
  void publish_if_changed();
  void log_events();

  std::vector<worker*> _workers;
  readiness_registry* _readiness;
  std::shared_ptr<const balancing_plan> _plan;
  cluster::membership _membership;
  std::optional<cluster::gossip_codec> _codec;
  cluster::gossip_datagram _scratch;
  std::vector<cluster::member_event> _events;
  std::vector<std::size_t> _loads;          // per reactor, from on_load
  std::uint64_t _published_generation = 0;  // of the last table posted
  cluster_counters _counters;
  bool _stopped = false;
  core::timer _heartbeat;
};

}  // namespace postern::gateway
