// timer_wheel: one coarse hashed wheel per reactor (STYLE 12), driven by one kernel timeout
// (an io_uring timeout or the epoll_wait timeout), never one kernel timer per connection.
// Resolution is one tick (tick_ms); a timer fires no earlier than its delay and at most one tick
// late. Timers are intrusive, owned by the object that arms them; destroying an armed timer
// disarms it. Arming and disarming are O(1).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace postern::core {

class timer_wheel;

// A timer is not movable (the wheel points at it). Its callback runs on the wheel's thread from
// advance(), after the timer has been disarmed; it may re-arm it. A callback must not destroy
// its own timer (closing is a state, freeing comes later: STYLE 7).
class timer {
 public:
  explicit timer(std::move_only_function<void()> on_expiry) : _on_expiry(std::move(on_expiry)) {}
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  ~timer();  // disarms

  bool armed() const noexcept { return _wheel != nullptr; }

 private:
  friend class timer_wheel;
  std::move_only_function<void()> _on_expiry;
  timer_wheel* _wheel = nullptr;
  timer* _prev = nullptr;
  timer* _next = nullptr;
  std::uint64_t _deadline_tick = 0;
};

class timer_wheel {
 public:
  static constexpr std::uint64_t tick_ms = 10;
  static constexpr std::size_t slot_count = 4096;

  explicit timer_wheel(std::uint64_t now_ms);
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;
  ~timer_wheel();

  // (Re)arms t to fire delay_ms after now_ms (the time passed to the last advance()): its
  // deadline tick is the first tick that starts at or after now_ms + delay_ms, and the first
  // advance() whose tick reaches it fires it. t may be armed on this or another wheel.
  void arm(timer& t, std::uint64_t delay_ms);
  // Disarms t wherever it is armed (this or another wheel); does nothing when it is not armed.
  void disarm(timer& t) noexcept;
  // Moves time forward and runs every expired timer's callback (a callback may arm or disarm
  // timers, including its own). Returns how many fired. now_ms comes from a monotonic clock;
  // a value earlier than the last one counts as the last one. A timer armed from a callback
  // with a deadline already reached may wait for the next advance(). Not re-entrant: a callback
  // must not call advance().
  std::size_t advance(std::uint64_t now_ms);
  // Milliseconds from now_ms until the earliest armed timer can fire (0 when one is due), or
  // nullopt when none is armed. Never later than that timer's deadline tick; may be earlier
  // (the caller then wakes, advances, and asks again). Meant as the kernel wait timeout.
  std::optional<std::uint64_t> next_delay_ms() const noexcept;
  std::size_t armed_count() const noexcept { return _armed; }

 private:
  void link(timer& t) noexcept;
  void unlink(timer& t) noexcept;
  void recompute_earliest() const noexcept;

  // Heads of intrusive doubly-linked lists; a timer with deadline tick d is in slot
  // d % slot_count, whatever the revolution. New timers go in at the head.
  std::vector<timer*> _slots;
  std::uint64_t _now_ms;    // the time passed to the last advance() (or the constructor)
  std::uint64_t _now_tick;  // _now_ms / tick_ms: every timer due at or before it has fired,
                            // except those armed since for this very tick
  std::size_t _armed = 0;
  // advance() visits a slot's list through this cursor, so that a callback may disarm the
  // timer that comes next.
  timer* _cursor = nullptr;
  // No armed timer has a deadline tick below this (a lower bound, so next_delay_ms() is never
  // late). Disarming leaves it stale-low; once time reaches it, next_delay_ms() recomputes it
  // exactly (hence mutable), so a stale value costs at most one early wake-up.
  mutable std::uint64_t _earliest_tick = 0;
};

}  // namespace postern::core
