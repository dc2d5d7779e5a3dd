// uring_backend: the io_uring back end of a reactor (see backend.h for the contract, and
// uring_backend.cc and uring_datagram.cc for how it uses the ring).
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.h"

namespace postern::core {

class uring_backend final : public backend {
 public:
  // Sets up the ring and its provided-buffer ring. Throws std::runtime_error with a sentence
  // for the operator when the kernel refuses.
  uring_backend(reactor& owner, const reactor_options& options);
  ~uring_backend() override;

  // Whether a ring with everything postern needs can run here: ring setup, the opcodes
  // (multishot accept, multishot recv, sendmsg, recvmsg, connect, cancel, poll), the timed wait
  // and a provided-buffer ring. On failure fills reason with a sentence saying why (no io_uring in
  // the kernel, forbidden by seccomp, a container or a sysctl, or a kernel too old).
  static bool probe(std::string& reason);

  backend_kind kind() const noexcept override { return backend_kind::io_uring; }
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

 private:
  // An anonymous private memory mapping, unmapped on destruction (STYLE 13).
  class mapping {
   public:
    mapping() = default;
    explicit mapping(std::size_t bytes);  // throws std::runtime_error
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
    mapping& operator=(mapping&& other) noexcept;
    ~mapping();
    void* data() const noexcept { return _data; }

   private:
    void* _data = nullptr;
    std::size_t _bytes = 0;
  };

  // The ring itself; io_uring_queue_exit on destruction. Declared after the mappings so that
  // the ring goes first and the kernel is done with the buffers before they are unmapped.
  struct ring {
    ring() = default;
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;
    ~ring();
    io_uring uring{};
    bool live = false;
  };

  io_uring_sqe* get_sqe();
  void enable();
  void dispatch() override;
  void complete(const io_uring_cqe& cqe);
  void arm_recv(stream& s);
  void submit_send(stream& s);
  void arm_accept(listener& l);
  void arm_wakeup();
  void arm_datagram_recv(datagram_socket& d);
  void submit_datagrams(datagram_socket& d);
  void arm_datagram_writable(datagram_socket& d);
  void cancel(const backend_op& op);
  void on_recv(stream& s, std::uint32_t bytes, int error, std::uint32_t flags);
  void on_send(stream& s, std::uint32_t bytes, int error);
  void on_connect(stream& s, int error);
  void on_accept(listener& l, std::uint32_t fd, int error, std::uint32_t flags);
  void on_wakeup(int error, std::uint32_t flags);
  void on_datagram_recv(datagram_socket& d, std::uint32_t bytes, int error);
  void on_datagram_send(datagram_socket& d, int error);
  void on_datagram_writable(datagram_socket& d, int error);
  std::byte* buffer(unsigned id) const noexcept { return _buffer_base + std::size_t{id} * _buffer_bytes; }
  void give_back(unsigned id) noexcept;

  reactor& _reactor;
  mapping _buffer_ring_memory;
  mapping _buffer_memory;
  ring _ring;
  unsigned _setup_flags = 0;
  bool _enabled = false;  // set up disabled; enabled by the reactor's thread at its first wait
  io_uring_buf_ring* _buffer_ring = nullptr;
  std::byte* _buffer_base = nullptr;
  std::size_t _buffer_bytes = 0;
  unsigned _buffer_count = 0;
  unsigned _buffer_mask = 0;
  unsigned _returned = 0;        // buffers added to the ring since its tail was last advanced
  std::vector<stream*> _rearm;   // streams whose recv ended in this batch and that want bytes
  int _wakeup_fd = -1;
  backend_op _wakeup_op{backend_op::kind::wakeup, this};
};

}  // namespace postern::core
