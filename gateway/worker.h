// worker: the gateway's part of one reactor. It owns that reactor's listeners (one
// SO_REUSEPORT socket per endpoint), every connection accepted on them, and the transports
// those connections have given up and that are still closing. It reads the immutable runtime
// shared by all workers. Runs only on its reactor's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "cluster/balancer_choice.h"
#include "cluster/balancer_table.h"
#include "config/gateway_config.h"
#include "core/reactor.h"
#include "gateway/connection.h"
#include "gateway/metrics.h"
#include "gateway/runtime.h"
#include "net/transport.h"

namespace postern::gateway {

class acceptor;
class readiness_registry;
class link_pool;
class reverse_dialer;
class management_hub;
struct balancing_plan;
struct reload_plan;

// Limits every connection of a worker obeys (DESIGN §8).
struct gateway_limits {
  std::uint64_t handshake_timeout_ms = 10'000;  // TLS handshake and HTTP request head
  std::uint64_t close_linger_ms = 2'000;        // waiting for the peer's close / FIN
  std::uint64_t default_max_message_bytes = 1024 * 1024;
  std::uint64_t default_max_pending_bytes = 1024 * 1024;
  std::uint64_t default_send_timeout_ms = 60'000;  // send.timeout: a peer reading nothing is closed
};

class worker {
 public:
  worker(core::reactor& reactor, std::shared_ptr<const runtime> rt, readiness_registry& readiness,
         gateway_limits limits = {});
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker();

  // Opens this reactor's listening sockets and starts accepting. Throws std::runtime_error
  // naming the address when a socket cannot be bound.
  void start();
  // Stops accepting and asks every connection to finish; on_drained runs (once, on this
  // thread) when the last connection and the last closing transport are gone.
  void drain(std::function<void()> on_drained);
  // After the drain timeout: closes every remaining connection at once.
  void abort_all();

  core::reactor& reactor() const noexcept { return *_reactor; }
  const gateway_limits& limits() const noexcept { return _limits; }
  // The service's send.timeout, or the default.
  std::uint64_t send_timeout_ms(const config::service_config& service) const noexcept {
    return service.send_timeout ? static_cast<std::uint64_t>(service.send_timeout->count())
                                : _limits.default_send_timeout_ms;
  }
  const runtime& rt() const noexcept { return *_runtime; }
  const config::gateway_config& config() const noexcept { return *_runtime->config; }
  readiness_registry& readiness() const noexcept { return *_readiness; }
  // Connections of this worker that serve a client with a local service (connection::
  // count_as_load): the member's load that the cluster gossips and the balancer compares.
  std::size_t load_count() const noexcept { return _load_count; }

  // Balancing (balancer services, cluster). The plan is set before start(); the table is the
  // snapshot reactor 0 posts whenever membership or readiness changes: lookups read this
  // worker's own pointer, without a lock. Both may be null (no balancing yet: 503).
  void set_balancing(std::shared_ptr<const balancing_plan> plan) noexcept { _balancing = std::move(plan); }
  const balancing_plan* balancing() const noexcept { return _balancing.get(); }
  void set_balancer_table(std::shared_ptr<const cluster::balancer_table> table) noexcept { _table = std::move(table); }
  const cluster::balancer_table* balancer_table() const noexcept { return _table.get(); }
  cluster::choice_random& random() noexcept { return _random; }
  // Every interval_ms, when this worker's load count differs from the last one it sent,
  // runs sink(reactor id, count) on reactor 0 (posted; called directly on reactor 0 or
  // without a group). Stops at drain. The sink must outlive the worker's reactor loop.
  void report_load(std::function<void(unsigned, std::size_t)> sink, std::uint64_t interval_ms);

  // The connection limit: this reactor's share of the descriptors the process may open for
  // connections (RLIMIT_NOFILE less those open at start and a reserve; set by main after
  // start, posted). A client accepted while the reactor's open streams (clients, backend
  // connections, links) reach it is refused at once — plain HTTP gets a 503 — and a warning
  // is logged (the first, then at most one summary every 10 s), so the process never runs
  // out of descriptors and clients never wait in the backlog. Unlimited until set.
  void set_connection_limit(std::size_t open_streams) noexcept { _stream_limit = open_streams; }
  std::size_t connection_limit() const noexcept { return _stream_limit; }
  // True, counted and logged when a new client on what (an address or "backplane …") must be
  // refused; the caller closes its socket.
  bool refuse_at_limit(std::string_view what);

  // This reactor's counters (metrics.h); touched only on its thread.
  worker_metrics& metrics() noexcept { return _metrics; }
  // A copy of them for a scrape, with the open sessions' traffic and the links' counts.
  reactor_snapshot snapshot() const;
  // The management service's hub (null without one). Set before start().
  void set_management(management_hub* hub) noexcept { _management = hub; }
  management_hub* management() const noexcept { return _management; }
  // Where ended sessions are written (null: no access log). Set before start().
  void set_access_log(const access_log* log) noexcept { _access_log = log; }
  const access_log* access() const noexcept { return _access_log; }
  // The session of c now belongs to service (counted open there; moved from another service
  // it was counted under, e.g. a balancer's client served locally).
  void set_session_service(connection& c, const config::service_config& service);

  // SIGHUP (reload.h): new clients are served by next from now on; listeners follow its
  // endpoints (kept addresses keep their sockets); clients of plan.stopped services finish as
  // at a drain; the runtime a client came in under stays until its last such client is gone.
  void reload(std::shared_ptr<const runtime> next, const reload_plan& plan);
  // ep itself when it belongs to the current runtime or is not a listener's (a reverse link's),
  // else the current runtime's endpoint on the same address (null when none: the address was
  // dropped by a reload).
  const endpoint* current_endpoint(const endpoint& ep) const noexcept;
  // c's session now counts in the current runtime (it is routed by it from now on).
  void rebase_session(connection& c) noexcept;
  // The proxy plan of service in whichever runtime (current or kept) has it.
  const proxy_plan* plan_of(const config::service_config& service) const noexcept;

  // The reverse links parked on this reactor (DMZ side, DESIGN §5).
  link_pool& links() noexcept { return *_links; }
  // Internal side: service's backend readiness changed (posted from reactor 0): its reverse
  // links on this reactor close or come back.
  void set_backend_ready(const config::service_config& service, bool ready);

  void adopt(connection& c) noexcept;
  void count_as_load(connection& c) noexcept;
  void forget(connection& c) noexcept;
  // Takes a transport its owner is done with and frees it once it has closed. flush: first send
  // what is queued and shut the sending side down (TLS close_notify, then FIN), then read and
  // discard until the peer's FIN, all bounded by the linger time; peer_finished: its FIN came
  // already (close once what is queued has left). Without flush: close at once, dropping what
  // is queued.
  void dispose(std::unique_ptr<net::transport> t, bool flush = false, bool peer_finished = false);

  // A transport for an accepted socket of this endpoint (TLS for https and tls endpoints).
  std::unique_ptr<net::transport> accepted_transport(const endpoint& ep, core::unique_fd fd,
                                                     net::transport_handler& handler);

 private:
  friend class connection;
  class grave;
  void on_accept(const endpoint& ep, core::unique_fd fd);
  // Opens this reactor's socket for ep (into _listening); an error sentence, or empty.
  std::string listen_on(const endpoint& ep);
  // Frees the runtimes (but the first and the current) that no session uses any more; on the
  // lag tick, so that what the last session's connection pointed into outlives its frees.
  void release_unused_generations();

  void check_drained();

  core::reactor* _reactor;
  std::shared_ptr<const runtime> _runtime;
  readiness_registry* _readiness;
  gateway_limits _limits;
  std::vector<std::unique_ptr<acceptor>> _listeners;  // socks forward links, and closed ones
  struct listening {  // a client listener; ep changes at a reload
    const endpoint* ep = nullptr;
    std::unique_ptr<acceptor> socket;
  };
  std::vector<std::unique_ptr<listening>> _listening;
  // Runtimes by generation (0: the one at start, kept), with how many sessions each serves.
  std::uint32_t _generation = 0;
  std::map<std::uint32_t, std::shared_ptr<const runtime>> _runtimes;
  std::map<std::uint32_t, std::size_t> _generation_sessions;
  connection* _connections = nullptr;
  std::size_t _connection_count = 0;
  std::size_t _load_count = 0;
  std::size_t _closing_transports = 0;
  bool _draining = false;
  std::function<void()> _on_drained;
  std::shared_ptr<const balancing_plan> _balancing;
  std::shared_ptr<const cluster::balancer_table> _table;
  cluster::choice_random _random;
  std::function<void(unsigned, std::size_t)> _load_sink;
  std::uint64_t _load_interval_ms = 0;
  std::size_t _load_sent = static_cast<std::size_t>(-1);
  core::timer _load_timer;
  std::unique_ptr<link_pool> _links;
  std::size_t _stream_limit = static_cast<std::size_t>(-1);
  std::size_t _refused_unlogged = 0;     // refused since the last warning
  std::uint64_t _refused_logged_ms = 0;  // when the last warning was written (0: never)
  std::vector<std::unique_ptr<reverse_dialer>> _dialers;  // internal side: links this reactor keeps
  worker_metrics _metrics;
  const access_log* _access_log = nullptr;
  management_hub* _management = nullptr;
  // Event-loop lag: a tick every lag_tick_ms; the largest late firing of this and the last
  // 1 s window.
  static constexpr std::uint64_t lag_tick_ms = 100;
  core::timer _lag_timer;
  std::uint64_t _lag_due_ms = 0;
  std::uint64_t _lag_window_start_ms = 0;
  std::uint64_t _lag_this_window_ms = 0;
  std::uint64_t _lag_last_window_ms = 0;
  void on_lag_tick();
  // The slot of service's counters in _metrics, by name (added when new).
  std::size_t service_index(const config::service_config& service);
  std::map<std::string, std::size_t, std::less<>> _service_slots;
  void end_session(connection& c);
};

}  // namespace postern::gateway
