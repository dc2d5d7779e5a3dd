// tcp_transport and tls_transport tests over loopback TCP, on both reactor back ends (io_uring,
// then epoll) through the both_backends fixture, with its loop deadlines (10 s by default
// here) and watchdog.
#include "net/tls_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/tcp_transport.h"
#include "tests/unit/both_backends.h"
#include "tests/unit/test_pki.h"

namespace postern::net {
namespace {

using test::test_pki_file;

std::string pattern(std::size_t size, unsigned seed = 0) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) % 256);
  return out;
}

socket_address loopback(std::uint16_t port) {
  socket_address out;
  auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  out.length = sizeof(sockaddr_in);
  return out;
}

// One end of a connection: its transport and everything it reported. Options make it echo,
// pause after its first bytes, or close on errors.
struct peer final : transport_handler {
  void on_transport_ready() override {
    ++ready;
    if (on_ready) on_ready();
  }
  void on_transport_data(std::span<std::byte> bytes) override {
    EXPECT_EQ(eofs, 0) << "data after EOF";
    received.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (echo) t->write(std::span<const std::byte>(bytes));
    if (pause_after_first_bytes) {
      pause_after_first_bytes = false;
      t->pause_reading();
    }
    if (on_data) on_data();
  }
  void on_transport_eof() override {
    ++eofs;
    bytes_at_eof = received.size();
    if (echo) t->shutdown_write();
    if (on_eof) on_eof();
  }
  void on_transport_error(int error, std::string_view what) override {
    errors.push_back(error);
    messages.emplace_back(what);
    t->close();
    if (on_error) on_error();
  }
  void on_transport_drained() override { ++drained; }
  void on_transport_closed() override { ++closed; }

  std::unique_ptr<transport> t;
  bool echo = false, pause_after_first_bytes = false;
  std::string received;
  std::size_t bytes_at_eof = 0;
  int ready = 0, eofs = 0, drained = 0, closed = 0;
  std::vector<int> errors;
  std::vector<std::string> messages;
  std::function<void()> on_ready, on_data, on_eof, on_error;
};

// Accepts connections as TLS (when given a context) or TCP peers; or, `silent`, keeps the
// sockets and never answers.
struct server final : core::listener_handler {
  server(core::reactor& r, core::unique_fd fd, const tls_context* tls, bool echo, bool silent = false)
      : r(r), tls(tls), echo(echo), silent(silent), l(r, std::move(fd), *this) {
    l.start();
  }
  void on_accept(core::unique_fd fd) override {
    if (silent) {
      held.push_back(std::move(fd));
      return;
    }
    auto& p = peers.emplace_back(std::make_unique<peer>());
    p->echo = echo;
    p->pause_after_first_bytes = pause_first;
    p->t = tls ? make_tls_transport(r, std::move(fd), *tls, "", *p) : make_tcp_transport(r, std::move(fd), *p);
    p->t->start();
    if (pause_at_start) p->t->pause_reading();
  }
  void on_accept_error(int error) override { ADD_FAILURE() << "accept failed: " << std::strerror(error); }
  void on_closed() override { ++closed; }

  core::reactor& r;
  const tls_context* tls;
  bool echo, silent, pause_first = false, pause_at_start = false;
  std::vector<std::unique_ptr<peer>> peers;
  std::vector<core::unique_fd> held;
  int closed = 0;
  core::listener l;
};

class transport_test : public test::both_backends_test {
 protected:
  transport_test() : both_backends_test(10000) {}

  void SetUp() override {
    both_backends_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    tls_settings s;
    s.side = tls_settings::side_kind::server;
    s.identity_file = test_pki_file("server.pem");
    server_tls = std::make_unique<tls_context>(tls_context::make(s));
    tls_settings c;
    c.side = tls_settings::side_kind::client;
    c.trust_file = test_pki_file("ca.pem");
    client_tls = std::make_unique<tls_context>(tls_context::make(c));
  }

  std::unique_ptr<server> listen(const tls_context* tls, bool echo, bool silent = false) {
    socket_address any = loopback(0);
    auto fd = core::open_listen_socket(any.get(), any.length, false);
    EXPECT_TRUE(fd.has_value());
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    EXPECT_EQ(::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&bound), &len), 0);
    at = loopback(ntohs(bound.sin_port));
    return std::make_unique<server>(*r, std::move(*fd), tls, echo, silent);
  }

  std::unique_ptr<peer> tls_client(std::string name = "localhost", std::uint64_t timeout_ms = 10000) {
    auto p = std::make_unique<peer>();
    p->t = make_tls_transport(*r, {}, *client_tls, std::move(name), *p, timeout_ms);
    return p;
  }
  std::unique_ptr<peer> tcp_client() {
    auto p = std::make_unique<peer>();
    p->t = make_tcp_transport(*r, {}, *p);
    return p;
  }

  // Closes every transport and the listener, and runs until every on_closed has come.
  void close_all(std::vector<peer*> clients, server* s) {
    for (peer* c : clients) c->t->close();
    if (s) {
      for (auto& p : s->peers) p->t->close();
      s->l.close();
    }
    EXPECT_TRUE(run_until([&] {
      for (peer* c : clients)
        if (c->closed != 1) return false;
      if (!s) return true;
      for (auto& p : s->peers)
        if (p->closed != 1) return false;
      return s->closed == 1;
    }));
  }

  std::unique_ptr<tls_context> server_tls, client_tls;
  socket_address at;
};

TEST_P(transport_test, tls_echo_of_one_mebibyte_is_byte_identical) {
  auto s = listen(server_tls.get(), true);
  auto client = tls_client();
  const std::string data = pattern(1 << 20);
  client->on_ready = [&] {
    client->t->write(data);
    client->t->shutdown_write();
  };
  client->on_eof = [&] { r->stop(); };
  client->t->connect(at);
  ASSERT_TRUE(run());
  EXPECT_TRUE(client->t->secure());
  EXPECT_GE(client->t->fd(), 0);
  EXPECT_EQ(client->ready, 1);
  EXPECT_EQ(client->received.size(), data.size());
  EXPECT_TRUE(client->received == data) << "echoed bytes differ";
  EXPECT_EQ(client->eofs, 1);
  EXPECT_TRUE(client->messages.empty()) << client->messages.front();
  ASSERT_EQ(s->peers.size(), 1u);
  EXPECT_EQ(s->peers[0]->ready, 1);
  EXPECT_EQ(s->peers[0]->eofs, 1);
  EXPECT_EQ(s->peers[0]->bytes_at_eof, data.size());
  EXPECT_TRUE(s->peers[0]->messages.empty());
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tls_bytes_written_before_the_handshake_wait_and_count_as_queued) {
  auto s = listen(server_tls.get(), true);
  auto client = tls_client();
  const std::string data = "written before the handshake " + pattern(100000);
  client->on_eof = [&] { r->stop(); };
  client->t->connect(at);
  client->t->write(data);
  client->t->shutdown_write();
  EXPECT_EQ(client->t->queued_bytes(), data.size());
  client->t->write("after shutdown_write: dropped");
  ASSERT_TRUE(run());
  EXPECT_EQ(client->ready, 1);
  EXPECT_TRUE(client->received == data) << "got " << client->received.size() << " of " << data.size() << " bytes";
  EXPECT_EQ(client->t->queued_bytes(), 0u);
  EXPECT_GE(client->drained, 1);
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tls_shutdown_write_gives_the_peer_eof_after_all_bytes) {
  auto s = listen(server_tls.get(), false);
  auto client = tls_client();
  const std::string data = pattern(300000, 3);
  client->on_ready = [&] {
    client->t->write(data);
    client->t->shutdown_write();
  };
  client->t->connect(at);
  ASSERT_TRUE(run_until([&] { return !s->peers.empty() && s->peers[0]->eofs > 0; }));
  peer& far = *s->peers[0];
  EXPECT_EQ(far.eofs, 1);
  EXPECT_EQ(far.bytes_at_eof, data.size());
  EXPECT_TRUE(far.received == data);
  // The other direction stays open: the server answers after the client's close_notify.
  far.t->write("reply after EOF");
  far.t->shutdown_write();
  ASSERT_TRUE(run_until([&] { return client->eofs > 0; }));
  EXPECT_EQ(client->received, "reply after EOF");
  EXPECT_EQ(client->bytes_at_eof, 15u);
  EXPECT_TRUE(client->messages.empty());
  EXPECT_TRUE(far.messages.empty());
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tls_handshake_times_out_against_a_silent_server) {
  auto s = listen(nullptr, false, true);
  auto client = tls_client("localhost", 300);
  client->on_error = [&] { r->stop(); };
  client->t->connect(at);
  ASSERT_TRUE(run());
  EXPECT_EQ(client->errors, std::vector<int>{ETIMEDOUT});
  ASSERT_EQ(client->messages.size(), 1u);
  EXPECT_EQ(client->messages[0], "TLS handshake timed out");
  EXPECT_EQ(client->ready, 0);
  EXPECT_EQ(s->held.size(), 1u);
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tls_verification_failure_reaches_both_sides) {
  auto s = listen(server_tls.get(), true);
  auto client = tls_client("other.example");
  client->t->connect(at);
  ASSERT_TRUE(run_until([&] { return !client->errors.empty() && !s->peers.empty() && !s->peers[0]->errors.empty(); }));
  EXPECT_EQ(client->errors, std::vector<int>{0});
  EXPECT_EQ(client->messages[0], "certificate verify failed: hostname mismatch");
  EXPECT_EQ(client->ready, 0);
  // The client's alert left before its handler closed the connection.
  EXPECT_EQ(s->peers[0]->messages, std::vector<std::string>{"sslv3 alert bad certificate"});
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tls_pause_holds_delivery_until_resume) {
  auto s = listen(server_tls.get(), false);
  s->pause_first = true;
  auto client = tls_client();
  const std::string data = pattern(256 * 1024, 5);
  client->on_ready = [&] { client->t->write(data); };
  client->t->connect(at);
  ASSERT_TRUE(run_until([&] { return !s->peers.empty() && !s->peers[0]->received.empty(); }));
  peer& far = *s->peers[0];
  EXPECT_TRUE(far.t->reading_paused());
  const std::size_t while_paused = far.received.size();
  EXPECT_LE(while_paused, 16384u) << "delivery went on after pause_reading()";
  run_idle(100);
  EXPECT_EQ(far.received.size(), while_paused) << "delivery went on after pause_reading()";
  far.t->resume_reading();
  EXPECT_EQ(far.received.size(), while_paused) << "resume_reading() delivered from inside the call";
  ASSERT_TRUE(run_until([&] { return far.received.size() >= data.size(); }));
  EXPECT_TRUE(far.received == data);
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tls_pause_during_the_handshake_lets_it_finish_and_holds_data) {
  auto s = listen(server_tls.get(), false);
  s->pause_at_start = true;
  auto client = tls_client();
  client->on_ready = [&] {
    client->t->write("held until resume");
    client->t->shutdown_write();
  };
  client->t->connect(at);
  ASSERT_TRUE(run_until([&] { return client->ready == 1 && !s->peers.empty() && s->peers[0]->ready == 1; }));
  peer& far = *s->peers[0];
  run_idle(100);
  EXPECT_EQ(far.received, "") << "delivered while paused";
  EXPECT_EQ(far.eofs, 0) << "EOF delivered while paused";
  far.t->resume_reading();
  ASSERT_TRUE(run_until([&] { return far.eofs == 1; }));
  EXPECT_EQ(far.received, "held until resume");
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, set_handler_moves_later_events_to_the_new_handler) {
  auto s = listen(server_tls.get(), true);
  auto client = tls_client();
  peer second;
  client->on_ready = [&] {
    client->t->set_handler(second);
    client->t->write("to the second handler");
    client->t->shutdown_write();
  };
  second.on_eof = [&] { r->stop(); };
  client->t->connect(at);
  ASSERT_TRUE(run());
  EXPECT_EQ(client->ready, 1);
  EXPECT_EQ(client->received, "");
  EXPECT_EQ(second.received, "to the second handler");
  EXPECT_EQ(second.eofs, 1);
  EXPECT_EQ(client->eofs, 0);
  client->t->close();
  ASSERT_TRUE(run_until([&] { return second.closed == 1; }));
  EXPECT_EQ(client->closed, 0);
  close_all({}, s.get());
}

TEST_P(transport_test, tls_connect_refused) {
  auto client = tls_client();
  socket_address closed_port;
  {
    auto s = listen(nullptr, false, true);
    closed_port = at;
    s->l.close();
    ASSERT_TRUE(run_until([&] { return s->closed == 1; }));
  }
  client->on_error = [&] { r->stop(); };
  client->t->connect(closed_port);
  ASSERT_TRUE(run());
  EXPECT_EQ(client->errors, std::vector<int>{ECONNREFUSED});
  EXPECT_EQ(client->messages[0], "connect to " + closed_port.to_string() + " failed: Connection refused");
  close_all({client.get()}, nullptr);
}

TEST_P(transport_test, tcp_echo_of_one_mebibyte_is_byte_identical) {
  auto s = listen(nullptr, true);
  auto client = tcp_client();
  const std::string data = pattern(1 << 20, 1);
  client->on_ready = [&] {
    client->t->write(data);
    client->t->shutdown_write();
  };
  client->on_eof = [&] { r->stop(); };
  client->t->connect(at);
  ASSERT_TRUE(run());
  EXPECT_FALSE(client->t->secure());
  EXPECT_EQ(client->ready, 1);
  EXPECT_TRUE(client->received == data) << "got " << client->received.size() << " of " << data.size() << " bytes";
  EXPECT_EQ(client->eofs, 1);
  EXPECT_EQ(client->drained, 1);
  ASSERT_EQ(s->peers.size(), 1u);
  EXPECT_EQ(s->peers[0]->ready, 1) << "an accepted TCP transport is ready from start()";
  EXPECT_EQ(s->peers[0]->bytes_at_eof, data.size());
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tcp_shutdown_write_gives_the_peer_eof_after_all_bytes) {
  auto s = listen(nullptr, false);
  auto client = tcp_client();
  const std::string data = pattern(200000, 2);
  client->on_ready = [&] {
    client->t->write(data);
    client->t->shutdown_write();
  };
  client->t->connect(at);
  ASSERT_TRUE(run_until([&] { return !s->peers.empty() && s->peers[0]->eofs > 0; }));
  EXPECT_EQ(s->peers[0]->bytes_at_eof, data.size());
  EXPECT_TRUE(s->peers[0]->received == data);
  EXPECT_EQ(client->eofs, 0);
  close_all({client.get()}, s.get());
}

TEST_P(transport_test, tcp_connect_refused) {
  socket_address closed_port;
  {
    auto s = listen(nullptr, false, true);
    closed_port = at;
    s->l.close();
    ASSERT_TRUE(run_until([&] { return s->closed == 1; }));
  }
  auto client = tcp_client();
  client->on_error = [&] { r->stop(); };
  client->t->connect(closed_port);
  ASSERT_TRUE(run());
  EXPECT_EQ(client->errors, std::vector<int>{ECONNREFUSED});
  EXPECT_EQ(client->messages[0], "connect to " + closed_port.to_string() + " failed: Connection refused");
  EXPECT_EQ(client->ready, 0);
  close_all({client.get()}, nullptr);
}

INSTANTIATE_TEST_SUITE_P(backends, transport_test, test::both_backend_kinds(), test::backend_name);

}  // namespace
}  // namespace postern::net
