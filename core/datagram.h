// datagram_socket: a UDP socket served by one reactor, on either back end (for cluster gossip,
// DESIGN §6). Like a stream it is owned by the layer above, tells a handler of its events, and
// is freed only after its on_closed() (STYLE 7), which is never called from inside close().
//
// Sending is corked per loop iteration, as streams are: send_to() copies the datagram into a
// bounded queue whose storage is allocated once, with the socket, and the queue goes to the
// kernel at the end of the iteration. When the queue is full send_to() drops the datagram,
// counts it and says so; it never blocks and never grows the queue (STYLE 11). Datagrams leave
// in the order they were queued.
//
// Receiving delivers one datagram per on_datagram() call from the socket's own 64 KiB buffer,
// so no datagram is ever cut short. How each back end does it:
// - io_uring: one IORING_OP_RECVMSG in flight into that buffer, re-armed when it completes
//   (not multishot with a provided-buffer ring: the reactor's ring has 16 KiB buffers, too
//   small for 64 KiB datagrams, and a ring of 64 KiB buffers per socket costs more memory than
//   gossip rates justify). At most one datagram per socket per loop iteration.
//   Sending: the queued datagrams leave as one chain of IORING_OP_SENDMSG linked with
//   IOSQE_IO_LINK (in order), one chain in flight at a time; the queue keeps their bytes until
//   their completions. A send the kernel has no room for (-EAGAIN) stays queued until a poll
//   says there is room (uring_datagram.cc tells why io_uring must not retry it itself).
// - epoll: readiness; a bounded loop of recvfrom per readiness event; sendto at the flush,
//   EPOLLOUT awaited only when the kernel refuses more (EAGAIN).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string_view>

#include "core/datagram_queue.h"
#include "core/reactor.h"
#include "core/unique_fd.h"

namespace postern::core {

// Events of a datagram socket, implemented by its owner.
class datagram_handler {
 public:
  // A datagram arrived from `from` (from_len bytes of it are the address). The span is valid
  // only during the call. An empty datagram arrives as an empty span.
  virtual void on_datagram(std::span<const std::byte> bytes, const sockaddr_storage& from, socklen_t from_len) = 0;
  // A receive or a send failed with this errno value. A failed send loses that one datagram;
  // the socket goes on receiving and sending: the handler decides whether to close.
  virtual void on_datagram_error(int error) = 0;
  // No operation refers to the socket any more; the owner may free it now.
  virtual void on_closed() = 0;

 protected:
  ~datagram_handler() = default;
};

// Why send_to() refused a datagram. Refused datagrams are never sent.
enum class send_error : std::uint8_t {
  queue_full,   // the queue is at its datagram or byte limit: dropped and counted
  too_large,    // more than datagram_socket::max_datagram_bytes
  bad_address,  // the address length is 0 or larger than sockaddr_storage
  closed,       // close() was called
};
std::string_view to_string(send_error error);

struct datagram_options {
  std::uint32_t max_queued_datagrams = 64;   // per socket, until the end of the iteration
  std::uint32_t max_queued_bytes = 256 * 1024;
};

// What a socket did, for tests and metrics.
struct datagram_counters {
  std::uint64_t received = 0;        // datagrams delivered to on_datagram
  std::uint64_t sent = 0;            // datagrams the kernel accepted
  std::uint64_t dropped = 0;         // refused by send_to because the queue was full
  std::uint64_t send_errors = 0;     // datagrams whose send failed (on_datagram_error told)
  std::uint64_t receive_errors = 0;  // receives that failed (on_datagram_error told)
};

class datagram_socket final {
 public:
  // The largest UDP payload IPv4 can carry (65535 - 20 - 8); also the limit for IPv6.
  static constexpr std::size_t max_datagram_bytes = 65507;
  // The receive buffer: larger than any datagram, so a truncated one means a non-UDP socket.
  static constexpr std::size_t receive_buffer_bytes = 64 * 1024;

  // Adopts a non-blocking datagram socket: UDP (open_udp_socket), or AF_UNIX SOCK_DGRAM,
  // connected when its sends may have to wait (an unconnected one polls writable while its
  // receiver is full, so a blocked send would be retried in a busy loop). Allocates the queue
  // and the receive buffer here, once. Nothing is received before start().
  datagram_socket(reactor& owner, unique_fd fd, datagram_handler& handler, const datagram_options& options = {});
  datagram_socket(const datagram_socket&) = delete;
  datagram_socket& operator=(const datagram_socket&) = delete;
  ~datagram_socket();  // must be closed (on_closed seen)

  // Starts delivering on_datagram() until close().
  void start();
  // Queues a copy of bytes for `to` (to_len bytes of address); it leaves at the end of this
  // loop iteration. Never calls the handler. A send that fails later is told by
  // on_datagram_error().
  std::expected<void, send_error> send_to(std::span<const std::byte> bytes, const sockaddr* to, socklen_t to_len);
  // Stops receiving and sending now: queued datagrams not yet handed to the kernel are dropped
  // (not counted); io_uring sendmsgs already in flight may still leave. on_closed() follows,
  // later.
  void close();
  bool closing() const noexcept { return _flags & flag_closing; }

  std::size_t queued() const noexcept { return _out.size(); }
  const datagram_counters& counters() const noexcept { return _counters; }
  int fd() const noexcept { return _fd.get(); }
  reactor& owner() const noexcept { return *_reactor; }

 private:
  friend class reactor;
  friend class uring_backend;
  friend class epoll_backend;

  enum flag : std::uint32_t {
    flag_receiving = 1u << 0,     // start() was called: the owner wants datagrams
    flag_recv_armed = 1u << 1,    // io_uring: a recvmsg is in flight; epoll: EPOLLIN is watched
    flag_send_armed = 1u << 2,    // the back end sends the rest itself, the flush must not:
                                  // io_uring: a sendmsg chain or a poll for room is in flight;
                                  // epoll: EPOLLOUT is watched because the kernel refused more
    flag_send_blocked = 1u << 3,  // io_uring: a send failed with EAGAIN; poll for room next
    flag_registered = 1u << 4,    // epoll: in the interest set
    flag_dirty = 1u << 5,         // on the reactor's flush list
    flag_closing = 1u << 6,       // close() was called; waiting for in-flight operations
    flag_close_done = 1u << 7,    // fd closed and on_closed scheduled (exactly once)
  };

  // Whether the back end must keep a receive armed.
  bool wants_receive() const noexcept {
    return (_flags & (flag_receiving | flag_closing)) == flag_receiving && _fd;
  }
  // Shared by both back ends. deliver: a receive of `bytes` bytes into the buffer completed,
  // with the sender in _recv_from (from_len bytes) and the kernel's msg_flags. receive_failed
  // and sent: count, and tell the handler of an error; sent also pops the front datagram.
  void deliver(std::size_t bytes, socklen_t from_len, int msg_flags);
  void receive_failed(int error);
  void sent(int error);

  reactor* _reactor;
  datagram_handler* _handler;
  unique_fd _fd;
  datagram_queue _out;
  datagram_counters _counters;
  std::uint32_t _flags = 0;
  std::uint32_t _in_flight = 0;  // io_uring operations whose completion has not come back
  std::uint32_t _sending = 0;    // io_uring: sendmsgs of the chain in flight
  std::uint32_t _unsent = 0;     // io_uring: datagrams of the chain that completed unsent
  int _pending_error = 0;        // an error found inside a method, told at the next flush
  datagram_socket* _next_dirty = nullptr;   // reactor flush list
  datagram_socket* _next_closed = nullptr;  // reactor list of sockets whose on_closed is due
  backend_op _recv_op{backend_op::kind::datagram_recv, this};
  backend_op _send_op{backend_op::kind::datagram_send, this};
  backend_op _writable_op{backend_op::kind::datagram_writable, this};
  // Receive space: the buffer, the sender's address and the msghdr a recvmsg fills in.
  std::unique_ptr<std::byte[]> _recv_buffer;
  sockaddr_storage _recv_from{};
  iovec _recv_iov{};
  msghdr _recv_msg{};
  // io_uring: the msghdr and iovec of each queued datagram's sendmsg, by queue slot number.
  struct send_space {
    msghdr msg;
    iovec iov;
  };
  std::unique_ptr<send_space[]> _send_space;
};

// Opens a non-blocking, close-on-exec UDP socket bound to addr (IPv4 or IPv6; port 0 picks
// one). With reuse_port, SO_REUSEPORT is set so that several sockets (the members of a
// multicast group on one host, or one per reactor) can bind the same address and port.
// Returns the errno value on failure.
std::expected<unique_fd, int> open_udp_socket(const sockaddr* addr, socklen_t addr_len, bool reuse_port);

// Makes the IPv4 UDP socket fd a member of the multicast group `group` on the interface that
// owns interface_address, and sends its multicast datagrams from that interface:
// IP_ADD_MEMBERSHIP (imr_interface = interface_address), IP_MULTICAST_IF = interface_address,
// IP_MULTICAST_LOOP on (members on the same host hear each other), IP_MULTICAST_TTL = ttl
// (default 1: the local network only), and IP_MULTICAST_ALL off, so that the socket receives
// only the groups it joined itself: by default Linux hands a socket bound to 0.0.0.0:port the
// datagrams of every group that any socket on the host joined on that port.
// On this kernel (Linux 6.x) this works on the loopback interface with interface addresses
// 127.0.x.y, with no multicast route and although `lo` lacks IFF_MULTICAST: IP_MULTICAST_IF
// picks the output interface, so the routing table is not consulted for it.
// Returns the errno value of the first option the kernel refused (ENODEV: no interface has
// that address; EINVAL: group is not a multicast address); the socket may have joined the
// group by then, and is best closed.
std::expected<void, int> join_multicast(int fd, const in_addr& group, const in_addr& interface_address, int ttl = 1);

}  // namespace postern::core
