// both_backends: the fixture for tests that run every case on both reactor back ends (STYLE 16).
// A suite derives its fixture from both_backends_test and instantiates it with
//   INSTANTIATE_TEST_SUITE_P(backends, my_test, test::both_backend_kinds(), test::backend_name);
// so each case runs as backends/my_test.case/io_uring, then .../epoll. The io_uring instance
// skips, with the probe's reason, where io_uring cannot run. Every loop run has a deadline
// timer that stops it and fails the test, and a watchdog thread aborts the program should the
// loop's timers themselves fail.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/reactor.h"

namespace postern::test {

// Aborts the test program if it is still alive after `seconds` (a hung loop cannot fail).
class watchdog {
 public:
  explicit watchdog(int seconds) : _test(current_test_name()), _thread([this, seconds] {
      std::unique_lock lock(_mutex);
      if (!_done_cv.wait_for(lock, std::chrono::seconds(seconds), [this] { return _done; })) {
        std::fprintf(stderr, "%s: a loop ran past its watchdog; aborting\n", _test.c_str());
        std::abort();
      }
    }) {}
  ~watchdog() {
    { std::lock_guard lock(_mutex); _done = true; }
    _done_cv.notify_one();
    _thread.join();
  }

 private:
  // Read on the test's own thread: gtest's current test is not meant for other threads.
  static std::string current_test_name() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return info == nullptr ? "a test" : std::string(info->test_suite_name()) + "." + info->name();
  }

  const std::string _test;
  std::mutex _mutex;
  std::condition_variable _done_cv;
  bool _done = false;
  std::thread _thread;  // last: it starts in the constructor and reads the members above
};

inline auto both_backend_kinds() {
  return ::testing::Values(core::backend_kind::io_uring, core::backend_kind::epoll);
}

// The instance's name: "io_uring" or "epoll".
inline std::string backend_name(const ::testing::TestParamInfo<core::backend_kind>& info) {
  return std::string(core::to_string(info.param));
}

// Owns one reactor on the back end of the test's parameter. A fixture whose SetUp does more
// calls both_backends_test::SetUp() first and returns when IsSkipped() or HasFatalFailure().
class both_backends_test : public ::testing::TestWithParam<core::backend_kind> {
 protected:
  // default_deadline_ms: how long run() and run_until() let the loop run when not told.
  explicit both_backends_test(std::uint64_t default_deadline_ms = 5000)
      : _default_deadline_ms(default_deadline_ms) {}

  void SetUp() override {
    std::string reason;
    if (GetParam() == core::backend_kind::io_uring && !core::reactor::io_uring_available(reason))
      GTEST_SKIP() << "io_uring cannot run here: " << reason;
    r = std::make_unique<core::reactor>(0, core::reactor_options{.backend = GetParam()});
    ASSERT_EQ(r->backend(), GetParam());
  }

  // Runs the loop until something calls stop(); false (a failed test) when the deadline came first.
  bool run() { return run(_default_deadline_ms); }
  bool run(std::uint64_t deadline_ms) {
    bool expired = false;
    core::timer deadline([&] { expired = true; r->stop(); });
    r->arm_timer(deadline, deadline_ms);
    watchdog dog(static_cast<int>(deadline_ms / 1000) + 30);
    r->run();
    EXPECT_FALSE(expired) << "the loop ran into its " << deadline_ms << " ms deadline";
    return !expired;
  }

  // Runs the loop until done() holds (checked every tick).
  bool run_until(std::function<bool()> done) { return run_until(std::move(done), _default_deadline_ms); }
  bool run_until(std::function<bool()> done, std::uint64_t deadline_ms) {
    core::timer poll([&] {
      if (done())
        r->stop();
      else
        r->arm_timer(poll, 1);
    });
    r->arm_timer(poll, 0);
    return run(deadline_ms);
  }

  // Runs the loop for about ms, then stops it (for "nothing more happens" checks).
  void run_idle(std::uint64_t ms) {
    core::timer stop_timer([&] { r->stop(); });
    r->arm_timer(stop_timer, ms);
    run(ms + _default_deadline_ms);
  }

  std::unique_ptr<core::reactor> r;

 private:
  std::uint64_t _default_deadline_ms;
};

}  // namespace postern::test
