// epoll_backend: the epoll back end of a reactor, for kernels or containers where io_uring
// cannot run (see backend.h for the contract and epoll_backend.cc for the design).
#pragma once

#include <sys/epoll.h>

#include <cstdint>

#include "core/backend.h"

namespace postern::core {

class epoll_backend final : public backend {
 public:
  // Throws std::runtime_error when epoll_create1 fails.
  explicit epoll_backend(reactor& owner);
  ~epoll_backend() override;

  backend_kind kind() const noexcept override { return backend_kind::epoll; }
  void update_reading(stream& s) override;
  void flush(stream& s) override;
  void connect(stream& s, const sockaddr* addr, socklen_t addr_len) override;
  void shutdown_write(stream& s) override;
  void close_stream(stream& s) override;
  void start_listener(listener& l) override;
  void close_listener(listener& l) override;
  void start_datagram(datagram_socket& d) override;
  void flush_datagrams(datagram_socket& d) override;
  void close_datagram(datagram_socket& d) override;
  void watch_wakeup(int event_fd) override;
  void wait(int timeout_ms) override;
  void dispatch() override;

 private:
  static constexpr int max_events = 256;           // readiness events taken per epoll_wait
  static constexpr int max_reads_per_event = 4;     // recv calls per readable stream per wait
  static constexpr int max_accepts_per_event = 64;  // accept4 calls per listener per wait
  static constexpr int max_datagrams_per_event = 64;  // recvfrom calls per datagram socket per wait

  void set_interest(stream& s, bool in, bool out);
  void on_stream_event(stream& s, std::uint32_t events);
  void read_some(stream& s);
  void send_queued(stream& s);
  void finish_connect(stream& s);
  void accept_some(listener& l);
  void drain_wakeup();
  void set_interest(datagram_socket& d, bool in, bool out);
  void on_datagram_event(datagram_socket& d, std::uint32_t events);
  void receive_datagrams(datagram_socket& d);
  void send_datagrams(datagram_socket& d);

  reactor& _reactor;
  unique_fd _epoll;
  buffer_lease _scratch;  // every recv lands here; on_readable sees it only during the call
  int _wakeup_fd = -1;
  backend_op _wakeup_op{backend_op::kind::wakeup, this};
  bool _wait_error_logged = false;
  epoll_event _events[max_events];
  int _ready = 0;                                   // events wait() found, for dispatch()
};

}  // namespace postern::core
