// Datagram tests: the send queue on its own, then datagram sockets on both back ends
// (io_uring, then epoll, through the both_backends fixture with its loop deadlines and
// watchdog): UDP over 127.0.0.x, unicast and multicast, and AF_UNIX datagram sockets where a
// send must wait for room.
#include "core/datagram.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/both_backends.h"

namespace postern::core {
namespace {

std::span<const std::byte> as_bytes(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// The error of a result, or fallback when it holds a value (g++ 12 has no expected::error_or).
template <typename T, typename E>
E error_of(const std::expected<T, E>& result, E fallback) {
  return result ? fallback : result.error();
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) % 256);
  return out;
}

sockaddr_in ipv4(const char* ip, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  EXPECT_EQ(::inet_pton(AF_INET, ip, &addr.sin_addr), 1) << ip;
  return addr;
}

// "a.b.c.d:port", or a description of what else the address is.
std::string to_text(const sockaddr_storage& addr, socklen_t len) {
  if (addr.ss_family != AF_INET) return "family " + std::to_string(addr.ss_family);
  if (len != sizeof(sockaddr_in)) return "length " + std::to_string(len);
  const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
  char ip[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(in.sin_port));
}

std::string to_text(const sockaddr_in& addr) {
  sockaddr_storage storage{};
  std::memcpy(&storage, &addr, sizeof addr);
  return to_text(storage, sizeof addr);
}

sockaddr_in local_address(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return addr;
}

// ---------------------------------------------------------------------------------------------
// datagram_queue

TEST(datagram_queue, keeps_bytes_and_addresses_in_order) {
  datagram_queue q(4, 100);
  const sockaddr_in a = ipv4("127.0.0.1", 1000), b = ipv4("127.0.0.2", 2000);
  ASSERT_TRUE(q.push(as_bytes("first"), reinterpret_cast<const sockaddr*>(&a), sizeof a));
  ASSERT_TRUE(q.push(as_bytes(""), reinterpret_cast<const sockaddr*>(&b), sizeof b));
  ASSERT_TRUE(q.push(as_bytes("third"), reinterpret_cast<const sockaddr*>(&b), sizeof b));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.bytes(), 10u);
  const auto text = [](const datagram_queue::entry& e) {
    return std::string(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size());
  };
  EXPECT_EQ(text(q.at(0)), "first");
  EXPECT_EQ(text(q.at(1)), "");
  EXPECT_EQ(text(q.at(2)), "third");
  EXPECT_EQ(q.at(0).to_len, sizeof a);
  EXPECT_EQ(to_text(*reinterpret_cast<const sockaddr_in*>(q.at(0).to)), "127.0.0.1:1000");
  EXPECT_EQ(to_text(*reinterpret_cast<const sockaddr_in*>(q.at(2).to)), "127.0.0.2:2000");
  q.pop_front();
  EXPECT_EQ(text(q.at(0)), "");
  EXPECT_EQ(q.bytes(), 5u);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(datagram_queue, refuses_at_either_limit_and_changes_nothing) {
  const sockaddr_in a = ipv4("127.0.0.1", 1);
  const auto* to = reinterpret_cast<const sockaddr*>(&a);
  datagram_queue by_count(2, 1000);
  EXPECT_TRUE(by_count.push(as_bytes("x"), to, sizeof a));
  EXPECT_TRUE(by_count.push(as_bytes("y"), to, sizeof a));
  EXPECT_FALSE(by_count.push(as_bytes("z"), to, sizeof a));
  EXPECT_EQ(by_count.size(), 2u);
  datagram_queue by_bytes(10, 10);
  EXPECT_FALSE(by_bytes.push(as_bytes("eleven byte"), to, sizeof a));
  EXPECT_TRUE(by_bytes.push(as_bytes("123456"), to, sizeof a));
  EXPECT_FALSE(by_bytes.push(as_bytes("12345"), to, sizeof a));
  EXPECT_TRUE(by_bytes.push(as_bytes("1234"), to, sizeof a));
  EXPECT_EQ(by_bytes.size(), 2u);
  EXPECT_EQ(by_bytes.bytes(), 10u);
  // Freed space at the front is used once the back is full: "ab" wraps to offset 0.
  by_bytes.pop_front();
  EXPECT_TRUE(by_bytes.push(as_bytes("ab"), to, sizeof a));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(by_bytes.at(1).bytes.data()), 2), "ab");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(by_bytes.at(0).bytes.data()), 4), "1234");
}

// Random pushes and pops against a model: every queued datagram keeps its bytes, address and
// slot number; a push is refused only when a limit leaves no room.
TEST(datagram_queue, matches_a_model_through_many_wraps) {
  constexpr std::uint32_t max_datagrams = 16, max_bytes = 4096;
  datagram_queue q(max_datagrams, max_bytes);
  struct model_entry {
    std::string bytes;
    std::uint16_t port;
    std::uint32_t slot;
  };
  std::deque<model_entry> model;
  std::mt19937 random(12345);
  std::size_t pushed = 0, refused = 0;
  for (int step = 0; step < 50000; ++step) {
    if (random() % 100 < 55) {
      const std::size_t size = random() % 5 == 0 ? 0 : 1 + random() % 1500;
      const std::string bytes = pattern(size, static_cast<unsigned>(step));
      const sockaddr_in to = ipv4("127.0.0.1", static_cast<std::uint16_t>(step));
      std::size_t live = 0;
      for (const auto& e : model) live += e.bytes.size();
      if (q.push(as_bytes(bytes), reinterpret_cast<const sockaddr*>(&to), sizeof to)) {
        model.push_back({bytes, static_cast<std::uint16_t>(step), q.at(q.size() - 1).slot});
        ++pushed;
      } else {
        // Refused only for the count, or for bytes: free space is at most max - live, and
        // wrapping may waste less than one datagram's worth of it.
        ASSERT_TRUE(model.size() == max_datagrams || live + size > max_bytes - 1500) << "step " << step;
        ++refused;
      }
    } else if (!model.empty()) {
      q.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
    std::set<std::uint32_t> slots;
    std::size_t live = 0;
    for (std::size_t i = 0; i < model.size(); ++i) {
      const datagram_queue::entry e = q.at(i);
      ASSERT_EQ(std::string(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size()), model[i].bytes)
          << "step " << step << " entry " << i;
      ASSERT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(e.to)->sin_port), model[i].port);
      ASSERT_EQ(e.slot, model[i].slot);
      ASSERT_LT(e.slot, max_datagrams);
      slots.insert(e.slot);
      live += model[i].bytes.size();
    }
    ASSERT_EQ(slots.size(), model.size()) << "two queued datagrams share a slot";
    ASSERT_EQ(q.bytes(), live);
  }
  EXPECT_GT(pushed, 20000u);
  EXPECT_GT(refused, 100u);  // the limits were really reached
}

// ---------------------------------------------------------------------------------------------
// datagram_socket on both back ends

// A socket owner that records every event; hooks let a test act on them.
struct peer final : datagram_handler {
  peer(reactor& r, unique_fd fd, const datagram_options& options = {}) : d(r, std::move(fd), *this, options) {}

  void on_datagram(std::span<const std::byte> bytes, const sockaddr_storage& from, socklen_t from_len) override {
    EXPECT_EQ(closed, 0) << "a datagram after on_closed";
    received.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    senders.push_back(to_text(from, from_len));
    last_from = from;
    last_from_len = from_len;
    if (on_receive) on_receive();
  }
  void on_datagram_error(int error) override { errors.push_back(error); }
  void on_closed() override {
    EXPECT_FALSE(inside_close) << "on_closed called from inside close()";
    ++closed;
  }
  void close() {
    inside_close = true;
    d.close();
    inside_close = false;
  }
  std::expected<void, send_error> send(std::string_view bytes, const sockaddr_in& to) {
    return d.send_to(as_bytes(bytes), reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
  sockaddr_in address() const { return local_address(d.fd()); }

  std::vector<std::string> received, senders;
  sockaddr_storage last_from{};
  socklen_t last_from_len = 0;
  std::vector<int> errors;
  int closed = 0;
  bool inside_close = false;
  std::function<void()> on_receive;
  datagram_socket d;
};

class datagram_test : public test::both_backends_test {
 protected:
  datagram_test() : both_backends_test(5000) {}

  // Closes every peer a test left open, also after a failed assertion, and checks that each
  // peer saw on_closed exactly once.
  void TearDown() override {
    if (!r) return;
    for (auto& p : _peers) {
      p->on_receive = nullptr;  // it may refer to the test's locals, gone by now
      if (!p->d.closing()) p->close();
    }
    EXPECT_TRUE(run_until([&] {
      for (auto& p : _peers)
        if (p->closed == 0) return false;
      return true;
    }));
    run_idle(10);
    for (auto& p : _peers) EXPECT_EQ(p->closed, 1);
    _peers.clear();
  }

  // A socket bound to ip:port (port 0: any), receiving; the fixture owns it and closes it at
  // the end of the test.
  peer* open_peer(const char* ip, std::uint16_t port = 0, bool reuse_port = false,
                  const datagram_options& options = {}) {
    const sockaddr_in at = ipv4(ip, port);
    auto fd = open_udp_socket(reinterpret_cast<const sockaddr*>(&at), sizeof at, reuse_port);
    EXPECT_TRUE(fd.has_value()) << std::strerror(error_of(fd, 0));
    if (!fd) return nullptr;
    peer* p = adopt(std::move(*fd), options);
    p->d.start();
    return p;
  }

  peer* adopt(unique_fd fd, const datagram_options& options = {}) {
    _peers.push_back(std::make_unique<peer>(*r, std::move(fd), options));
    return _peers.back().get();
  }

  // A receiver (not started) and a sender whose queue holds `queued` datagrams, over AF_UNIX
  // datagram sockets bound to fresh abstract names. Sends to a receiver whose queue holds
  // max_dgram_qlen datagrams are refused for now (EAGAIN), which UDP on loopback never does:
  // the way to test a send that has to wait. The sender is connected to the receiver, because
  // only then does poll() say it is writable exactly when the receiver has room again, as it
  // does for UDP.
  struct unix_link {
    peer* sender;
    peer* receiver;
    sockaddr_un to;
    socklen_t to_len;
    std::expected<void, send_error> send(std::string_view bytes) const {
      return sender->d.send_to(as_bytes(bytes), reinterpret_cast<const sockaddr*>(&to), to_len);
    }
  };
  unix_link unix_datagram_link(std::uint32_t queued) {
    unix_link link{};
    unique_fd fds[2];
    sockaddr_un names[2];
    socklen_t name_len = 0;
    for (int i = 0; i < 2; ++i) {
      static int counter = 0;
      fds[i].reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      EXPECT_TRUE(fds[i]) << std::strerror(errno);
      names[i] = sockaddr_un{.sun_family = AF_UNIX, .sun_path = {}};
      const std::string path = "postern-datagram-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
      std::memcpy(names[i].sun_path + 1, path.data(), path.size());  // sun_path[0] == 0: abstract
      name_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + path.size());
      EXPECT_EQ(::bind(fds[i].get(), reinterpret_cast<const sockaddr*>(&names[i]), name_len), 0)
          << std::strerror(errno);
    }
    EXPECT_EQ(::connect(fds[0].get(), reinterpret_cast<const sockaddr*>(&names[1]), name_len), 0)
        << std::strerror(errno);
    link.sender = adopt(std::move(fds[0]), {.max_queued_datagrams = queued, .max_queued_bytes = 65536});
    link.receiver = adopt(std::move(fds[1]));
    link.to = names[1];
    link.to_len = name_len;
    return link;
  }

  std::vector<std::unique_ptr<peer>> _peers;  // destroyed before the reactor (a base member)
};

TEST_P(datagram_test, two_sockets_exchange_exact_bytes_and_sender_addresses) {
  auto a = open_peer("127.0.0.1"), b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  const std::string largest = pattern(datagram_socket::max_datagram_bytes, 1);
  // b answers every datagram to the address it came from.
  b->on_receive = [&] {
    const std::string reply = "re: " + b->received.back().substr(0, 8);
    EXPECT_TRUE(b->d.send_to(as_bytes(reply), reinterpret_cast<const sockaddr*>(&b->last_from), b->last_from_len));
  };
  ASSERT_TRUE(a->send("ping", b->address()).has_value());
  ASSERT_TRUE(a->send("", b->address()).has_value());
  ASSERT_TRUE(a->send(largest, b->address()).has_value());
  EXPECT_EQ(a->d.queued(), 3u);
  ASSERT_TRUE(run_until([&] { return a->received.size() == 3; }));
  run_idle(20);
  ASSERT_EQ(b->received.size(), 3u);
  EXPECT_EQ(b->received[0], "ping");
  EXPECT_EQ(b->received[1], "");
  EXPECT_TRUE(b->received[2] == largest) << "the 65507-byte datagram differs";
  const std::vector<std::string> from_a(3, to_text(a->address()));
  EXPECT_EQ(b->senders, from_a);
  EXPECT_EQ(a->received, (std::vector<std::string>{"re: ping", "re: ", "re: " + largest.substr(0, 8)}));
  EXPECT_EQ(a->senders, std::vector<std::string>(3, to_text(b->address())));
  EXPECT_EQ(a->d.counters().sent, 3u);
  EXPECT_EQ(a->d.counters().received, 3u);
  EXPECT_EQ(b->d.counters().received, 3u);
  EXPECT_EQ(b->d.counters().sent, 3u);
  EXPECT_EQ(a->d.queued(), 0u);
  EXPECT_TRUE(a->errors.empty());
  EXPECT_TRUE(b->errors.empty());
}

TEST_P(datagram_test, send_to_refuses_what_it_cannot_send) {
  auto a = open_peer("127.0.0.1");
  ASSERT_TRUE(a);
  const sockaddr_in to = ipv4("127.0.0.1", 9);
  const std::string too_large(datagram_socket::max_datagram_bytes + 1, 'x');
  EXPECT_EQ(error_of(a->send(too_large, to), send_error::closed), send_error::too_large);
  EXPECT_EQ(error_of(a->d.send_to(as_bytes("x"), reinterpret_cast<const sockaddr*>(&to), 0), send_error::closed),
            send_error::bad_address);
  EXPECT_EQ(error_of(a->d.send_to(as_bytes("x"), nullptr, sizeof to), send_error::closed), send_error::bad_address);
  EXPECT_EQ(a->d.queued(), 0u);
  a->close();
  EXPECT_EQ(error_of(a->send("x", to), send_error::queue_full), send_error::closed);
  EXPECT_EQ(a->d.counters().dropped, 0u);
  ASSERT_TRUE(run_until([&] { return a->closed != 0; }));
  EXPECT_EQ(to_string(send_error::queue_full), "queue full");
}

TEST_P(datagram_test, many_datagrams_queued_in_one_iteration_arrive_complete_and_in_order) {
  auto a = open_peer("127.0.0.1"), b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  constexpr std::size_t count = 64;  // the default queue limit
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < count; ++i)
    sent.push_back(std::to_string(i) + ":" + pattern(i * 9, static_cast<unsigned>(i)));
  std::size_t queued_at_end = 0;
  r->defer([&] {
    for (const std::string& s : sent) EXPECT_TRUE(a->send(s, b->address()).has_value());
    queued_at_end = a->d.queued();
  });
  ASSERT_TRUE(run_until([&] { return b->received.size() == count; }));
  run_idle(20);
  EXPECT_EQ(queued_at_end, count);
  EXPECT_EQ(b->received, sent);
  EXPECT_EQ(a->d.counters().sent, count);
  EXPECT_EQ(a->d.counters().dropped, 0u);
  EXPECT_EQ(a->d.queued(), 0u);
}

TEST_P(datagram_test, a_full_queue_drops_and_counts_without_blocking) {
  auto a = open_peer("127.0.0.1", 0, false, datagram_options{.max_queued_datagrams = 8, .max_queued_bytes = 4096});
  auto b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  std::vector<bool> accepted;
  r->defer([&] {
    for (int i = 0; i < 20; ++i) accepted.push_back(a->send("n" + std::to_string(i), b->address()).has_value());
  });
  ASSERT_TRUE(run_until([&] { return b->received.size() == 8; }));
  run_idle(30);
  std::vector<bool> expected(20, false);
  std::fill_n(expected.begin(), 8, true);
  EXPECT_EQ(accepted, expected);
  EXPECT_EQ(b->received, (std::vector<std::string>{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}));
  EXPECT_EQ(a->d.counters().dropped, 12u);
  EXPECT_EQ(a->d.counters().sent, 8u);
  // The queue has room again once its datagrams have left.
  ASSERT_TRUE(a->send("again", b->address()).has_value());
  ASSERT_TRUE(run_until([&] { return b->received.size() == 9; }));
  EXPECT_EQ(b->received.back(), "again");
}

TEST_P(datagram_test, a_failed_send_is_reported_and_the_rest_still_leave) {
  auto a = open_peer("127.0.0.1"), b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  sockaddr_in6 v6{};  // an IPv6 destination for an IPv4 socket
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(9);
  v6.sin6_addr = in6addr_loopback;
  ASSERT_TRUE(a->send("before", b->address()).has_value());
  ASSERT_TRUE(a->d.send_to(as_bytes("lost"), reinterpret_cast<const sockaddr*>(&v6), sizeof v6).has_value());
  ASSERT_TRUE(a->send("after", b->address()).has_value());
  ASSERT_TRUE(run_until([&] { return b->received.size() == 2 && a->errors.size() == 1; }));
  run_idle(20);
  EXPECT_EQ(b->received, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(a->errors, std::vector<int>{EAFNOSUPPORT});
  EXPECT_EQ(a->d.counters().send_errors, 1u);
  EXPECT_EQ(a->d.counters().sent, 2u);
}

TEST_P(datagram_test, close_with_a_receive_in_flight_calls_on_closed_once_later_and_frees_the_port) {
  auto a = open_peer("127.0.0.1");
  ASSERT_TRUE(a);
  const sockaddr_in at = a->address();
  int closed_right_after = -1;
  timer close_now([&] {  // by now the receive has reached the kernel and waits there
    a->close();
    closed_right_after = a->closed;
  });
  r->arm_timer(close_now, 20);
  ASSERT_TRUE(run_until([&] { return a->closed != 0; }));
  run_idle(30);
  EXPECT_EQ(closed_right_after, 0);
  EXPECT_EQ(a->closed, 1);
  EXPECT_TRUE(a->errors.empty());
  // The socket is really closed: its port can be bound again without SO_REUSEPORT.
  auto again = open_udp_socket(reinterpret_cast<const sockaddr*>(&at), sizeof at, false);
  EXPECT_TRUE(again.has_value()) << std::strerror(error_of(again, 0));
}

TEST_P(datagram_test, close_while_sends_are_in_flight_loses_only_a_tail) {
  auto a = open_peer("127.0.0.1"), b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  std::vector<std::string> sent;
  for (int i = 0; i < 32; ++i) sent.push_back("d" + std::to_string(i));
  int closed_right_after = -1;
  r->defer([&] {
    for (const std::string& s : sent) EXPECT_TRUE(a->send(s, b->address()).has_value());
    // Runs in the next pass of this iteration, after the flush has handed the queue to the
    // back end (io_uring: the sendmsg chain is prepared and goes out with the cancel).
    r->defer([&] {
      a->close();
      closed_right_after = a->closed;
    });
  });
  ASSERT_TRUE(run_until([&] { return a->closed != 0; }));
  run_idle(30);
  EXPECT_EQ(closed_right_after, 0);
  EXPECT_EQ(a->closed, 1);
  EXPECT_TRUE(a->errors.empty()) << "a cancelled send was reported as an error";
  // What arrived is a prefix of what was sent, in order.
  ASSERT_LE(b->received.size(), sent.size());
  EXPECT_EQ(b->received, std::vector<std::string>(sent.begin(), sent.begin() + static_cast<long>(b->received.size())));
}

TEST_P(datagram_test, close_from_on_datagram_stops_delivery) {
  auto a = open_peer("127.0.0.1"), b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  b->on_receive = [&] { b->close(); };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->send("x" + std::to_string(i), b->address()).has_value());
  ASSERT_TRUE(run_until([&] { return b->closed != 0; }));
  run_idle(30);
  EXPECT_EQ(b->received, std::vector<std::string>{"x0"});
  EXPECT_EQ(b->closed, 1);
}

TEST_P(datagram_test, close_drops_datagrams_still_queued) {
  auto a = open_peer("127.0.0.1"), b = open_peer("127.0.0.1");
  ASSERT_TRUE(a && b);
  r->defer([&] {
    ASSERT_TRUE(a->send("never", b->address()).has_value());
    a->close();
  });
  ASSERT_TRUE(run_until([&] { return a->closed != 0; }));
  run_idle(30);
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(a->d.counters().sent, 0u);
  EXPECT_EQ(a->d.queued(), 0u);
}

// max_dgram_qlen: how many datagrams an AF_UNIX receiver queues before senders must wait.
int unix_queue_length() {
  int length = 0;
  std::ifstream("/proc/sys/net/unix/max_dgram_qlen") >> length;
  return length > 0 ? length : 10;
}

TEST_P(datagram_test, sends_the_kernel_refuses_for_now_wait_and_keep_their_order) {
  const auto count = static_cast<std::uint32_t>(unix_queue_length() + 20);
  const unix_link link = unix_datagram_link(count);
  peer &a = *link.sender, &b = *link.receiver;
  std::vector<std::string> sent;
  for (std::uint32_t i = 0; i < count; ++i) sent.push_back("u" + std::to_string(i));
  r->defer([&] {
    for (const std::string& s : sent) EXPECT_TRUE(link.send(s).has_value());
  });
  run_idle(50);
  EXPECT_GT(a.d.queued(), 0u) << "the receiver's queue never filled up";
  EXPECT_LT(a.d.counters().sent, count);
  EXPECT_TRUE(a.errors.empty());
  b.d.start();
  ASSERT_TRUE(run_until([&] { return b.received.size() == count; }));
  run_idle(20);
  EXPECT_EQ(b.received, sent);
  EXPECT_EQ(a.d.counters().sent, count);
  EXPECT_EQ(a.d.queued(), 0u);
  EXPECT_TRUE(a.errors.empty());
}

TEST_P(datagram_test, close_while_a_send_waits_for_room_calls_on_closed_once_later) {
  const auto count = static_cast<std::uint32_t>(unix_queue_length() + 20);
  const unix_link link = unix_datagram_link(count);
  peer &a = *link.sender, &b = *link.receiver;  // b does not read before a is closed
  a.d.start();
  for (std::uint32_t i = 0; i < count; ++i) ASSERT_TRUE(link.send("w" + std::to_string(i)).has_value());
  run_idle(50);
  ASSERT_GT(a.d.queued(), 0u) << "no send is waiting";
  a.close();
  EXPECT_EQ(a.closed, 0);
  ASSERT_TRUE(run_until([&] { return a.closed != 0; }));
  run_idle(20);
  EXPECT_EQ(a.closed, 1);
  EXPECT_TRUE(a.errors.empty()) << "a cancelled send was reported as an error";
  // What reached b is a prefix of what was queued, in order.
  b.d.start();
  run_idle(50);
  ASSERT_GE(b.received.size(), 1u);
  ASSERT_LE(b.received.size(), count);
  for (std::size_t i = 0; i < b.received.size(); ++i) EXPECT_EQ(b.received[i], "w" + std::to_string(i));
}

// Members of one multicast group on 127.0.0.1 and 127.0.0.2, bound to 0.0.0.0:port with
// SO_REUSEPORT, hear each other (themselves included), with the sender's own address; a member
// of another group on the same port hears none of it.
TEST_P(datagram_test, multicast_members_on_loopback_addresses_hear_each_other) {
  auto m1 = open_peer("0.0.0.0", 0, true);
  ASSERT_TRUE(m1);
  const std::uint16_t port = ntohs(m1->address().sin_port);
  auto m2 = open_peer("0.0.0.0", port, true), other = open_peer("0.0.0.0", port, true);
  ASSERT_TRUE(m2 && other);
  const sockaddr_in group = ipv4("239.255.77.1", port), other_group = ipv4("239.255.77.2", port);
  const sockaddr_in if1 = ipv4("127.0.0.1", 0), if2 = ipv4("127.0.0.2", 0), if3 = ipv4("127.0.0.3", 0);
  for (auto [p, g, i] : {std::tuple{m1, group, if1}, {m2, group, if2}, {other, other_group, if3}}) {
    auto joined = join_multicast(p->d.fd(), g.sin_addr, i.sin_addr);
    if (!joined) {
      GTEST_SKIP() << "the kernel refuses multicast membership on lo (" << to_text(i) << "): "
                   << std::strerror(joined.error());
    }
  }
  int value = -1;
  socklen_t len = sizeof value;
  ASSERT_EQ(::getsockopt(m1->d.fd(), IPPROTO_IP, IP_MULTICAST_TTL, &value, &len), 0);
  EXPECT_EQ(value, 1);
  ASSERT_EQ(::getsockopt(m1->d.fd(), IPPROTO_IP, IP_MULTICAST_LOOP, &value, &len), 0);
  EXPECT_EQ(value, 1);
  ASSERT_EQ(::getsockopt(m1->d.fd(), IPPROTO_IP, IP_MULTICAST_ALL, &value, &len), 0);
  EXPECT_EQ(value, 0);
  in_addr interface{};
  len = sizeof interface;
  ASSERT_EQ(::getsockopt(m2->d.fd(), IPPROTO_IP, IP_MULTICAST_IF, &interface, &len), 0);
  EXPECT_EQ(interface.s_addr, if2.sin_addr.s_addr);

  // m2 speaks first; m1 answers when it hears it; then the other group's member speaks.
  m1->on_receive = [&] {
    if (m1->received.size() == 1) {
      EXPECT_TRUE(m1->send("from one", group).has_value());
    }
  };
  ASSERT_TRUE(m2->send("from two", group).has_value());
  timer other_speaks([&] { EXPECT_TRUE(other->send("elsewhere", other_group).has_value()); });
  r->arm_timer(other_speaks, 20);
  const bool done = run_until([&] {
    return (m1->received.size() == 2 && m2->received.size() == 2 && other->received.size() == 1) ||
           !m1->errors.empty() || !m2->errors.empty() || !other->errors.empty();
  });
  for (peer* p : {m1, m2, other}) {
    const bool refused = !p->errors.empty() && (p->errors[0] == ENETUNREACH || p->errors[0] == ENODEV ||
                                                p->errors[0] == EADDRNOTAVAIL);
    if (refused) {
      GTEST_SKIP() << "the kernel refuses to send multicast on lo: " << std::strerror(p->errors[0]);
    }
  }
  ASSERT_TRUE(done);
  run_idle(30);
  const std::string one = "127.0.0.1:" + std::to_string(port), two = "127.0.0.2:" + std::to_string(port);
  for (peer* p : {m1, m2}) {
    EXPECT_EQ(p->received, (std::vector<std::string>{"from two", "from one"}));
    EXPECT_EQ(p->senders, (std::vector<std::string>{two, one}));
    EXPECT_TRUE(p->errors.empty());
  }
  EXPECT_EQ(other->received, std::vector<std::string>{"elsewhere"});
  EXPECT_EQ(other->senders, std::vector<std::string>{"127.0.0.3:" + std::to_string(port)});
}

INSTANTIATE_TEST_SUITE_P(backends, datagram_test, test::both_backend_kinds(), test::backend_name);

}  // namespace
}  // namespace postern::core
