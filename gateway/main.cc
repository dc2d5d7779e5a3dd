// postern: the program. Loads the config, prints it (--check) or serves it: one worker per
// reactor thread, the main thread waiting for SIGINT/SIGTERM, then a bounded drain.
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/check_report.h"
#include "gateway/cli.h"
#include "gateway/backplane.h"
#include "gateway/cluster_node.h"
#include "gateway/local_member.h"
#include "gateway/management.h"
#include "gateway/metrics.h"
#include "gateway/readiness.h"
#include "gateway/reload.h"
#include "gateway/runtime.h"
#include "gateway/worker.h"

namespace {

using namespace postern;

constexpr std::chrono::milliseconds drain_timeout{5000};
constexpr std::chrono::milliseconds abort_timeout{1000};

core::backend_kind to_backend(config::backend_choice choice) {
  switch (choice) {
    case config::backend_choice::io_uring: return core::backend_kind::io_uring;
    case config::backend_choice::epoll: return core::backend_kind::epoll;
    case config::backend_choice::automatic: break;
  }
  return core::backend_kind::automatic;
}

// Waits up to `limit` for done() while watching for a signal; returns the signal number that
// arrived (0 when none did).
template <class Done>
int wait_until(Done done, std::chrono::milliseconds limit, const sigset_t& signals) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    timespec tick{0, 10'000'000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig > 0 && sig != SIGHUP) return sig;  // no reload while stopping
  }
  return 0;
}

// Descriptors this process has open now (its /proc/self/fd entries, less the directory's own).
std::size_t open_descriptors() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 0;
  std::size_t n = 0;
  while (const dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n > 0 ? n - 1 : 0;
}

// The connection limit (worker::set_connection_limit): RLIMIT_NOFILE less the descriptors open
// once everything listens (rings, listeners, gossip sockets, the log) and a reserve of 1/16
// (at least 16) for what opens later — accept's own descriptor when it refuses, a reverse
// link's replacement, a config reload —, or <reactor><connection-limit> when that is lower;
// shared equally by the reactors. Logged at start.
void set_connection_limits(core::reactor_group& group, std::vector<std::unique_ptr<gateway::worker>>& workers,
                           std::uint64_t configured) {
  const std::size_t n = workers.size();
  rlimit lim{};
  std::size_t total = static_cast<std::size_t>(-1);
  std::string from = "no RLIMIT_NOFILE";
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    const std::size_t limit = lim.rlim_cur;
    const std::size_t in_use = open_descriptors();
    const std::size_t reserve = std::max<std::size_t>(16, limit / 16);
    total = limit > in_use + reserve + n ? limit - in_use - reserve : n;
    from = "RLIMIT_NOFILE " + std::to_string(limit) + ", " + std::to_string(in_use) + " in use at start, " +
           std::to_string(reserve) + " kept in reserve";
  }
  if (configured != 0 && configured < total) {
    from = "<connection-limit> " + std::to_string(configured) + "; " + from;
    total = std::max<std::size_t>(configured, n);
  } else if (configured != 0) {
    LOG_WARN("<connection-limit> %llu is more than the descriptors allow (%s): using %zu",
             static_cast<unsigned long long>(configured), from.c_str(), total);
  }
  if (total == static_cast<std::size_t>(-1)) return;
  const std::size_t share = total / n;
  LOG_INFO("connection limit: %zu open sockets per reactor (%s, %zu reactor(s)); beyond it new clients are refused",
           share, from.c_str(), n);
  for (unsigned i = 0; i < n; ++i)
    group.post(i, [w = workers[i].get(), share](core::reactor&) { w->set_connection_limit(share); });
}

// SIGHUP: reads and checks the config again; applies it (reload.h) or logs every reason it is
// refused and keeps the running one. On the main thread; the reactors apply it by message.
void reload(const gateway::cli_options& cli, std::shared_ptr<const config::gateway_config>& running,
            std::shared_ptr<const gateway::runtime>& running_rt, core::reactor_group& group,
            std::vector<std::unique_ptr<gateway::worker>>& workers, gateway::readiness_registry& readiness) {
  LOG_INFO("reload: SIGHUP received, reading %s", cli.config_path.c_str());
  auto refuse = [](const std::string& why) {
    LOG_ERROR("reload refused: %s", why.c_str());
  };
  std::shared_ptr<const config::gateway_config> next;
  try {
    config::load_options load;
    load.defines = cli.defines;
    next = config::load_config(cli.config_path, load);
  } catch (const config::config_error& e) {
    refuse(e.what());
    LOG_ERROR("reload: still serving the running config");
    return;
  }
  for (const std::string& w : next->warnings) LOG_WARN("reload: %s", w.c_str());
  std::vector<std::string> problems = gateway::unsupported_features(*next);
  std::shared_ptr<const gateway::runtime> next_rt;
  if (problems.empty()) {
    try {
      next_rt = gateway::build_runtime(next);
    } catch (const gateway::runtime_error& e) {
      problems.push_back(e.what());
    }
  }
  std::shared_ptr<gateway::reload_plan> plan;
  if (problems.empty()) {
    auto planned = gateway::plan_reload(*running, *next);
    if (planned) plan = std::make_shared<gateway::reload_plan>(std::move(*planned));
    else problems = std::move(planned.error());
  }
  if (problems.empty()) {
    // A new address must be free before any reactor is asked to take it.
    for (const gateway::endpoint& ep : next_rt->endpoints) {
      bool listening = std::ranges::any_of(running_rt->endpoints, [&](const gateway::endpoint& e) {
        return e.address == ep.address && e.kind == ep.kind;
      });
      if (listening) continue;
      auto fd = core::open_listen_socket(ep.address.get(), ep.address.length, true);
      if (!fd) problems.push_back("cannot listen on " + ep.address.to_string() + ": " + std::strerror(fd.error()));
    }
  }
  if (!problems.empty()) {
    for (const std::string& p : problems) refuse(p);
    LOG_ERROR("reload: still serving the running config (%zu problem(s))", problems.size());
    return;
  }
  std::atomic<unsigned> applied{0};
  const unsigned n = group.size();
  for (unsigned i = 0; i < n; ++i) {
    bool posted = false;
    for (int attempt = 0; attempt < 10'000 && !posted; ++attempt) {  // 10 s
      posted = group.post(i, [w = workers[i].get(), i, next_rt, plan, &readiness, &applied](core::reactor&) {
        w->reload(next_rt, *plan);
        if (i == 0) readiness.reload(*next_rt, *plan);
        applied.fetch_add(1);
      });
      if (!posted) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!posted) {
      LOG_ERROR("reload: reactor %u took no message for 10 s and keeps the old config; the reload is partial: "
                "restart postern", i);
      applied.fetch_add(1);
    }
  }
  while (applied.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  LOG_INFO("reload: done: %zu service(s) kept, %zu stopped, %zu started", plan->kept.size(), plan->stopped.size(),
           plan->started.size());
  running = std::move(next);
  running_rt = std::move(next_rt);
}

int serve(std::shared_ptr<const config::gateway_config> config, const gateway::cli_options& cli) {
  const std::string& access_log_to = cli.access_log;
  auto missing = gateway::unsupported_features(*config);
  if (!missing.empty()) {
    for (const auto& m : missing) std::fprintf(stderr, "%s: error: %s\n", config->source_file.c_str(), m.c_str());
    return 1;
  }
  std::shared_ptr<const gateway::runtime> rt;
  std::shared_ptr<const gateway::balancing_plan> balancing;
  try {
    rt = gateway::build_runtime(config);
    balancing = gateway::build_balancing_plan(*rt);
  } catch (const gateway::runtime_error& e) {
    std::fprintf(stderr, "%s: error: %s\n", config->source_file.c_str(), e.what());
    return 1;
  }

  // Every thread inherits this mask: only the main thread takes the signals, with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  core::reactor_group_options options;
  options.threads = config->reactor.threads;
  options.cpus = config->reactor.cpus;
  options.reactor.backend = to_backend(config->reactor.backend);
  options.reactor.ring_entries = config->reactor.ring_entries;
  std::unique_ptr<core::reactor_group> group;
  try {
    group = std::make_unique<core::reactor_group>(options);
  } catch (const std::exception& e) {
    LOG_ERROR("cannot start reactors: %s", e.what());
    return 1;
  }

  std::unique_ptr<gateway::access_log> access;
  if (access_log_to != "off") {
    try {
      access = std::make_unique<gateway::access_log>(access_log_to);
    } catch (const std::exception& e) {
      LOG_ERROR("%s", e.what());
      return 1;
    }
  }

  const unsigned n = group->size();
  gateway::readiness_registry readiness(n);
  std::vector<std::unique_ptr<gateway::worker>> workers(n);
  // The management hub needs every worker: it is made once they all exist, and posted to each.
  std::unique_ptr<gateway::management_hub> management;
  std::atomic<unsigned> started{0}, failed{0}, drained{0};
  if (!rt->socks_accepts.empty()) {
    // Internal side: a service whose backend is unreachable keeps no reverse link (DESIGN §1).
    readiness.on_change([&workers, g = group.get(), n](const config::service_config& s, bool ready) {
      for (unsigned i = 0; i < n; ++i)
        g->post(i, [&workers, i, s = &s, ready](core::reactor&) {
          if (workers[i]) workers[i]->set_backend_ready(*s, ready);
        });
    });
  }
  group->start([&](core::reactor& r) {
    try {
      auto w = std::make_unique<gateway::worker>(r, rt, readiness);
      w->set_balancing(balancing);
      w->set_access_log(access.get());
      w->start();
      if (r.id() == 0) readiness.start(*w);
      workers[r.id()] = std::move(w);
    } catch (const std::exception& e) {
      LOG_ERROR("%s", e.what());
      failed.fetch_add(1);
    }
    started.fetch_add(1);
  });
  while (started.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  int status = 0;
  int sig = 0;
  std::unique_ptr<gateway::cluster_node> node;
  std::unique_ptr<gateway::backplane> backplane;
  if (failed.load() == 0 && !rt->backplanes.empty()) {
    std::vector<gateway::worker*> all;
    for (auto& w : workers) all.push_back(w.get());
    backplane = std::make_unique<gateway::backplane>(all, readiness);
    for (auto& w : workers) w->links().set_backplane(backplane.get());
    std::atomic<int> done{0};
    group->post(0, [b = backplane.get(), &done, &failed](core::reactor&) {
      try {
        b->start();
      } catch (const std::exception& e) {
        LOG_ERROR("%s", e.what());
        failed.fetch_add(1);
      }
      done.store(1);
    });
    while (done.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Always made: a management service may come with a reload.
  if (failed.load() == 0) {
    std::vector<gateway::worker*> all;
    for (auto& w : workers) all.push_back(w.get());
    management = std::make_unique<gateway::management_hub>(group.get(), std::move(all), readiness, balancing);
    for (unsigned i = 0; i < n; ++i)
      group->post(i, [w = workers[i].get(), hub = management.get()](core::reactor&) { w->set_management(hub); });
  }
  if (failed.load() == 0) {
    std::vector<gateway::worker*> all;
    for (auto& w : workers) all.push_back(w.get());
    const auto wall_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    try {
      node = std::make_unique<gateway::cluster_node>(std::move(all), readiness, balancing, wall_ms);
      group->post(0, [n = node.get(), hub = management.get()](core::reactor&) {
        n->start();
        if (hub) hub->set_cluster(n);
      });
    } catch (const std::exception& e) {
      LOG_ERROR("%s", e.what());
      failed.fetch_add(1);
    }
  }
  if (failed.load() > 0) {
    status = 1;
  } else {
    set_connection_limits(*group, workers, config->reactor.connection_limit);
    std::size_t listeners = rt->endpoints.size();
    LOG_INFO("postern ready: %zu service(s) on %zu listener(s) per reactor, %u reactor(s), backend %s",
             config->services.size(), listeners, n, core::to_string(group->backend()).data());
    std::shared_ptr<const config::gateway_config> running = config;
    std::shared_ptr<const gateway::runtime> running_rt = rt;
    while (sig <= 0 || sig == SIGHUP) {
      if (sig == SIGHUP) reload(cli, running, running_rt, *group, workers, readiness);
      sig = sigwaitinfo(&signals, nullptr);
    }
    LOG_INFO("stopping: %s received, draining for up to %lld ms", sig == SIGINT ? "SIGINT" : "SIGTERM",
             static_cast<long long>(drain_timeout.count()));
  }

  // Reactor 0 stops readiness, the backplane and the cluster; the cluster says goodbye before
  // any reactor closes its listeners, then reactor 0 tells every reactor to drain.
  std::vector<gateway::worker*> draining;
  for (unsigned i = 0; i < n; ++i) {
    draining.push_back(workers[i].get());
    if (!workers[i]) drained.fetch_add(1);
  }
  group->post(0, [draining, &readiness, &drained, g = group.get(), node_ = node.get(), b = backplane.get(),
                  hub = management.get()](core::reactor&) {
    auto drain_all = [draining, &drained, g] {
      for (unsigned i = 0; i < draining.size(); ++i) {
        gateway::worker* w = draining[i];
        if (!w) continue;
        auto drain = [w, &drained] { w->drain([&drained] { drained.fetch_add(1); }); };
        if (i == 0) drain();
        else g->post(i, [drain](core::reactor&) { drain(); });
      }
    };
    if (hub) hub->set_cluster(nullptr);
    readiness.stop();
    if (b) b->stop();
    if (node_) node_->stop(drain_all);
    else drain_all();
  });
  int again = wait_until([&] { return drained.load() == n; }, drain_timeout, signals);
  if (drained.load() != n) {
    LOG_WARN("%s: closing the remaining connections", again ? "second signal" : "drain timeout");
    for (unsigned i = 0; i < n; ++i)
      if (workers[i]) group->post(i, [w = workers[i].get()](core::reactor&) { w->abort_all(); });
    wait_until([&] { return drained.load() == n; }, abort_timeout, signals);
  }
  group->stop_and_join();
  node.reset();
  backplane.reset();
  workers.clear();
  group.reset();
  LOG_INFO("stopped");
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto cli = gateway::parse_cli(args);
  if (!cli) {
    std::fprintf(stderr, "postern: %s\n%s", cli.error().c_str(), gateway::usage_text("postern").c_str());
    return 2;
  }
  if (cli->help) {
    std::fputs(gateway::usage_text("postern").c_str(), stdout);
    return 0;
  }
  if (cli->version) {
    std::printf("postern %.*s\n", static_cast<int>(gateway::postern_version.size()), gateway::postern_version.data());
    return 0;
  }

  std::shared_ptr<const config::gateway_config> config;
  try {
    config::load_options load;
    load.defines = cli->defines;
    config = config::load_config(cli->config_path, load);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  for (const std::string& w : config->warnings) std::fprintf(stderr, "%s\n", w.c_str());

  if (cli->check) {
    for (const std::string& line : gateway::effective_service_lines(*config)) std::printf("%s\n", line.c_str());
    if (const std::string line = gateway::cluster_line(*config); !line.empty()) std::printf("%s\n", line.c_str());
    std::fprintf(stderr, "%s: ok (%zu service(s))\n", cli->config_path.c_str(), config->services.size());
    return 0;
  }
  return serve(std::move(config), *cli);
}
