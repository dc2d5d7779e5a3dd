// cluster_node: this member's part of the cluster, on reactor 0 only (DESIGN §3, §6). Every
// heartbeat interval it refreshes the member's own state (readiness of each balanced service,
// load summed from every worker's reports), gossips it, advances the membership's failure
// detection, logs its events, and when the membership's generation changed (at most once per
// tick) builds a new balancer table and posts it to every worker. Without <cluster> the
// membership holds only this member (KAAZING's standalone balancer) and no socket is opened.
//
// Gossip is one UDP socket (core::datagram_socket) on reactor 0:
// - multicast (<connect>udp://group:port</connect>): bound to group:port with SO_REUSEPORT (the
//   members of one host share it), joined on the interface of the <cluster><accept> address;
//   every heartbeat goes to the group.
// - unicast seeds (<connect>tcp://seed:port</connect>...): bound to the <accept> address and
//   port; every heartbeat goes to each seed and to every known live member. A member whose own
//   <accept> is one of the seeds forwards every datagram it applied, verbatim, to the other live
//   members it knows (the receivers check the original sender's tag and sequence).
// Datagrams carry the HMAC tag of <key-file> (load_cluster_key); without a key-file one warning
// is logged at start and datagrams are untagged. A datagram that fails decoding changes nothing
// and is counted; the first of each kind of failure is logged, then at most once a minute.
// On drain the leaving datagram goes out 3 times, then the socket closes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cluster/gossip_codec.h"
#include "cluster/membership.h"
#include "core/datagram.h"
#include "core/reactor.h"
#include "core/unique_fd.h"
#include "gateway/local_member.h"
#include "net/address.h"

namespace postern::gateway {

class worker;
class readiness_registry;

struct cluster_counters {
  std::uint64_t datagrams_out = 0;  // handed to the socket (heartbeats, goodbyes, forwards)
  std::uint64_t datagrams_in = 0;
  std::uint64_t rejected = 0;     // failed decoding (bad tag, other cluster, garbage): ignored
  std::uint64_t dropped = 0;      // authentic but not applied (replayed, stale, own, ...)
  std::uint64_t forwarded = 0;    // datagrams a seed relayed to other members
  std::uint64_t send_refused = 0; // datagrams the socket refused to queue (queue full, ...)
  std::uint64_t tables_built = 0;
};

class cluster_node {
 public:
  // workers[i] is reactor i's worker; workers[0] owns the reactor this node runs on. Built on
  // any thread (cold code): with <cluster> it loads the key, resolves the seeds and opens (binds)
  // the gossip socket here. Throws runtime_error with a sentence when the key file is refused,
  // a seed does not resolve, the <accept> address is not an address of this host, the socket
  // cannot be bound or joined, or the member's state does not fit one datagram.
  cluster_node(std::vector<worker*> workers, readiness_registry& readiness,
               std::shared_ptr<const balancing_plan> plan, std::uint64_t start_wall_ms);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  // Builds and posts the first table, starts the heartbeat timer, the workers' load reports and
  // the gossip socket, and sends the first heartbeat.
  void start();
  // Drain: stops the heartbeat, sends the leaving datagram 3 times and closes the socket; `done`
  // runs on reactor 0 once the socket is closed (at once without a socket), never inside stop().
  // A second call does nothing (its `done` is dropped).
  void stop(std::function<void()> done);

  // A worker's connection count (posted by worker::report_load).
  void on_load(unsigned reactor, std::size_t count);
  // One received datagram: decoded, applied to the membership, events logged. A datagram that
  // fails decoding is counted and changes nothing.
  void on_datagram(std::span<const std::byte> bytes);

  const cluster::membership& members() const noexcept { return _membership; }
  const cluster_counters& counters() const noexcept { return _counters; }

 private:
  // The socket's events, forwarded to the node.
  class socket_events final : public core::datagram_handler {
   public:
    explicit socket_events(cluster_node& node) : _node(&node) {}
    void on_datagram(std::span<const std::byte> bytes, const sockaddr_storage& from, socklen_t from_len) override;
    void on_datagram_error(int error) override;
    void on_closed() override;

   private:
    cluster_node* _node;
  };

  void tick();
  void refresh_self();
  void publish_if_changed();
  void log_events();
  // Encodes self's state with the next sequence and sends it to every gossip destination.
  void send_heartbeat();
  // Sends bytes to the group, or to each seed and every live member but self and `except`.
  void send_to_all(std::span<const std::byte> bytes, const net::socket_address* except);
  void send_one(std::span<const std::byte> bytes, const net::socket_address& to);
  void count_rejected(cluster::gossip_error why);
  void receive(std::span<const std::byte> bytes, const sockaddr_storage& from, socklen_t from_len);
  void closed();

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

  // Gossip (with <cluster> only).
  core::unique_fd _fd;                       // bound at construction, adopted by start()
  socket_events _socket_events{*this};
  std::unique_ptr<core::datagram_socket> _socket;
  bool _socket_closed = false;               // on_closed seen (or never started)
  bool _multicast = false;
  bool _seed = false;                        // self's <accept> is one of the seeds: forwards
  net::socket_address _group;                // multicast destination
  std::vector<net::socket_address> _seeds;   // unicast seeds (self excluded)
  std::array<std::byte, cluster::max_datagram_bytes> _out{};
  // Rejected datagrams per gossip_error: when the last one was logged (ms, 0 = never) and how
  // many were rejected since.
  static constexpr std::size_t error_kinds = 16;
  std::array<std::uint64_t, error_kinds> _rejected_logged_ms{};
  std::array<std::uint64_t, error_kinds> _rejected_since_log{};
  std::function<void()> _on_stopped;
  core::timer _close_timer;
};

}  // namespace postern::gateway
