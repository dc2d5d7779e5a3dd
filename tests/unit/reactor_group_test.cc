// reactor_group tests: message passing between reactor threads and from the main thread, CPU
// pinning, back-end choice. Every test runs on both back ends (the io_uring instance skips,
// with the probe's reason, where io_uring cannot run). Waits are bounded.
#include "core/reactor_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace postern::core {
namespace {

using namespace std::chrono_literals;

// Set by a message, awaited by the main thread (with a bound).
class event_flag {
 public:
  void set() {
    { std::lock_guard lock(_mutex); _set = true; }
    _cv.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(_mutex);
    return _cv.wait_for(lock, limit, [this] { return _set; });
  }

 private:
  std::mutex _mutex;
  std::condition_variable _cv;
  bool _set = false;
};

// Posts a copy of fn from the main thread, waiting for room when the mailbox is full
// (bounded). A refused message is gone (post takes it by value), hence a copy per attempt.
template <typename F>
void post_surely(reactor_group& group, unsigned to, const F& fn) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!group.post(to, message(fn))) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "mailbox to reactor " << to << " never drained";
    std::this_thread::yield();
  }
}

std::vector<int> sequence(int count) {
  std::vector<int> out(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) out[static_cast<std::size_t>(i)] = i;
  return out;
}

class reactor_group_test : public ::testing::TestWithParam<backend_kind> {
 protected:
  void SetUp() override {
    std::string reason;
    if (GetParam() == backend_kind::io_uring && !reactor::io_uring_available(reason))
      GTEST_SKIP() << "io_uring cannot run here: " << reason;
    // The back end under test comes from the parameter, not from the caller's environment.
    if (const char* env = std::getenv("POSTERN_BACKEND")) _saved_env = env;
    ::unsetenv("POSTERN_BACKEND");
  }
  void TearDown() override {
    if (_saved_env) ::setenv("POSTERN_BACKEND", _saved_env->c_str(), 1);
  }

  reactor_group_options options(unsigned threads = 2) const {
    reactor_group_options o;
    o.threads = threads;
    o.reactor.backend = GetParam();
    o.reactor.provided_buffers = 64;
    return o;
  }

 private:
  std::optional<std::string> _saved_env;
};

TEST_P(reactor_group_test, messages_from_the_main_thread_arrive_in_order) {
  reactor_group group(options());
  ASSERT_EQ(group.size(), 2u);
  EXPECT_EQ(group.backend(), GetParam());
  EXPECT_EQ(group.at(1).backend(), GetParam());
  constexpr int count = 20000;  // far more than the mailbox holds: senders meet a full ring
  std::vector<int> seen[2];
  std::atomic<int> wrong_reactor{0};
  group.start(nullptr);
  for (int i = 0; i < count; ++i) {
    for (unsigned to = 0; to < 2; ++to) {
      post_surely(group, to, [&seen, &wrong_reactor, to, i](reactor& r) {
        if (r.id() != to) ++wrong_reactor;
        seen[to].push_back(i);
      });
    }
  }
  group.stop_and_join();
  EXPECT_EQ(wrong_reactor.load(), 0);
  EXPECT_EQ(seen[0], sequence(count));
  EXPECT_EQ(seen[1], sequence(count));
}

TEST_P(reactor_group_test, reactors_post_to_each_other_in_order) {
  auto o = options();
  o.mailbox_slots = 8192;
  reactor_group group(o);
  static constexpr int count = 5000;
  std::vector<int> seen_by_1;
  event_flag done;
  group.start([&](reactor& r) {
    if (r.id() != 0) return;
    // From reactor 0's thread: the sender is reactor 0.
    for (int i = 0; i < count; ++i) {
      bool posted = group.post(1, [&seen_by_1, &group, &done, i](reactor& r1) {
        EXPECT_EQ(r1.id(), 1u);
        seen_by_1.push_back(i);
        if (i == count - 1) {
          EXPECT_TRUE(group.post(0, [&done](reactor&) { done.set(); }));
        }
      });
      EXPECT_TRUE(posted) << "message " << i;
    }
  });
  EXPECT_TRUE(done.wait()) << "the reply from reactor 1 never came";
  group.stop_and_join();
  EXPECT_EQ(seen_by_1, sequence(count));
}

TEST_P(reactor_group_test, a_message_bounces_between_reactors) {
  reactor_group group(options());
  constexpr int hops = 1000;
  std::vector<unsigned> path;  // touched only by the reactor that holds the ball
  event_flag done;
  std::function<void(reactor&, int)> hop = [&](reactor& r, int n) {
    path.push_back(r.id());
    if (n == hops) {
      done.set();
      return;
    }
    EXPECT_TRUE(group.post(1 - r.id(), [&hop, n](reactor& next) { hop(next, n + 1); }));
  };
  group.start(nullptr);
  post_surely(group, 0, [&hop](reactor& r) { hop(r, 1); });
  EXPECT_TRUE(done.wait());
  group.stop_and_join();
  ASSERT_EQ(path.size(), static_cast<std::size_t>(hops));
  for (std::size_t i = 0; i < path.size(); ++i) EXPECT_EQ(path[i], i % 2) << "hop " << i;
}

TEST_P(reactor_group_test, a_sleeping_reactor_wakes_up_for_a_message) {
  reactor_group group(options(1));
  event_flag started, arrived;
  group.start([&](reactor&) { started.set(); });
  ASSERT_TRUE(started.wait());
  // No timer is armed: unless the eventfd wakes it, the reactor sleeps forever.
  std::this_thread::sleep_for(50ms);
  post_surely(group, 0, [&](reactor&) { arrived.set(); });
  EXPECT_TRUE(arrived.wait()) << "the message did not wake the reactor";
  group.stop_and_join();
}

TEST_P(reactor_group_test, stop_and_join_runs_what_was_posted_before_and_returns) {
  reactor_group group(options());
  std::atomic<int> ran{0};
  group.start(nullptr);
  for (int i = 0; i < 100; ++i) post_surely(group, static_cast<unsigned>(i % 2), [&ran](reactor&) { ++ran; });
  group.stop_and_join();
  EXPECT_EQ(ran.load(), 100);
  group.stop_and_join();  // a second call has nothing to do
}

TEST_P(reactor_group_test, a_full_mailbox_refuses_the_message) {
  auto o = options(1);
  o.mailbox_slots = 8;
  reactor_group group(o);  // not started: nothing drains yet
  std::vector<int> seen;
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(group.post(0, [&seen, i](reactor&) { seen.push_back(i); })) << i;
  EXPECT_FALSE(group.post(0, [&seen](reactor&) { seen.push_back(99); }));
  EXPECT_FALSE(group.post(7, [](reactor&) {})) << "no reactor 7";
  group.start(nullptr);
  group.stop_and_join();
  EXPECT_EQ(seen, sequence(8));
}

TEST_P(reactor_group_test, each_reactor_runs_on_its_configured_cpu) {
  const std::vector<int> cpus = affinity_cpus();
  ASSERT_FALSE(cpus.empty());
  auto o = options(static_cast<unsigned>(cpus.size()) + 1);  // one more: wraps to cpus[0]
  o.cpus = cpus;
  reactor_group group(o);
  std::vector<std::vector<int>> observed(group.size());
  group.start([&](reactor& r) { observed[r.id()] = affinity_cpus(); });
  group.stop_and_join();
  for (unsigned i = 0; i < group.size(); ++i) {
    const int expected = cpus[i % cpus.size()];
    EXPECT_EQ(group.cpu_of(i), expected);
    EXPECT_EQ(observed[i], std::vector<int>{expected}) << "reactor " << i;
  }
}

TEST_P(reactor_group_test, threads_default_to_the_affinity_mask) {
  reactor_group group(options(0));
  const std::vector<int> cpus = affinity_cpus();
  ASSERT_EQ(group.size(), cpus.size());
  for (unsigned i = 0; i < group.size(); ++i) EXPECT_EQ(group.cpu_of(i), cpus[i]);
}

TEST_P(reactor_group_test, a_cpu_outside_the_mask_is_refused_at_construction) {
  const std::vector<int> cpus = affinity_cpus();
  ASSERT_FALSE(cpus.empty());
  const int outside = cpus.back() + 1;
  auto o = options();
  o.cpus = {cpus.front(), outside};
  try {
    reactor_group group(o);
    ADD_FAILURE() << "cpu " << outside << " was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("CPU " + std::to_string(outside)), std::string::npos) << what;
    EXPECT_NE(what.find("affinity mask"), std::string::npos) << what;
  }
}

TEST_P(reactor_group_test, postern_backend_overrides_the_option) {
  auto o = options(1);
  o.reactor.backend = GetParam() == backend_kind::epoll ? backend_kind::io_uring : backend_kind::epoll;
  ::setenv("POSTERN_BACKEND", std::string(to_string(GetParam())).c_str(), 1);
  reactor_group group(o);
  EXPECT_EQ(group.backend(), GetParam());
  EXPECT_EQ(group.at(0).backend(), GetParam());
  ::setenv("POSTERN_BACKEND", "kqueue", 1);
  EXPECT_THROW(reactor_group{o}, std::runtime_error);
  ::unsetenv("POSTERN_BACKEND");
}

INSTANTIATE_TEST_SUITE_P(backends, reactor_group_test,
                         ::testing::Values(backend_kind::io_uring, backend_kind::epoll),
                         [](const ::testing::TestParamInfo<backend_kind>& info) {
                           return std::string(to_string(info.param));
                         });

}  // namespace
}  // namespace postern::core
