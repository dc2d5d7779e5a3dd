// datagram_socket (see datagram.h): the socket's state and the helpers that open and configure
// UDP sockets. The kernel side of receiving and sending lives in the back ends; the pieces of
// the state machine both share (deliver, receive_failed, sent) live here, as the reactor keeps
// the stream's.
#include "core/datagram.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>

#include "core/backend.h"

namespace postern::core {

std::string_view to_string(send_error error) {
  switch (error) {
    case send_error::queue_full: return "queue full";
    case send_error::too_large: return "datagram too large";
    case send_error::bad_address: return "bad address";
    case send_error::closed: return "socket closed";
  }
  return "unknown";
}

datagram_socket::datagram_socket(reactor& owner, unique_fd fd, datagram_handler& handler,
                                 const datagram_options& options)
    : _reactor(&owner),
      _handler(&handler),
      _fd(std::move(fd)),
      _out(options.max_queued_datagrams, options.max_queued_bytes),
      _recv_buffer(std::make_unique_for_overwrite<std::byte[]>(receive_buffer_bytes)) {
  _recv_iov.iov_base = _recv_buffer.get();
  _recv_iov.iov_len = receive_buffer_bytes;
  _recv_msg.msg_name = &_recv_from;
  _recv_msg.msg_namelen = sizeof _recv_from;
  _recv_msg.msg_iov = &_recv_iov;
  _recv_msg.msg_iovlen = 1;
  // Only io_uring needs a msghdr per datagram in flight; epoll sends with sendto.
  if (owner.backend() == backend_kind::io_uring)
    _send_space = std::make_unique<send_space[]>(_out.max_datagrams());
}

datagram_socket::~datagram_socket() {
  // Freeing a socket that the kernel, epoll or a reactor list still refers to is a use after
  // free waiting to happen: the owner frees only after on_closed (or never started it).
  assert(_in_flight == 0 && "datagram_socket destroyed with kernel operations in flight");
  assert(!(_flags & flag_dirty) && "datagram_socket destroyed while on its reactor's flush list");
  assert(!(_flags & flag_registered) && "datagram_socket destroyed while watched by epoll");
}

void datagram_socket::start() {
  if (_flags & (flag_closing | flag_receiving)) return;
  _flags |= flag_receiving;
  _reactor->_backend->start_datagram(*this);
}

std::expected<void, send_error> datagram_socket::send_to(std::span<const std::byte> bytes, const sockaddr* to,
                                                         socklen_t to_len) {
  if (_flags & flag_closing) return std::unexpected(send_error::closed);
  if (to == nullptr || to_len == 0 || to_len > sizeof(sockaddr_storage))
    return std::unexpected(send_error::bad_address);
  if (bytes.size() > max_datagram_bytes) return std::unexpected(send_error::too_large);
  if (!_out.push(bytes, to, to_len)) {
    ++_counters.dropped;
    return std::unexpected(send_error::queue_full);
  }
  _reactor->mark_dirty(*this);
  return {};
}

void datagram_socket::close() {
  if (_flags & flag_closing) return;
  _flags |= flag_closing;
  _reactor->_backend->close_datagram(*this);
}

void datagram_socket::deliver(std::size_t bytes, socklen_t from_len, int msg_flags) {
  if (msg_flags & MSG_TRUNC) {
    // Cannot happen on a UDP socket (the buffer is larger than any UDP datagram); a partial
    // datagram is never delivered.
    receive_failed(EMSGSIZE);
    return;
  }
  ++_counters.received;
  if (from_len > sizeof _recv_from) from_len = sizeof _recv_from;
  _handler->on_datagram({_recv_buffer.get(), bytes}, _recv_from, from_len);
}

void datagram_socket::receive_failed(int error) {
  ++_counters.receive_errors;
  _handler->on_datagram_error(error);
}

void datagram_socket::sent(int error) {
  _out.pop_front();
  if (error == 0) {
    ++_counters.sent;
    return;
  }
  ++_counters.send_errors;
  _handler->on_datagram_error(error);
}

// ---------------------------------------------------------------------------------------------
// helpers

std::expected<unique_fd, int> open_udp_socket(const sockaddr* addr, socklen_t addr_len, bool reuse_port) {
  unique_fd fd(::socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::unexpected(errno);
  int one = 1;
  if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    return std::unexpected(errno);
  if (::bind(fd.get(), addr, addr_len) < 0) return std::unexpected(errno);
  return fd;
}

std::expected<void, int> join_multicast(int fd, const in_addr& group, const in_addr& interface_address, int ttl) {
  const int off = 0, on = 1;
  // First, so that no datagram of another socket's group can arrive once membership begins.
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off) < 0) return std::unexpected(errno);
  ip_mreq membership{};
  membership.imr_multiaddr = group;
  membership.imr_interface = interface_address;
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership) < 0)
    return std::unexpected(errno);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface_address, sizeof interface_address) < 0)
    return std::unexpected(errno);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &on, sizeof on) < 0) return std::unexpected(errno);
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0) return std::unexpected(errno);
  return {};
}

}  // namespace postern::core
