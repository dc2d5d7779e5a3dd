// metrics: what the management service shows (/metrics in the Prometheus text format, /health)
// and the access log's line. Each worker keeps its own worker_metrics, touched only on its
// reactor (no lock, no shared counter); a scrape asks every reactor for a reactor_snapshot (a
// copy made on that reactor), reactor 0 adds the cluster's, and render_prometheus() writes the
// text. The formatting functions are pure.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.h"
#include "gateway/connection.h"

namespace postern::gateway {

struct traffic_totals {
  std::uint64_t bytes_in = 0;  // from clients
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;

  void add(const session& s) noexcept {
    bytes_in += s.bytes_in;
    bytes_out += s.bytes_out;
    messages_in += s.messages_in;
    messages_out += s.messages_out;
  }
  void add(const traffic_totals& t) noexcept {
    bytes_in += t.bytes_in;
    bytes_out += t.bytes_out;
    messages_in += t.messages_in;
    messages_out += t.messages_out;
  }
};

struct service_metrics {
  std::uint64_t open = 0;   // sessions of this service not ended yet
  std::uint64_t total = 0;  // sessions ended or open
  traffic_totals traffic;   // of ended sessions (a snapshot adds the open ones)
};

// One worker's counters (worker::metrics()).
struct worker_metrics {
  std::vector<std::string> service_names;         // services by name, in the order first seen
  std::vector<service_metrics> services;          // (a reload keeps a name's counters going)
  std::map<std::uint16_t, std::uint64_t> refused;      // handshake failures by HTTP status
  std::map<std::uint16_t, std::uint64_t> close_codes;  // close codes of ended sessions
  std::map<std::string, std::uint64_t, std::less<>> balancer_decisions;  // member identity, or
                                                  // "(redirect)" / "(none ready)" prefixed forms
  std::uint64_t refused_at_limit = 0;             // clients refused at the connection limit
  std::uint64_t reverse_dial_failures = 0;        // internal side: link dials that failed
  std::uint64_t reverse_links_claimed = 0;        // links handed to clients (either side)
  std::uint64_t loop_lag_ms = 0;                  // the largest lag of the last two seconds
};

// A copy of one reactor's view, made on that reactor.
struct reactor_snapshot {
  unsigned reactor = 0;
  std::vector<service_metrics> services;  // open sessions' traffic included
  std::map<std::uint16_t, std::uint64_t> refused;
  std::map<std::uint16_t, std::uint64_t> close_codes;
  std::map<std::string, std::uint64_t, std::less<>> balancer_decisions;
  std::uint64_t refused_at_limit = 0;
  std::uint64_t loop_lag_ms = 0;
  std::uint64_t open_sockets = 0;
  std::uint64_t reverse_links_idle_dmz = 0;       // parked here, waiting for a client
  std::uint64_t reverse_links_idle_internal = 0;  // dialed out from here, waiting to be claimed
  std::uint64_t reverse_links_in_use_dmz = 0;     // carrying a client of a proxy here
  std::uint64_t reverse_links_in_use_internal = 0;  // carrying a client served here
  std::uint64_t reverse_links_claimed = 0;
  std::uint64_t reverse_dial_failures = 0;
};

struct cluster_snapshot {
  struct member {
    std::string identity;
    std::string state;  // "self", "alive", "suspect"
  };
  std::vector<member> members;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t datagrams_rejected = 0;  // without a valid tag, or garbage
  std::uint64_t datagrams_dropped = 0;   // authentic but stale or replayed
};

struct metrics_snapshot {
  std::vector<std::string> service_names;  // by position in the config
  std::vector<reactor_snapshot> reactors;
  std::optional<cluster_snapshot> cluster;  // with <cluster>
  bool healthy = false;
  std::uint64_t access_log_dropped = 0;      // lines a stalled reader cost
};

// The Prometheus text exposition format (version 0.0.4), metric names postern_*.
std::string render_prometheus(const metrics_snapshot& m);

// "2026-11-26T01:02:03.456Z client=127.0.0.1:40000 service=\"echo\" duration=1.234 bytes_in=120
//  bytes_out=120 messages_in=3 messages_out=3 end=close:1000" and a newline. end is
// close:<code>, status:<http status>, or the session's ending word ("eof" when none was set).
// wall_ms: milliseconds since the epoch when it ended; duration from the reactor clock.
std::string format_access_line(const session& s, std::string_view service_name, std::uint64_t wall_ms,
                               std::uint64_t duration_ms);

// Where access lines go: a file opened for appending, or standard output. One write(2) per
// line, from any reactor thread, never waiting: standard output is written without blocking
// (a socket, as under systemd, with MSG_DONTWAIT; a pipe or terminal through its own
// non-blocking open file description), so a reader that stalls costs lines, never the
// gateway. Lost lines are counted and a warning says so (the first, then one per 10 s).
class access_log {
 public:
  // "-" is standard output; otherwise a path, created 0640 if missing. Throws
  // std::runtime_error with a sentence when it cannot be opened.
  explicit access_log(const std::string& destination);
  void write(std::string_view line) const noexcept;
  const std::string& destination() const noexcept { return _destination; }
  std::uint64_t dropped() const noexcept { return _dropped.load(std::memory_order_relaxed); }

 private:
  std::string _destination;
  core::unique_fd _own;    // the file, or standard output opened again non-blocking
  int _fd = 1;             // where lines go
  bool _socket = false;    // send(MSG_DONTWAIT) instead of write
  mutable std::atomic<std::uint64_t> _dropped{0};
  mutable std::atomic<std::uint64_t> _warned_ms{0};
};

}  // namespace postern::gateway
