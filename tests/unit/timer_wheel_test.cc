// core/timer_wheel: time is a parameter, so every test drives it with explicit now_ms values.
// A timer armed at `at` with `delay` must fire at an advance(now) with
// at + delay <= now < at + delay + tick_ms when the wheel is advanced millisecond by millisecond.
#include "core/timer_wheel.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace postern::core {
namespace {

constexpr std::uint64_t tick = timer_wheel::tick_ms;
constexpr std::uint64_t revolution_ms = timer_wheel::slot_count * tick;

// A timer that records when (by the test's clock) and how often it fired.
struct probe {
  explicit probe(const std::uint64_t& clock) : t([this, &clock] { ++fired, fired_at = clock; }) {}
  timer t;
  int fired = 0;
  std::optional<std::uint64_t> fired_at;
};

// A wheel and the clock that drives it, starting at 0.
class timer_wheel_test : public ::testing::Test {
 protected:
  std::size_t advance_to(std::uint64_t now_ms) { return w.advance(clock = now_ms); }
  // Advances ms by ms until p fires or `limit` is reached; returns when it fired.
  std::optional<std::uint64_t> step_until_fired(const probe& p, std::uint64_t limit) {
    while (p.fired == 0 && clock < limit) advance_to(clock + 1);
    return p.fired_at;
  }

  std::uint64_t clock = 0;
  timer_wheel w{0};
};

TEST_F(timer_wheel_test, fires_not_early_and_at_most_one_tick_late) {
  const std::uint64_t starts[] = {0, 1, 5, 9, 10, 11, 104, 12345, 1'000'000'007};
  const std::uint64_t delays[] = {0, 1, 2, 5, 9, 10, 11, 19, 20, 21, 29, 99, 100, 101, 1000, 1234,
                                  revolution_ms - 1, revolution_ms, revolution_ms + 7};
  for (std::uint64_t at : starts) {
    for (std::uint64_t delay : delays) {
      for (bool from_constructor : {true, false}) {
        SCOPED_TRACE(testing::Message() << "at=" << at << " delay=" << delay << " ctor=" << from_constructor);
        // The wheel's time comes from the constructor or from the last advance().
        timer_wheel wheel(from_constructor ? at : 0);
        if (!from_constructor) wheel.advance(at);
        probe p(clock);
        wheel.arm(p.t, delay);
        ASSERT_TRUE(p.t.armed());
        // A jump to just before the deadline fires nothing (it walks up to a revolution).
        clock = delay > 0 ? at + delay - 1 : at;
        ASSERT_EQ(delay > 0 ? wheel.advance(clock) : 0u, 0u);
        ASSERT_EQ(p.fired, 0);
        while (p.fired == 0 && clock < at + delay + 3 * tick) wheel.advance(++clock);
        ASSERT_TRUE(p.fired_at.has_value());
        EXPECT_GE(*p.fired_at, at + delay);
        EXPECT_LT(*p.fired_at, at + delay + tick);
        EXPECT_EQ(p.fired, 1);
        EXPECT_FALSE(p.t.armed());
        EXPECT_EQ(wheel.armed_count(), 0u);
      }
    }
  }
}

TEST_F(timer_wheel_test, disarmed_timer_never_fires) {
  probe p(clock), other(clock);
  w.arm(p.t, 50);
  w.arm(other.t, 50);
  EXPECT_EQ(w.armed_count(), 2u);
  w.disarm(p.t);
  EXPECT_FALSE(p.t.armed());
  EXPECT_EQ(w.armed_count(), 1u);
  w.disarm(p.t);  // twice: nothing happens
  EXPECT_EQ(w.armed_count(), 1u);
  EXPECT_EQ(advance_to(10 * revolution_ms), 1u);
  EXPECT_EQ(p.fired, 0);
  EXPECT_EQ(other.fired, 1);
  EXPECT_EQ(w.armed_count(), 0u);
  EXPECT_EQ(w.next_delay_ms(), std::nullopt);
}

TEST_F(timer_wheel_test, arming_an_armed_timer_moves_its_deadline) {
  probe p(clock);
  w.arm(p.t, 100);
  advance_to(50);
  w.arm(p.t, 100);  // now due at 150
  EXPECT_EQ(w.armed_count(), 1u);
  auto when = step_until_fired(p, 400);
  EXPECT_EQ(when, 150u);
  EXPECT_EQ(p.fired, 1);
  // Moving it earlier works too.
  probe q(clock);
  w.arm(q.t, 1000);
  w.arm(q.t, 20);
  EXPECT_EQ(step_until_fired(q, clock + 100), 170u);
}

TEST_F(timer_wheel_test, callback_rearms_its_own_timer) {
  std::vector<std::uint64_t> fires;
  timer* self = nullptr;
  timer periodic([&] {
    fires.push_back(clock);
    if (fires.size() < 10) w.arm(*self, 30);
  });
  self = &periodic;
  w.arm(periodic, 30);
  while (clock < 1000) advance_to(clock + 1);
  EXPECT_EQ(fires, (std::vector<std::uint64_t>{30, 60, 90, 120, 150, 180, 210, 240, 270, 300}));
  EXPECT_FALSE(periodic.armed());
}

TEST_F(timer_wheel_test, delay_zero_fires_at_the_next_advance_even_without_time_passing) {
  advance_to(40);  // on a tick boundary: the deadline tick is the current one
  probe p(clock);
  w.arm(p.t, 0);
  EXPECT_EQ(w.next_delay_ms(), 0u);
  EXPECT_EQ(w.advance(clock), 1u);
  EXPECT_EQ(p.fired_at, 40u);
}

TEST_F(timer_wheel_test, callback_rearms_itself_with_delay_zero_without_looping) {
  int fires = 0;
  timer* self = nullptr;
  timer again([&] {
    ++fires;
    w.arm(*self, 0);
  });
  self = &again;
  w.arm(again, 10);
  EXPECT_EQ(advance_to(10), 1u);  // not an endless loop within one advance()
  EXPECT_EQ(fires, 1);
  EXPECT_TRUE(again.armed());
  EXPECT_EQ(w.next_delay_ms(), 0u);  // due now
  EXPECT_EQ(w.advance(clock), 1u);
  EXPECT_EQ(fires, 2);
  w.disarm(again);
}

TEST_F(timer_wheel_test, callback_arms_another_timer) {
  probe second(clock);
  timer first([&] { w.arm(second.t, 25); });
  w.arm(first, 40);
  auto when = step_until_fired(second, 200);
  ASSERT_TRUE(when.has_value());
  EXPECT_GE(*when, 65u);
  EXPECT_LT(*when, 65u + tick);
}

TEST_F(timer_wheel_test, callback_arms_a_timer_due_in_the_same_advance) {
  // first fires at tick 1; it arms second for 5 ms after 35 (the new time) = 40, in a slot the
  // same advance(35) has not walked yet: it must not fire before 40.
  probe second(clock);
  timer first([&] { w.arm(second.t, 5); });
  w.arm(first, 10);
  EXPECT_EQ(advance_to(35), 1u);
  EXPECT_EQ(second.fired, 0);
  EXPECT_EQ(step_until_fired(second, 100), 40u);
}

TEST_F(timer_wheel_test, callbacks_disarm_timers_of_the_same_slot) {
  // Five timers due in the same tick each disarm the four others: whatever the order, exactly
  // one of them fires. An earlier one disarms a timer that advance() has yet to reach.
  constexpr int count = 5;
  std::vector<std::unique_ptr<timer>> timers;
  int fires = 0;
  for (int i = 0; i < count; ++i)
    timers.push_back(std::make_unique<timer>([&, i] {
      ++fires;
      for (int j = 0; j < count; ++j)
        if (j != i) w.disarm(*timers[j]);
    }));
  for (auto& t : timers) w.arm(*t, 30);
  probe later(clock);  // due in a slot the same advance() walks afterwards
  w.arm(later.t, 40);
  timers.push_back(std::make_unique<timer>([&] { w.disarm(later.t); }));
  w.arm(*timers.back(), 10);
  EXPECT_EQ(advance_to(50), 2u);
  EXPECT_EQ(fires, 1);
  EXPECT_EQ(later.fired, 0);
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST_F(timer_wheel_test, timer_more_than_one_revolution_away_waits_for_its_round) {
  probe near(clock), far(clock), farther(clock);
  w.arm(near.t, 100);
  w.arm(far.t, 100 + revolution_ms);  // same slot as near, one revolution later
  w.arm(farther.t, 100 + 2 * revolution_ms + 3);
  // Walk tick by tick over three revolutions: each passage through the slot leaves far alone.
  while (clock < 3 * revolution_ms) {
    advance_to(clock + tick);
    ASSERT_EQ(near.fired, clock >= 100 ? 1 : 0) << clock;
    ASSERT_EQ(far.fired, clock >= 100 + revolution_ms ? 1 : 0) << clock;
    ASSERT_EQ(farther.fired, clock >= 110 + 2 * revolution_ms ? 1 : 0) << clock;
  }
  EXPECT_EQ(near.fired_at, 100u);
  EXPECT_EQ(far.fired_at, 100u + revolution_ms);
  EXPECT_EQ(farther.fired_at, 110u + 2 * revolution_ms);
}

TEST_F(timer_wheel_test, a_jump_of_many_revolutions_fires_exactly_the_due_timers) {
  // A timer every 9 ms over 2.6 revolutions: every slot holds timers of several revolutions.
  constexpr std::uint64_t count = 12'000, step_ms = 9;
  advance_to(7);
  std::vector<std::unique_ptr<probe>> probes;
  for (std::uint64_t i = 0; i < count; ++i) {
    probes.push_back(std::make_unique<probe>(clock));
    w.arm(probes.back()->t, i * step_ms);
  }
  const std::uint64_t jump_to = 7 + 60'005;  // 1.46 revolutions later, in one call
  // A timer fires once the tick its deadline rounds up to has begun: one due at 60'008 waits
  // for the tick that starts at 60'010.
  auto reached = [&](std::uint64_t i) { return (7 + i * step_ms + tick - 1) / tick <= jump_to / tick; };
  std::size_t due = 0;
  for (std::uint64_t i = 0; i < count; ++i) due += reached(i) ? 1 : 0;
  ASSERT_GT(due, 6000u);
  EXPECT_EQ(advance_to(jump_to), due);
  for (std::uint64_t i = 0; i < count; ++i) ASSERT_EQ(probes[i]->fired, reached(i) ? 1 : 0) << i;
  EXPECT_EQ(w.armed_count(), count - due);
  EXPECT_EQ(advance_to(clock + 10 * revolution_ms), count - due);
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST_F(timer_wheel_test, many_timers_in_one_slot_all_fire_once) {
  std::vector<std::unique_ptr<probe>> probes;
  for (int i = 0; i < 1000; ++i) {
    probes.push_back(std::make_unique<probe>(clock));
    // Half due at 500, half in the same slot one revolution later.
    w.arm(probes.back()->t, i % 2 == 0 ? 500 : 500 + revolution_ms);
  }
  EXPECT_EQ(advance_to(499), 0u);
  EXPECT_EQ(advance_to(500), 500u);
  EXPECT_EQ(w.armed_count(), 500u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(probes[i]->fired, i % 2 == 0 ? 1 : 0) << i;
  EXPECT_EQ(advance_to(500 + revolution_ms), 500u);
  for (auto& p : probes) ASSERT_EQ(p->fired, 1);
}

TEST_F(timer_wheel_test, destroying_an_armed_timer_disarms_it) {
  probe before(clock), after(clock);
  w.arm(before.t, 30);
  auto doomed = std::make_unique<probe>(clock);  // in the middle of the slot's list
  w.arm(doomed->t, 30);
  w.arm(after.t, 30);
  EXPECT_EQ(w.armed_count(), 3u);
  doomed.reset();
  EXPECT_EQ(w.armed_count(), 2u);
  EXPECT_EQ(advance_to(30), 2u);
  EXPECT_EQ(before.fired, 1);
  EXPECT_EQ(after.fired, 1);
}

TEST_F(timer_wheel_test, callback_destroys_other_armed_timers_of_its_slot) {
  // The killer sits between two victims in the slot's list; whichever fire before it, the walk
  // must not touch the destroyed ones afterwards (ASan checks that).
  int victim_fires = 0;
  auto first = std::make_unique<timer>([&] { ++victim_fires; });
  auto second = std::make_unique<timer>([&] { ++victim_fires; });
  timer killer([&] {
    first.reset();
    second.reset();
  });
  w.arm(*first, 30);
  w.arm(killer, 30);
  w.arm(*second, 30);
  std::size_t fired = advance_to(30);
  EXPECT_EQ(fired, 1u + static_cast<std::size_t>(victim_fires));
  EXPECT_LT(victim_fires, 2);  // at least one was destroyed before its turn
  EXPECT_EQ(first, nullptr);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(w.armed_count(), 0u);
}

TEST_F(timer_wheel_test, destroying_the_wheel_leaves_its_timers_disarmed) {
  probe p(clock);
  {
    timer_wheel other(0);
    other.arm(p.t, 100);
  }
  EXPECT_FALSE(p.t.armed());  // and p's destructor touches no freed wheel (ASan)
}

TEST_F(timer_wheel_test, a_timer_moves_between_wheels) {
  timer_wheel other(0);
  probe p(clock);
  w.arm(p.t, 10);
  other.arm(p.t, 20);
  EXPECT_EQ(w.armed_count(), 0u);
  EXPECT_EQ(other.armed_count(), 1u);
  EXPECT_EQ(advance_to(10), 0u);
  w.disarm(p.t);  // disarms it on the other wheel, where it is armed
  EXPECT_EQ(other.armed_count(), 0u);
  EXPECT_FALSE(p.t.armed());
}

TEST_F(timer_wheel_test, next_delay_ms_counts_to_the_deadline_tick) {
  EXPECT_EQ(w.next_delay_ms(), std::nullopt);
  probe a(clock), b(clock);
  w.arm(a.t, 100);
  EXPECT_EQ(w.next_delay_ms(), 100u);
  w.arm(b.t, 55);  // deadline 55 ms, in the tick that starts at 60
  EXPECT_EQ(w.next_delay_ms(), 60u);
  advance_to(5);
  EXPECT_EQ(w.next_delay_ms(), 55u);
  w.disarm(b.t);  // the estimate may stay early, never late
  ASSERT_TRUE(w.next_delay_ms().has_value());
  EXPECT_LE(*w.next_delay_ms(), 95u);
  EXPECT_EQ(advance_to(60), 0u);
  EXPECT_EQ(w.next_delay_ms(), 40u);  // recomputed once time reached the stale bound
  EXPECT_EQ(advance_to(100), 1u);
  EXPECT_EQ(w.next_delay_ms(), std::nullopt);
}

TEST_F(timer_wheel_test, next_delay_ms_sees_timers_beyond_one_revolution) {
  probe p(clock), soon(clock);
  w.arm(soon.t, 10);
  w.arm(p.t, 3 * revolution_ms + 20);
  EXPECT_EQ(w.next_delay_ms(), 10u);
  EXPECT_EQ(advance_to(revolution_ms + 20), 1u);  // passes p's slot once; soon fires, so the bound is recomputed
  EXPECT_EQ(w.next_delay_ms(), 2 * revolution_ms);
}

// A reactor's loop: sleep next_delay_ms(), advance, repeat. With random arms and disarms, the
// delay is never later than the earliest deadline tick, and every timer fires in its window.
TEST_F(timer_wheel_test, driving_by_next_delay_ms_is_never_late) {
  std::mt19937_64 rng(42);
  advance_to(1'000);
  constexpr std::size_t count = 400;
  std::vector<std::unique_ptr<probe>> probes;
  std::vector<std::optional<std::uint64_t>> due(count);  // the deadline ms of each armed timer
  for (std::size_t i = 0; i < count; ++i) probes.push_back(std::make_unique<probe>(clock));
  std::size_t fired_total = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::size_t i = rng() % count;
    std::uint64_t action = rng() % 4;
    if (action < 2) {  // (re)arm: mostly short delays, a third up to three revolutions
      std::uint64_t delay = rng() % 3 == 0 ? rng() % (3 * revolution_ms) : rng() % 500;
      w.arm(probes[i]->t, delay);
      due[i] = clock + delay;
    } else if (action == 2) {
      w.disarm(probes[i]->t);
      due[i].reset();
    } else {
      std::optional<std::uint64_t> earliest;  // the first tick boundary where one is due
      for (auto& d : due)
        if (d) earliest = std::min(earliest.value_or(UINT64_MAX), (*d + tick - 1) / tick * tick);
      auto delay = w.next_delay_ms();
      ASSERT_EQ(delay.has_value(), earliest.has_value()) << "round " << round;
      if (!delay) continue;
      ASSERT_LE(clock + *delay, *earliest) << "round " << round;
      std::size_t fired = advance_to(clock + *delay);
      ASSERT_TRUE(fired > 0 || *delay > 0) << "a zero delay must mean a due timer, round " << round;
      fired_total += fired;
      for (std::size_t j = 0; j < count; ++j) {
        if (probes[j]->fired == 0) continue;
        ASSERT_TRUE(due[j].has_value()) << "fired while disarmed, round " << round;
        ASSERT_EQ(probes[j]->fired, 1);
        ASSERT_GE(*probes[j]->fired_at, *due[j]) << "early, round " << round;
        ASSERT_LT(*probes[j]->fired_at, *due[j] + tick) << "late, round " << round;
        due[j].reset();
        probes[j]->fired = 0;
      }
    }
  }
  EXPECT_GT(fired_total, 1000u);  // the scenario really exercised firing
  EXPECT_EQ(w.armed_count(), count - static_cast<std::size_t>(std::count(due.begin(), due.end(), std::nullopt)));
}

}  // namespace
}  // namespace postern::core
