// Reactor benchmark: loopback TCP echo round trips per second, one connection, 64-byte
// messages, on each back end. Both ends live on one reactor, so a round trip is two loop
// iterations (client send -> server echo -> client receive) and the number measures the
// reactor's own cost per message: system calls, wake-ups, dispatch. The iteration count is
// fixed (bounded run time).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>

#include <array>
#include <memory>
#include <string>

#include "core/reactor.h"

namespace postern::core {
namespace {

constexpr std::size_t message_bytes = 64;

struct echo_end final : stream_handler {
  echo_end(reactor& r, unique_fd fd) : s(r, std::move(fd), *this) { s.start_reading(); }
  void on_readable(std::span<std::byte> bytes) override { s.write(bytes); }
  void on_read_eof() override { s.close(); }
  void on_stream_error(int) override { s.close(); }
  void on_closed() override { closed = true; }
  bool closed = false;
  stream s;
};

struct echo_listener final : listener_handler {
  echo_listener(reactor& r, unique_fd fd) : r(r), l(r, std::move(fd), *this) { l.start(); }
  void on_accept(unique_fd fd) override { server = std::make_unique<echo_end>(r, std::move(fd)); }
  void on_closed() override { closed = true; }
  reactor& r;
  std::unique_ptr<echo_end> server;
  bool closed = false;
  listener l;
};

// Sends a message, waits for its whole echo, sends the next, `remaining` times.
struct pinger final : stream_handler {
  explicit pinger(reactor& r) : r(r), s(r, *this) { message.fill(std::byte{'x'}); }
  void ping() { s.write(std::span<const std::byte>(message)); }
  void on_readable(std::span<std::byte> bytes) override {
    echoed += bytes.size();
    if (echoed < message_bytes) return;
    echoed -= message_bytes;
    if (--remaining == 0)
      r.stop();
    else
      ping();
  }
  void on_read_eof() override { fail(); }
  void on_stream_error(int) override { fail(); }
  void fail() {
    failed = true;
    r.stop();
  }
  void on_connected(int error) override {
    failed = error != 0;
    r.stop();
  }
  void on_closed() override { closed = true; }
  reactor& r;
  std::array<std::byte, message_bytes> message;
  std::size_t echoed = 0;
  std::int64_t remaining = 0;
  bool failed = false, closed = false;
  stream s;
};

void echo_round_trips(benchmark::State& state, backend_kind kind) {
  std::string reason;
  if (kind == backend_kind::io_uring && !reactor::io_uring_available(reason)) {
    state.SkipWithError(("io_uring cannot run here: " + reason).c_str());
    return;
  }
  reactor r(0, reactor_options{.backend = kind});
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto fd = open_listen_socket(reinterpret_cast<sockaddr*>(&at), sizeof at, false);
  if (!fd) {
    state.SkipWithError("cannot listen on 127.0.0.1");
    return;
  }
  socklen_t len = sizeof at;
  ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&at), &len);
  echo_listener server(r, std::move(*fd));
  pinger client(r);
  client.s.start_reading();
  client.s.connect(reinterpret_cast<sockaddr*>(&at), sizeof at);
  r.run();  // until connected
  if (client.failed) {
    state.SkipWithError("cannot connect over loopback");
  } else {
    while (state.KeepRunningBatch(state.max_iterations)) {
      client.remaining = state.max_iterations;
      client.ping();
      r.run();
    }
    if (client.failed) state.SkipWithError("the echo connection failed");
  }
  state.counters["round_trips_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                           benchmark::Counter::kIsRate);
  client.s.close();
  if (server.server) server.server->s.close();
  server.l.close();
  timer until_closed([&] {
    if (client.closed && server.closed && (!server.server || server.server->closed))
      r.stop();
    else
      r.arm_timer(until_closed, 1);
  });
  r.arm_timer(until_closed, 0);
  r.run();
}

BENCHMARK_CAPTURE(echo_round_trips, io_uring, backend_kind::io_uring)
    ->Iterations(20000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(echo_round_trips, epoll, backend_kind::epoll)
    ->Iterations(20000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace postern::core
