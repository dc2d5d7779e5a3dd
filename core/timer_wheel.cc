// timer_wheel (see timer_wheel.h). A timer whose deadline tick is d sits in slot d % slot_count;
// advance() visits the slots of every tick from the last one to now (one revolution at most,
// which visits every slot) and fires the timers whose deadline tick has come, leaving those
// due in a later revolution where they are.
#include "core/timer_wheel.h"

#include <limits>

namespace postern::core {

namespace {
constexpr std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
}  // namespace

timer::~timer() {
  if (_wheel != nullptr) _wheel->disarm(*this);
}

timer_wheel::timer_wheel(std::uint64_t now_ms)
    : _slots(slot_count, nullptr), _now_ms(now_ms), _now_tick(now_ms / tick_ms) {}

timer_wheel::~timer_wheel() {
  // Timers outlive the wheel in their owners: leave each one disarmed, pointing at nothing.
  for (timer*& head : _slots) {
    for (timer* t = head; t != nullptr;) {
      timer* next = t->_next;
      t->_wheel = nullptr;
      t->_prev = t->_next = nullptr;
      t = next;
    }
    head = nullptr;
  }
}

void timer_wheel::link(timer& t) noexcept {
  timer*& head = _slots[t._deadline_tick % slot_count];
  t._prev = nullptr;
  t._next = head;
  if (head != nullptr) head->_prev = &t;
  head = &t;
}

void timer_wheel::unlink(timer& t) noexcept {
  if (t._prev != nullptr)
    t._prev->_next = t._next;
  else
    _slots[t._deadline_tick % slot_count] = t._next;
  if (t._next != nullptr) t._next->_prev = t._prev;
  t._prev = t._next = nullptr;
}

void timer_wheel::arm(timer& t, std::uint64_t delay_ms) {
  if (t._wheel != nullptr) t._wheel->disarm(t);
  // Rounding the deadline up to a tick boundary is what makes a timer never fire early.
  std::uint64_t deadline_ms = delay_ms > max_u64 - _now_ms ? max_u64 : _now_ms + delay_ms;
  std::uint64_t deadline_tick = deadline_ms / tick_ms + (deadline_ms % tick_ms != 0 ? 1 : 0);
  t._deadline_tick = deadline_tick;
  t._wheel = this;
  link(t);
  if (_armed == 0 || deadline_tick < _earliest_tick) _earliest_tick = deadline_tick;
  ++_armed;
}

void timer_wheel::disarm(timer& t) noexcept {
  if (t._wheel == nullptr) return;
  if (t._wheel != this) {
    t._wheel->disarm(t);
    return;
  }
  if (_cursor == &t) _cursor = t._next;
  unlink(t);
  t._wheel = nullptr;
  --_armed;
}

std::size_t timer_wheel::advance(std::uint64_t now_ms) {
  if (now_ms < _now_ms) now_ms = _now_ms;
  // The current tick's slot is visited again: it may hold timers armed for it since then.
  std::uint64_t first_tick = _now_tick;
  std::uint64_t last_tick = now_ms / tick_ms;
  // Callbacks arm relative to the new time.
  _now_ms = now_ms;
  _now_tick = last_tick;

  std::uint64_t ticks = last_tick - first_tick + 1;
  if (ticks > slot_count) ticks = slot_count;  // one revolution visits every slot
  std::size_t fired = 0;
  for (std::uint64_t i = 0; i < ticks && _armed > 0; ++i) {
    // New timers go in at the head, so a slot's walk never meets a timer armed during it.
    timer* t = _slots[(first_tick + i) % slot_count];
    while (t != nullptr) {
      _cursor = t->_next;  // disarm() moves it on if a callback disarms that timer
      if (t->_deadline_tick <= last_tick) {
        unlink(*t);
        t->_wheel = nullptr;
        --_armed;
        ++fired;
        if (t->_on_expiry) t->_on_expiry();
      }
      t = _cursor;
    }
  }
  _cursor = nullptr;
  return fired;
}

void timer_wheel::recompute_earliest() const noexcept {
  // Every armed timer is due at _now_tick or later (advance() fired the earlier ones), and one
  // due at tick d < _now_tick + slot_count sits in the slot visited at step d - _now_tick. So
  // once the smallest deadline seen is no later than the tick being visited, no slot still to
  // visit can hold an earlier one.
  std::uint64_t best = max_u64;
  for (std::uint64_t i = 0; i < slot_count; ++i) {
    std::uint64_t tick = _now_tick + i;
    for (const timer* t = _slots[tick % slot_count]; t != nullptr; t = t->_next)
      if (t->_deadline_tick < best) best = t->_deadline_tick;
    if (best <= tick) break;
  }
  _earliest_tick = best;
}

std::optional<std::uint64_t> timer_wheel::next_delay_ms() const noexcept {
  if (_armed == 0) return std::nullopt;
  // A lower bound that time has reached is stale (that timer fired or was disarmed), or a timer
  // is due now: look for the true earliest.
  if (_earliest_tick <= _now_tick) recompute_earliest();
  if (_earliest_tick <= _now_tick) return 0;
  // _now_ms < (_now_tick + 1) * tick_ms <= _earliest_tick * tick_ms, so this is positive.
  if (_earliest_tick > max_u64 / tick_ms) return max_u64 - _now_ms;
  return _earliest_tick * tick_ms - _now_ms;
}

}  // namespace postern::core
