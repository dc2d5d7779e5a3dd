// postern-load: the WebSocket and TCP load generator (issue 4, item 2). See options.h for the
// command line and report.h for what the numbers mean.
//
// The main thread owns the timeline; the reactor threads own the connections. Timeline:
//   connect   every connection connects (and upgrades); traffic starts as each one opens. Ends
//             when all are open or failed, or after connect_grace (stragglers fail). When every
//             connection failed the run ends here: there is nothing to measure.
//   warmup    --warmup of traffic, not measured (skipped with --hold).
//   window    --duration, measured: each worker records the echoes that arrive in it.
//   close     every connection closes gracefully; at most until close_deadline (the 10 s grace
//             minus what connecting used, at least min_close_grace), then whatever is left is
//             closed at once (counted as an error).
// So a run always ends by itself within warmup + duration + 10 s (+ 2 s to force the closes).
// SIGINT or SIGTERM ends the window early (the report covers the shorter window); a second
// one ends the process at once.
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench/load/echo_check.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "bench/load/worker.h"
#include "core/reactor_group.h"
#include "net/address.h"
#include "net/tls_context.h"

namespace postern::load {
namespace {

constexpr std::uint64_t ms_ns = 1'000'000;
constexpr std::uint64_t total_grace_ns = 10'000 * ms_ns;
constexpr std::uint64_t connect_grace_ns = 8'000 * ms_ns;
constexpr std::uint64_t min_close_grace_ns = 2'000 * ms_ns;
constexpr std::uint64_t force_close_wait_ns = 2'000 * ms_ns;
constexpr auto poll_interval = std::chrono::milliseconds(20);

// Set by the first SIGINT or SIGTERM: the run ends its window now and closes as usual. The
// handler restores the default action, so a second signal ends the process at once.
volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int signal_number) {
  g_interrupted = 1;
  ::signal(signal_number, SIG_DFL);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Raises the soft descriptor limit to the hard one; throws when the connections cannot fit.
void ensure_descriptors(const load_options& o) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const rlim_t needed = rlim_t{o.connections} + 64 + rlim_t{o.threads} * 4;
  if (limit.rlim_cur != RLIM_INFINITY && needed > limit.rlim_cur)
    throw std::runtime_error("--connections " + std::to_string(o.connections) + " needs about " +
                             std::to_string(needed) + " file descriptors but this process may open " +
                             std::to_string(limit.rlim_cur) +
                             ": spread the connections over several postern-load processes");
}

std::unique_ptr<load_plan> make_plan(load_options options) {
  auto plan = std::make_unique<load_plan>();
  plan->options = std::move(options);
  const load_options& o = plan->options;
  auto target = net::resolve_address(o.target.host, o.target.port);
  if (!target) throw std::runtime_error(target.error());
  plan->target = *target;
  for (const std::string& text : o.source_addresses) {
    auto source = net::resolve_address(text, 0);
    if (!source) throw std::runtime_error(source.error());
    if (source->family() != plan->target.family())
      throw std::runtime_error("--source-addresses: " + text + " is not of the same address family as " +
                               plan->target.to_string());
    plan->sources.push_back(*source);
  }
  if (o.target.scheme == net::uri_scheme::wss) {
    net::tls_settings settings;
    settings.side = net::tls_settings::side_kind::client;
    settings.trust_file = o.ca_file;
    plan->tls = std::make_unique<net::tls_context>(net::tls_context::make(settings));
  }
  plan->request_target = o.target.path.empty() ? "/" : o.target.path;
  if (!o.target.query.empty()) plan->request_target += "?" + o.target.query;
  plan->authority = o.target.authority();
  plan->message_template = make_message_template(o.size_bytes);
  return plan;
}

struct totals {
  std::uint64_t ready = 0, failed = 0, ended = 0, echoes = 0, errors = 0;
};

totals sum_counters(const std::vector<std::unique_ptr<load_worker>>& workers) {
  totals t;
  for (const auto& w : workers) {
    const worker_counters& c = w->counters();
    t.ready += c.ready.load(std::memory_order_relaxed);
    t.failed += c.failed.load(std::memory_order_relaxed);
    t.ended += c.ended.load(std::memory_order_relaxed);
    t.echoes += c.echoes.load(std::memory_order_relaxed);
    t.errors += c.errors.load(std::memory_order_relaxed);
  }
  return t;
}

enum class phase : std::uint8_t { connect, warmup, window, close, force, done };

const char* to_string(phase p) {
  switch (p) {
    case phase::connect: return "connect";
    case phase::warmup: return "warmup";
    case phase::window: return "window";
    case phase::close: return "close";
    case phase::force: return "force-close";
    case phase::done: return "done";
  }
  return "?";
}

class load_run {
 public:
  explicit load_run(std::unique_ptr<load_plan> plan) : _plan(std::move(plan)) {
    core::reactor_group_options go;
    go.threads = _plan->options.threads;
    go.cpus = _plan->options.cpus;
    _group = std::make_unique<core::reactor_group>(go);
    for (unsigned i = 0; i < _group->size(); ++i)
      _workers.push_back(std::make_unique<load_worker>(*_plan, i, _group->size()));
  }

  // Runs the timeline; returns the exit status after printing the report.
  int go() {
    const load_options& o = _plan->options;
    const std::uint64_t start = monotonic_ns();
    _group->start([this](core::reactor& r) { _workers[r.id()]->start(r); });
    phase at = phase::connect;
    std::uint64_t connect_end = 0, warmup_end = 0, window_begin = 0, window_end = 0, deadline = 0;
    double cpu_begin = 0, cpu_end = 0;
    std::uint64_t next_progress = start + 1000 * ms_ns;
    totals last_progress{};
    std::uint64_t last_progress_ns = start;
    bool gave_up = false;
    while (at != phase::done) {
      std::this_thread::sleep_for(poll_interval);
      const std::uint64_t now = monotonic_ns();
      const totals t = sum_counters(_workers);
      if (g_interrupted && (at == phase::connect || at == phase::warmup)) {
        // Interrupted before the window: an empty window (nothing measured), then the close.
        if (at == phase::connect) {
          post_all(&load_worker::end_connect_phase);
          connect_end = now;
        }
        cpu_begin = cpu_seconds();
        window_begin = now;
        at = phase::window;
      }
      switch (at) {
        case phase::connect:
          if (t.failed >= o.connections) {
            at = phase::done;  // nothing opened: there is nothing to measure or to close
          } else if (t.ready + t.failed >= o.connections || now - start >= connect_grace_ns) {
            if (t.ready + t.failed < o.connections) post_all(&load_worker::end_connect_phase);
            connect_end = now;
            warmup_end = now + (o.hold ? 0 : o.warmup_ms * ms_ns);
            at = phase::warmup;
          }
          break;
        case phase::warmup:
          if (t.failed >= o.connections) {
            at = phase::done;  // the connect grace failed every straggler and nothing is open
          } else if (now >= warmup_end) {
            post_all(&load_worker::begin_window);
            cpu_begin = cpu_seconds();
            window_begin = monotonic_ns();
            at = phase::window;
          }
          break;
        case phase::window:
          if (now >= window_begin + o.duration_ms * ms_ns || g_interrupted) {
            post_all(&load_worker::end_window);
            window_end = monotonic_ns();
            cpu_end = cpu_seconds();
            const std::uint64_t used = connect_end - start;
            deadline = window_end + std::max(min_close_grace_ns, total_grace_ns - std::min(used, total_grace_ns));
            at = phase::close;
          }
          break;
        case phase::close:
          if (t.ended >= o.connections) {
            at = phase::done;
          } else if (now >= deadline) {
            post_all(&load_worker::force_close);
            deadline = now + force_close_wait_ns;
            at = phase::force;
          }
          break;
        case phase::force:
          if (t.ended >= o.connections) {
            at = phase::done;
          } else if (now >= deadline) {
            gave_up = true;
            at = phase::done;
          }
          break;
        case phase::done:
          break;
      }
      if (now >= next_progress && at != phase::done) {
        print_progress(at, now - start, t, last_progress, now - last_progress_ns);
        last_progress = t;
        last_progress_ns = now;
        next_progress += 1000 * ms_ns;
      }
    }
    _group->stop_and_join();
    const load_report report = make_report(static_cast<double>(window_end - window_begin) / 1e9, cpu_end - cpu_begin);
    const std::string text = o.json ? format_json(report) + "\n" : format_summary(report);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    const int status = report.errors() > 0 || gave_up ? 1 : 0;
    if (gave_up) {
      // Connections that would not close still hold transports: leave without destroying them.
      std::fprintf(stderr, "postern-load: %llu connections did not close; exiting without cleanup\n",
                   static_cast<unsigned long long>(o.connections - sum_counters(_workers).ended));
      std::_Exit(status);
    }
    _workers.clear();  // before the reactors they live on
    return status;
  }

  ~load_run() {
    if (_group) _group->stop_and_join();
  }

 private:
  void post_all(void (load_worker::*step)()) {
    for (unsigned i = 0; i < _group->size(); ++i) {
      load_worker* w = _workers[i].get();
      while (!_group->post(i, [w, step](core::reactor&) { (w->*step)(); }))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void print_progress(phase at, std::uint64_t elapsed_ns, const totals& t, const totals& last,
                      std::uint64_t interval_ns) const {
    const double seconds = static_cast<double>(interval_ns) / 1e9;
    const double rate = seconds > 0 ? static_cast<double>(t.echoes - last.echoes) / seconds : 0;
    const std::uint64_t open = t.ready - std::min(t.ready, t.ended - std::min(t.ended, t.failed));
    std::fprintf(stderr, "postern-load %6.1fs %-11s open %llu/%u  failed %llu  %.0f msgs/s  %.2f MB/s  errors %llu\n",
                 static_cast<double>(elapsed_ns) / 1e9, to_string(at), static_cast<unsigned long long>(open),
                 _plan->options.connections, static_cast<unsigned long long>(t.failed), rate,
                 rate * static_cast<double>(_plan->options.size_bytes) / 1e6,
                 static_cast<unsigned long long>(t.errors));
  }

  load_report make_report(double window_s, double cpu_s) const {
    const load_options& o = _plan->options;
    load_report r;
    r.url = o.url;
    r.loop = o.hold ? "hold" : o.open_loop() ? "open" : "closed";
    r.backend = std::string(core::to_string(_group->backend()));
    r.connections = o.connections;
    r.in_flight = o.in_flight;
    r.size_bytes = o.size_bytes;
    r.text = o.text;
    r.rate_per_s = o.rate_per_s;
    r.threads = _group->size();
    r.warmup_s = o.hold ? 0 : static_cast<double>(o.warmup_ms) / 1e3;
    r.duration_s = window_s;
    latency_histogram merged;
    for (const auto& w : _workers) {
      const worker_result& res = w->result();
      merged.merge(res.histogram);
      r.messages += res.messages;
      r.connect_errors += res.connect_errors;
      r.echo_errors += res.echo_errors;
      r.connection_errors += res.connection_errors;
      r.lost_messages += res.lost_messages;
      r.held_sends += res.held_sends;
      r.open_connections += res.open_at_window_end;
    }
    if (window_s > 0) {
      r.msgs_per_s = static_cast<double>(r.messages) / window_s;
      r.mb_per_s = r.msgs_per_s * static_cast<double>(o.size_bytes) / 1e6;
      r.client_cpu_percent = cpu_s / window_s * 100.0;
    }
    r.client_cpu_s = cpu_s;
    r.p50_us = static_cast<double>(merged.value_at_percentile(50)) / 1e3;
    r.p90_us = static_cast<double>(merged.value_at_percentile(90)) / 1e3;
    r.p99_us = static_cast<double>(merged.value_at_percentile(99)) / 1e3;
    r.p999_us = static_cast<double>(merged.value_at_percentile(99.9)) / 1e3;
    r.max_us = static_cast<double>(merged.max()) / 1e3;
    return r;
  }

  std::unique_ptr<load_plan> _plan;
  std::unique_ptr<core::reactor_group> _group;
  std::vector<std::unique_ptr<load_worker>> _workers;  // destroyed before _group
};

}  // namespace
}  // namespace postern::load

int main(int argc, char** argv) {
  using namespace postern::load;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  auto options = parse_load_options(args);
  if (!options) {
    std::fprintf(stderr, "postern-load: %s\n(postern-load --help lists the options)\n", options.error().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(std::string(load_usage).c_str(), stdout);
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, on_interrupt);
  ::signal(SIGTERM, on_interrupt);
  try {
    ensure_descriptors(*options);
    load_run r(make_plan(std::move(*options)));
    return r.go();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postern-load: %s\n", e.what());
    return 2;
  }
}
