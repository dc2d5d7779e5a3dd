// load_worker: what one reactor thread of postern-load owns: its share of the connections, its
// latency histogram and counters, and the scratch space messages are built in (STYLE 1: nothing
// here is touched by another thread, except the published counters the main thread reads for
// the progress line). The main thread drives the phases by posting messages to the reactor.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/histogram.h"
#include "bench/load/options.h"
#include "core/reactor.h"
#include "net/address.h"
#include "net/tls_context.h"

namespace postern::load {

class load_connection;

// Monotonic nanoseconds (CLOCK_MONOTONIC): send times and latencies.
std::uint64_t monotonic_ns() noexcept;

// Everything the workers share, read-only once the reactors run.
struct load_plan {
  load_options options;
  net::socket_address target;
  std::vector<net::socket_address> sources;   // resolved --source-addresses (port 0)
  std::unique_ptr<net::tls_context> tls;      // wss: the client context
  std::string request_target;                 // ws: path[?query] of the upgrade request
  std::string authority;                      // ws: the Host header
  std::vector<std::byte> message_template;    // make_message_template(size)
};

enum class load_error : std::uint8_t {
  connect,     // connect, TLS handshake or upgrade failed, or not open within the connect grace
  echo,        // an echo differed from what was sent
  connection,  // an open connection was lost, reset, refused our frames or closed early
};

// Published for the main thread (progress, phase decisions). Each is written by its worker's
// thread only, with a relaxed load and store (no read-modify-write on the data path).
struct worker_counters {
  alignas(64) std::atomic<std::uint64_t> ready{0};   // connections that became open
  std::atomic<std::uint64_t> failed{0};              // connections that ended without being open
  std::atomic<std::uint64_t> ended{0};               // connections that are closed for good
  std::atomic<std::uint64_t> echoes{0};              // echoes checked, window or not
  std::atomic<std::uint64_t> errors{0};              // as load_report::errors()
};

// The worker's results, read by the main thread after the reactor threads are joined.
struct worker_result {
  latency_histogram histogram;         // echoes of the window
  std::uint64_t messages = 0;          // echoes of the window
  std::uint64_t connect_errors = 0;
  std::uint64_t echo_errors = 0;
  std::uint64_t connection_errors = 0;
  std::uint64_t lost_messages = 0;
  std::uint64_t held_sends = 0;
  unsigned open_at_window_end = 0;
};

class load_worker {
 public:
  // Connections with global index id, id + threads, id + 2 * threads... (< plan's connections).
  load_worker(const load_plan& plan, unsigned id, unsigned threads);
  load_worker(const load_worker&) = delete;
  load_worker& operator=(const load_worker&) = delete;
  ~load_worker();  // only once every connection is closed (ended == count) or never started

  // Phase steps, each run on the worker's reactor thread (posted by the main thread).
  // start: begin connecting, at most max_connecting at once. end_connect_phase: connections not
  // open yet fail (connect error) and no more start. begin_window / end_window: the measured
  // window; end_window also closes every connection gracefully (close frame, or FIN for tcp).
  // force_close: the grace is over: whatever is still open is closed now (a connection error).
  void start(core::reactor& reactor);
  void end_connect_phase();
  void begin_window();
  void end_window();
  void force_close();

  unsigned connection_count() const noexcept { return static_cast<unsigned>(_connections.size()); }
  const worker_counters& counters() const noexcept { return _counters; }
  const worker_result& result() const noexcept { return _result; }

  // For the connections (reactor thread).
  const load_plan& plan() const noexcept { return *_plan; }
  core::reactor& reactor() noexcept { return *_reactor; }
  // Room for one frame: header_room bytes for a frame header, then size bytes of payload.
  static constexpr std::size_t header_room = 14;
  std::span<std::byte> scratch() noexcept { return _scratch; }
  std::uint64_t next_random() noexcept;
  bool traffic_allowed() const noexcept { return !_finishing && !_plan->options.hold; }
  bool finishing() const noexcept { return _finishing; }
  void connection_ready(load_connection& c);
  // c is closed for good; lost_messages were in flight and never echoed.
  void connection_ended(load_connection& c, std::uint64_t lost_messages);
  void record_echo(std::uint64_t latency_ns) noexcept;
  void count_held(std::uint64_t messages) noexcept { _result.held_sends += messages; }
  void count_error(load_error kind, unsigned connection_index, std::string_view what);

 private:
  // At most this many connections connect, shake hands or upgrade at once per reactor, so that
  // thousands of connections do not overflow the server's accept backlog in one burst.
  static constexpr unsigned max_connecting = 256;
  // Errors logged per worker; later ones are only counted.
  static constexpr unsigned max_logged_errors = 10;

  void start_more();
  void publish_errors() noexcept;

  const load_plan* _plan;
  core::reactor* _reactor = nullptr;
  std::vector<std::unique_ptr<load_connection>> _connections;
  std::vector<std::byte> _scratch;
  std::uint64_t _random_state;
  std::size_t _next_start = 0;
  unsigned _connecting = 0;
  unsigned _logged_errors = 0;
  bool _starting = false;          // inside start_more (a connection may report back at once)
  bool _connect_over = false;
  bool _measuring = false;
  bool _finishing = false;
  worker_counters _counters;
  worker_result _result;
};

// A relaxed increment of a counter that only the calling thread writes.
inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace postern::load
