// timer_wheel: the cost of arming and disarming with a realistic population (10k armed timers,
// as a reactor with 10k idle connections holds), and of advance() driving those timers as a
// reactor does, each fired timer re-arming itself (an idle timeout renewed).
#include "core/timer_wheel.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace postern::core {
namespace {

constexpr std::size_t population = 10'000;

// 10k timers armed with delays spread over 0..max_delay_ms; each re-arms itself with a fresh
// delay when it fires, so the population stays at 10k.
struct armed_population {
  armed_population(std::uint64_t now_ms, std::uint64_t max_delay_ms) : wheel(now_ms), rng(7) {
    timers.reserve(population);
    for (std::size_t i = 0; i < population; ++i) {
      timers.push_back(std::make_unique<timer>([this, i, max_delay_ms] {
        wheel.arm(*timers[i], rng() % max_delay_ms);
      }));
      wheel.arm(*timers.back(), rng() % max_delay_ms);
    }
  }
  timer_wheel wheel;
  std::mt19937_64 rng;
  std::vector<std::unique_ptr<timer>> timers;
};

void bm_arm_disarm_with_10k_armed(benchmark::State& state) {
  armed_population armed(0, 60'000);
  timer t([] {});
  std::uint64_t delay = 0;
  for (auto _ : state) {
    armed.wheel.arm(t, 1'000 + (delay++ & 0xffff));
    armed.wheel.disarm(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_arm_disarm_with_10k_armed);

// Re-arming an armed timer: what resetting an idle timeout on every read costs.
void bm_rearm_with_10k_armed(benchmark::State& state) {
  armed_population armed(0, 60'000);
  std::size_t i = 0;
  for (auto _ : state) {
    armed.wheel.arm(*armed.timers[i], 30'000);
    if (++i == population) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_rearm_with_10k_armed);

// One advance() per tick. Arg: the spread of delays in ms (short: many fire per tick; long:
// most of the walk is past timers of later revolutions).
void bm_advance_one_tick_10k_armed(benchmark::State& state) {
  auto max_delay_ms = static_cast<std::uint64_t>(state.range(0));
  armed_population armed(0, max_delay_ms);
  std::uint64_t now = 0;
  std::size_t fired = 0;
  for (auto _ : state) {
    now += timer_wheel::tick_ms;
    fired += armed.wheel.advance(now);
  }
  state.counters["fired_per_advance"] =
      benchmark::Counter(static_cast<double>(fired) / static_cast<double>(state.iterations()));
}
BENCHMARK(bm_advance_one_tick_10k_armed)->Arg(1'000)->Arg(60'000)->Arg(300'000);

// A reactor's loop step: ask next_delay_ms(), jump there, advance.
void bm_next_delay_and_advance_10k_armed(benchmark::State& state) {
  armed_population armed(0, 60'000);
  std::uint64_t now = 0;
  for (auto _ : state) {
    auto delay = armed.wheel.next_delay_ms();
    now += delay ? *delay : timer_wheel::tick_ms;
    benchmark::DoNotOptimize(armed.wheel.advance(now));
  }
}
BENCHMARK(bm_next_delay_and_advance_10k_armed);

}  // namespace
}  // namespace postern::core
