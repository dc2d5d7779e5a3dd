// load_worker (see worker.h).
#include "bench/load/worker.h"

#include <time.h>

#include <random>
#include <string>

#include "bench/load/connection.h"
#include "core/log.h"

namespace postern::load {

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

load_worker::load_worker(const load_plan& plan, unsigned id, unsigned threads)
    : _plan(&plan), _scratch(header_room + plan.options.size_bytes) {
  std::random_device device;
  _random_state = (std::uint64_t{device()} << 32 | device()) | 1u;  // xorshift needs a non-zero state
  for (unsigned index = id; index < plan.options.connections; index += threads)
    _connections.push_back(std::make_unique<load_connection>(*this, index));
}

load_worker::~load_worker() = default;

std::uint64_t load_worker::next_random() noexcept {
  // xorshift64: mask keys need to be unpredictable to an intermediary, not cryptographic.
  std::uint64_t x = _random_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  _random_state = x;
  return x;
}

void load_worker::start(core::reactor& reactor) {
  _reactor = &reactor;
  start_more();
}

void load_worker::start_more() {
  if (_starting) return;  // a connection that reported back at once: the loop below goes on
  _starting = true;
  while (!_connect_over && _next_start < _connections.size() && _connecting < max_connecting) {
    ++_connecting;
    _connections[_next_start++]->start();
  }
  _starting = false;
}

void load_worker::connection_ready(load_connection& c) {
  --_connecting;
  bump(_counters.ready);
  if (_finishing)
    c.finish();
  else if (traffic_allowed())
    c.begin_traffic();
  start_more();
}

void load_worker::connection_ended(load_connection& c, std::uint64_t lost_messages) {
  if (!c.was_open()) {
    if (c.started()) --_connecting;
    bump(_counters.failed);
  }
  if (lost_messages > 0) {
    _result.lost_messages += lost_messages;
    publish_errors();
  }
  bump(_counters.ended);
  start_more();
}

void load_worker::record_echo(std::uint64_t latency_ns) noexcept {
  bump(_counters.echoes);
  if (!_measuring) return;
  _result.histogram.record(latency_ns);
  ++_result.messages;
}

void load_worker::count_error(load_error kind, unsigned connection_index, std::string_view what) {
  const char* label = "";
  switch (kind) {
    case load_error::connect:
      ++_result.connect_errors;
      label = "connect";
      break;
    case load_error::echo:
      ++_result.echo_errors;
      label = "echo";
      break;
    case load_error::connection:
      ++_result.connection_errors;
      label = "connection";
      break;
  }
  publish_errors();
  if (_logged_errors < max_logged_errors) {
    LOG_WARN("connection %u: %s error: %.*s", connection_index, label, static_cast<int>(what.size()), what.data());
    if (++_logged_errors == max_logged_errors)
      LOG_WARN("further errors of this thread are counted, not logged");
  }
}

void load_worker::publish_errors() noexcept {
  _counters.errors.store(_result.connect_errors + _result.echo_errors + _result.connection_errors +
                             _result.lost_messages,
                         std::memory_order_relaxed);
}

void load_worker::end_connect_phase() {
  _connect_over = true;
  for (auto& c : _connections) {
    const auto s = c->current();
    if (s == load_connection::state::idle || s == load_connection::state::connecting ||
        s == load_connection::state::upgrading)
      c->abort(load_error::connect, "not open within the connect grace");
  }
}

void load_worker::begin_window() {
  _result.histogram.reset();
  _result.messages = 0;
  _measuring = true;
}

void load_worker::end_window() {
  _measuring = false;
  _finishing = true;
  unsigned open = 0;
  for (auto& c : _connections) open += c->current() == load_connection::state::open;
  _result.open_at_window_end = open;
  for (auto& c : _connections) c->finish();
}

void load_worker::force_close() {
  _connect_over = true;
  _finishing = true;
  for (auto& c : _connections) {
    if (!c->ended())
      c->abort(load_error::connection,
               "still " + std::string(load_connection::to_string(c->current())) + " when the close grace ran out");
  }
}

}  // namespace postern::load
