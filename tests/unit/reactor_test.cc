// Reactor tests. Every test runs on both back ends (io_uring, then epoll) through the
// both_backends fixture, with its loop deadlines and watchdog. Sockets are loopback TCP on
// ephemeral ports or socketpair().
#include "core/reactor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/both_backends.h"

namespace postern::core {
namespace {

std::string pattern(std::size_t size, unsigned seed = 0) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) % 256);
  return out;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::uint16_t port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return ntohs(addr.sin_port);
}

std::pair<unique_fd, unique_fd> make_socketpair(int type = SOCK_STREAM) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// A stream owner that records every event; hooks let a test act on them.
struct recorder final : stream_handler {
  explicit recorder(reactor& r, unique_fd fd) : s(r, std::move(fd), *this) {}
  explicit recorder(reactor& r) : s(r, *this) {}

  void on_readable(std::span<std::byte> bytes) override {
    EXPECT_EQ(eofs, 0) << "bytes after EOF";
    received.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (on_bytes) on_bytes();
  }
  void on_read_eof() override {
    ++eofs;
    if (on_eof) on_eof();
  }
  void on_stream_error(int error) override { errors.push_back(error); }
  void on_write_drained() override { ++drained; }
  void on_connected(int error) override {
    connects.push_back(error);
    if (on_connect) on_connect(error);
  }
  void on_closed() override {
    EXPECT_FALSE(inside_close) << "on_closed called from inside close()";
    ++closed;
  }
  void close() {
    inside_close = true;
    s.close();
    inside_close = false;
  }

  std::string received;
  int eofs = 0, drained = 0, closed = 0;
  bool inside_close = false;
  std::vector<int> errors, connects;
  std::function<void()> on_bytes, on_eof;
  std::function<void(int)> on_connect;
  stream s;
};

// Echoes what it reads; answers EOF with shutdown_write.
struct echo_connection final : stream_handler {
  echo_connection(reactor& r, unique_fd fd) : s(r, std::move(fd), *this) { s.start_reading(); }
  void on_readable(std::span<std::byte> bytes) override { s.write(bytes); }
  void on_read_eof() override { s.shutdown_write(); }
  void on_stream_error(int) override { s.close(); }
  void on_closed() override { closed = true; }
  bool closed = false;
  stream s;
};

struct echo_server final : listener_handler {
  echo_server(reactor& r, unique_fd fd) : r(r), l(r, std::move(fd), *this) { l.start(); }
  void on_accept(unique_fd fd) override { connections.push_back(std::make_unique<echo_connection>(r, std::move(fd))); }
  void on_accept_error(int error) override { ADD_FAILURE() << "accept failed: " << std::strerror(error); }
  void on_closed() override { ++closed; }
  reactor& r;
  std::vector<std::unique_ptr<echo_connection>> connections;
  int closed = 0;
  listener l;
};

class reactor_test : public test::both_backends_test {
 protected:
  reactor_test() : both_backends_test(5000) {}

  // Closes the streams and the server, and runs until every on_closed has come.
  void close_all(std::vector<recorder*> streams, echo_server* server = nullptr) {
    for (recorder* s : streams) s->close();
    if (server != nullptr) {
      for (auto& c : server->connections) c->s.close();
      server->l.close();
    }
    EXPECT_TRUE(run_until([&] {
      for (recorder* s : streams)
        if (s->closed != 1) return false;
      if (server == nullptr) return true;
      for (auto& c : server->connections)
        if (!c->closed) return false;
      return server->closed == 1;
    }));
  }

  std::pair<unique_fd, sockaddr_in> listening_socket() {
    sockaddr_in any = loopback(0);
    auto fd = open_listen_socket(reinterpret_cast<sockaddr*>(&any), sizeof any, false);
    EXPECT_TRUE(fd.has_value());
    sockaddr_in at = loopback(port_of(fd->get()));
    return {std::move(*fd), at};
  }
};

TEST_P(reactor_test, echoes_one_mebibyte_byte_identical) {
  auto [fd, at] = listening_socket();
  echo_server server(*r, std::move(fd));
  const std::string data = pattern(1 << 20);
  recorder client(*r);
  client.on_connect = [&](int error) {
    if (error != 0) return;
    client.s.write(data);
    client.s.shutdown_write();
  };
  client.on_eof = [&] { r->stop(); };
  client.s.start_reading();
  client.s.connect(reinterpret_cast<sockaddr*>(&at), sizeof at);
  ASSERT_TRUE(run());
  EXPECT_EQ(client.connects, std::vector<int>{0});
  EXPECT_EQ(server.connections.size(), 1u);
  EXPECT_EQ(client.received.size(), data.size());
  EXPECT_TRUE(client.received == data) << "echoed bytes differ";
  EXPECT_EQ(client.eofs, 1);
  EXPECT_EQ(client.drained, 1);
  EXPECT_TRUE(client.errors.empty());
  close_all({&client}, &server);
}

TEST_P(reactor_test, serves_two_hundred_concurrent_connections) {
  auto [fd, at] = listening_socket();
  echo_server server(*r, std::move(fd));
  constexpr int count = 200;
  std::vector<std::unique_ptr<recorder>> clients;
  std::vector<std::string> sent;
  sent.reserve(count);  // the hooks below hold references into it
  int finished = 0;
  for (int i = 0; i < count; ++i) {
    clients.push_back(std::make_unique<recorder>(*r));
    recorder& c = *clients.back();
    sent.push_back("client " + std::to_string(i) + " " + pattern(1000 + i, i));
    c.on_connect = [&c, &msg = sent.back()](int error) {
      if (error != 0) return;
      c.s.write(msg);
      c.s.shutdown_write();
    };
    c.on_eof = [&] {
      if (++finished == count) r->stop();
    };
    c.s.start_reading();
  }
  for (auto& c : clients) c->s.connect(reinterpret_cast<sockaddr*>(&at), sizeof at);
  ASSERT_TRUE(run(20000));
  EXPECT_EQ(server.connections.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(clients[i]->connects, std::vector<int>{0}) << "client " << i;
    EXPECT_TRUE(clients[i]->received == sent[i]) << "client " << i << " got other bytes";
  }
  std::vector<recorder*> all;
  for (auto& c : clients) all.push_back(c.get());
  close_all(all, &server);
}

TEST_P(reactor_test, writes_in_one_callback_leave_in_one_send) {
  // SOCK_SEQPACKET keeps message boundaries: one sendmsg is one record at the peer.
  auto [ours, peer] = make_socketpair(SOCK_SEQPACKET);
  recorder a(*r, std::move(ours));
  std::size_t queued_inside = 0;
  r->defer([&] {
    a.s.write(std::string_view("ab"));
    a.s.write(std::string_view("cd"));
    a.s.write(std::string_view("ef"));
    queued_inside = a.s.queued_bytes();
    r->defer([&] { r->stop(); });
  });
  ASSERT_TRUE(run());
  run_idle(30);  // let a send still in flight (io_uring) complete
  EXPECT_EQ(queued_inside, 6u);
  EXPECT_EQ(a.s.queued_bytes(), 0u);
  EXPECT_EQ(a.drained, 1);
  char record[64];
  ASSERT_EQ(::recv(peer.get(), record, sizeof record, MSG_DONTWAIT), 6);
  EXPECT_EQ(std::string(record, 6), "abcdef");
  EXPECT_EQ(::recv(peer.get(), record, sizeof record, MSG_DONTWAIT), -1) << "a second record was sent";
  EXPECT_EQ(errno, EAGAIN);
  close_all({&a});
}

TEST_P(reactor_test, pause_stops_delivery_and_resume_restarts_it) {
  auto [ours, peer] = make_socketpair();
  const std::string first = pattern(1000, 1), second = pattern(20000, 2);
  ASSERT_EQ(::write(peer.get(), first.data(), first.size()), static_cast<ssize_t>(first.size()));
  recorder a(*r, std::move(ours));
  std::size_t seen_while_paused = 0;
  timer write_more([&] {
    ASSERT_EQ(::write(peer.get(), second.data(), second.size()), static_cast<ssize_t>(second.size()));
  });
  timer resume([&] {
    seen_while_paused = a.received.size();
    a.s.resume_reading();
  });
  a.on_bytes = [&] {
    if (a.received.size() == first.size()) {
      a.s.pause_reading();
      EXPECT_TRUE(a.s.reading_paused());
      r->arm_timer(write_more, 30);
      r->arm_timer(resume, 100);
    }
    if (a.received.size() == first.size() + second.size()) r->stop();
  };
  a.s.start_reading();
  ASSERT_TRUE(run());
  EXPECT_EQ(seen_while_paused, first.size()) << "bytes were delivered while paused";
  EXPECT_TRUE(a.received == first + second);
  close_all({&a});
}

TEST_P(reactor_test, pausing_on_every_read_keeps_bytes_complete_and_in_order) {
  auto [ours, peer] = make_socketpair();
  const std::string data = pattern(1 << 20, 3);
  std::thread writer([&, fd = peer.get()] {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n > 0) done += static_cast<std::size_t>(n);
      else if (errno == EAGAIN) std::this_thread::yield();
      else break;
    }
    ::shutdown(fd, SHUT_WR);
  });
  recorder a(*r, std::move(ours));
  timer resume_later([&] { a.s.resume_reading(); });
  int reads = 0;
  a.on_bytes = [&] {
    a.s.pause_reading();
    // Alternate: resume within the same iteration (before the pause reached the kernel) and
    // from a timer (after it did).
    if (++reads % 2 == 0) r->defer([&] { a.s.resume_reading(); });
    else r->arm_timer(resume_later, 1);
  };
  a.on_eof = [&] { r->stop(); };
  a.s.start_reading();
  bool finished = run(20000);
  writer.join();
  ASSERT_TRUE(finished);
  EXPECT_EQ(a.received.size(), data.size());
  EXPECT_TRUE(a.received == data) << "bytes lost, duplicated or reordered";
  EXPECT_EQ(a.eofs, 1);
  close_all({&a});
}

TEST_P(reactor_test, peer_eof_is_delivered_once_after_the_bytes) {
  auto [ours, peer] = make_socketpair();
  ASSERT_EQ(::write(peer.get(), "hello", 5), 5);
  ASSERT_EQ(::shutdown(peer.get(), SHUT_WR), 0);
  recorder a(*r, std::move(ours));
  a.s.start_reading();
  run_idle(50);
  EXPECT_EQ(a.received, "hello");
  EXPECT_EQ(a.eofs, 1);
  EXPECT_TRUE(a.errors.empty());
  close_all({&a});
}

TEST_P(reactor_test, shutdown_write_sends_everything_then_fin) {
  auto [x, y] = make_socketpair();
  recorder sender(*r, std::move(x)), receiver(*r, std::move(y));
  const std::string data = pattern(4 << 20, 4);  // far more than the socket buffers hold
  sender.s.write(data);
  sender.s.shutdown_write();
  receiver.on_eof = [&] { r->stop(); };
  receiver.s.start_reading();
  ASSERT_TRUE(run());
  EXPECT_EQ(receiver.received.size(), data.size());
  EXPECT_TRUE(receiver.received == data);
  EXPECT_EQ(receiver.eofs, 1);
  EXPECT_EQ(sender.drained, 1);
  EXPECT_EQ(sender.s.queued_bytes(), 0u);
  EXPECT_TRUE(sender.errors.empty());
  close_all({&sender, &receiver});
}

TEST_P(reactor_test, close_with_operations_in_flight_calls_on_closed_once_later) {
  auto [ours, peer] = make_socketpair();
  recorder a(*r, std::move(ours));
  const std::string data = pattern(4 << 20, 5);  // the peer never reads: a send stays blocked
  a.s.start_reading();
  a.s.write(data);
  int closed_right_after = -1;
  timer close_now([&] {
    a.close();
    closed_right_after = a.closed;
    EXPECT_TRUE(a.s.closing());
  });
  timer stop([&] { r->stop(); });
  r->arm_timer(close_now, 20);
  r->arm_timer(stop, 150);
  ASSERT_TRUE(run());
  EXPECT_EQ(closed_right_after, 0);
  EXPECT_EQ(a.closed, 1);
  EXPECT_TRUE(a.errors.empty());
  // The peer sees a prefix of the bytes, then EOF: the socket was really closed.
  std::string got;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::recv(peer.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n <= 0) {
      EXPECT_EQ(n, 0) << "expected EOF, got " << std::strerror(errno);
      break;
    }
    got.append(buffer, static_cast<std::size_t>(n));
  }
  EXPECT_LT(got.size(), data.size());
  EXPECT_TRUE(got == data.substr(0, got.size()));
}

TEST_P(reactor_test, closing_a_listener_with_accept_armed_closes_its_port) {
  auto [fd, at] = listening_socket();
  echo_server server(*r, std::move(fd));
  int closed_right_after = -1;
  r->defer([&] {
    server.l.close();
    closed_right_after = server.closed;
  });
  run_idle(30);
  EXPECT_EQ(closed_right_after, 0);
  EXPECT_EQ(server.closed, 1);
  unique_fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(probe.get(), reinterpret_cast<sockaddr*>(&at), sizeof at), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST_P(reactor_test, connect_reports_success) {
  auto [fd, at] = listening_socket();  // the kernel completes the handshake; nobody accepts
  recorder c(*r);
  c.on_connect = [&](int) { r->stop(); };
  c.s.connect(reinterpret_cast<sockaddr*>(&at), sizeof at);
  ASSERT_TRUE(run());
  EXPECT_EQ(c.connects, std::vector<int>{0});
  EXPECT_GE(c.s.fd(), 0);
  close_all({&c});
}

TEST_P(reactor_test, connect_to_a_port_nobody_listens_on_is_refused) {
  // Bound but not listening: the port stays ours, and a SYN to it gets a reset.
  unique_fd bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any = loopback(0);
  ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  sockaddr_in at = loopback(port_of(bound.get()));
  recorder c(*r);
  c.on_connect = [&](int) { r->defer([&] { r->stop(); }); };
  c.s.connect(reinterpret_cast<sockaddr*>(&at), sizeof at);
  ASSERT_TRUE(run());
  run_idle(20);
  EXPECT_EQ(c.connects, std::vector<int>{ECONNREFUSED});
  EXPECT_TRUE(c.errors.empty());
  close_all({&c});
}

TEST_P(reactor_test, open_streams_counts_sockets_from_adoption_or_connect_until_they_close) {
  EXPECT_EQ(r->open_streams(), 0u);
  auto [ours, peer] = make_socketpair();
  auto adopted = std::make_unique<recorder>(*r, std::move(ours));
  EXPECT_EQ(r->open_streams(), 1u);
  auto [fd, at] = listening_socket();
  recorder c(*r);
  EXPECT_EQ(r->open_streams(), 1u) << "a stream without a socket yet";
  c.on_connect = [&](int) { r->stop(); };
  c.s.connect(reinterpret_cast<sockaddr*>(&at), sizeof at);
  EXPECT_EQ(r->open_streams(), 2u) << "connect made a socket";
  ASSERT_TRUE(run());
  adopted->close();  // nothing in flight: its descriptor closes now, on_closed comes later
  EXPECT_EQ(adopted->closed, 0);
  EXPECT_EQ(r->open_streams(), 1u);
  run_idle(20);
  EXPECT_EQ(adopted->closed, 1);
  EXPECT_EQ(r->open_streams(), 1u);
  close_all({&c});
  EXPECT_EQ(r->open_streams(), 0u);
  {
    auto [never, other] = make_socketpair();
    recorder unopened(*r, std::move(never));  // freed without ever being used
    EXPECT_EQ(r->open_streams(), 1u);
  }
  EXPECT_EQ(r->open_streams(), 0u);
}

TEST_P(reactor_test, timers_fire_through_the_loop_in_deadline_order) {
  const std::uint64_t start = r->now_ms();
  std::vector<std::pair<int, std::uint64_t>> fired;  // (delay, elapsed)
  int repeats = 0;
  timer t0([&] { fired.emplace_back(0, r->now_ms() - start); });
  timer t20([&] { fired.emplace_back(20, r->now_ms() - start); });
  timer t60([&] {
    fired.emplace_back(60, r->now_ms() - start);
    r->stop();
  });
  timer again([&] {
    if (++repeats < 3) r->arm_timer(again, 5);
  });
  r->arm_timer(t60, 60);
  r->arm_timer(t20, 20);
  r->arm_timer(t0, 0);
  r->arm_timer(again, 5);
  ASSERT_TRUE(run());
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0].first, 0);
  EXPECT_EQ(fired[1].first, 20);
  EXPECT_EQ(fired[2].first, 60);
  for (auto [delay, elapsed] : fired) EXPECT_GE(elapsed, static_cast<std::uint64_t>(delay)) << "fired early";
  EXPECT_EQ(repeats, 3);
}

TEST_P(reactor_test, defer_runs_after_the_callback_in_order_on_the_loop_thread) {
  std::vector<std::string> order;
  const auto loop_thread = std::this_thread::get_id();
  timer t([&] {
    r->defer([&] {
      order.push_back("a");
      EXPECT_EQ(std::this_thread::get_id(), loop_thread);
      r->defer([&] {
        order.push_back("c");
        r->stop();
      });
    });
    r->defer([&] { order.push_back("b"); });
    order.push_back("callback");
  });
  r->arm_timer(t, 0);
  ASSERT_TRUE(run());
  EXPECT_EQ(order, (std::vector<std::string>{"callback", "a", "b", "c"}));
}

INSTANTIATE_TEST_SUITE_P(backends, reactor_test, test::both_backend_kinds(), test::backend_name);

}  // namespace
}  // namespace postern::core
