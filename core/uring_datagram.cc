// uring_backend (see uring_backend.h): its datagram sockets (datagram.h), apart from the
// streams and listeners of uring_backend.cc, whose ring, submission and dispatch they share.
//
// A datagram socket has one IORING_OP_RECVMSG into its own buffer, re-armed at each
// completion (see datagram.h for why not multishot), and sends its queue as one chain of
// IORING_OP_SENDMSG linked with IOSQE_IO_LINK, one chain in flight at a time. The links keep
// the datagrams in order, and the chain completes in order: each success pops the front
// datagram. A failed send is reported and dropped, and the rest of its chain completes with
// -ECANCELED, stays queued and goes out in the next chain, which the chain's last completion
// submits together with what was queued meanwhile. The sends carry MSG_DONTWAIT, so that a
// send the kernel has no room for fails at once with -EAGAIN instead of being retried by
// io_uring: a retry would reuse an iterator that the protocol may have consumed already
// (AF_UNIX datagram sockets copy the bytes before they find the receiver full, and then
// send an empty datagram when retried; a UDP datagram cut into fragments could leave short).
// After -EAGAIN the datagram stays queued and one IORING_OP_POLL_ADD for POLLOUT waits for
// room. The chain is never cut by a mid-chain submit: its entries are reserved first.
// Closing cancels every operation on the fd, as for a stream.
#include "core/uring_backend.h"

#include <poll.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>

#include "core/datagram.h"

namespace postern::core {

void uring_backend::arm_datagram_recv(datagram_socket& d) {
  // The kernel writes the sender's address length and the flags back into the msghdr.
  d._recv_msg.msg_namelen = sizeof d._recv_from;
  d._recv_msg.msg_flags = 0;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recvmsg(sqe, d.fd(), &d._recv_msg, 0);
  io_uring_sqe_set_data(sqe, &d._recv_op);
  d._flags |= datagram_socket::flag_recv_armed;
  ++d._in_flight;
}

void uring_backend::submit_datagrams(datagram_socket& d) {
  std::size_t count = d._out.size();
  // A chain split over two submits would become two chains that may run side by side.
  if (io_uring_sq_space_left(&_ring.uring) < count) {
    enable();
    io_uring_submit(&_ring.uring);
    const std::size_t space = io_uring_sq_space_left(&_ring.uring);
    if (space < count) count = space == 0 ? 1 : space;  // get_sqe copes with 0, or aborts
  }
  for (std::size_t i = 0; i < count; ++i) {
    const datagram_queue::entry e = d._out.at(i);
    datagram_socket::send_space& space = d._send_space[e.slot];
    space.iov.iov_base = const_cast<std::byte*>(e.bytes.data());
    space.iov.iov_len = e.bytes.size();
    space.msg = msghdr{};
    space.msg.msg_name = const_cast<sockaddr*>(e.to);
    space.msg.msg_namelen = e.to_len;
    space.msg.msg_iov = &space.iov;
    space.msg.msg_iovlen = 1;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_sendmsg(sqe, d.fd(), &space.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (i + 1 < count) sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data(sqe, &d._send_op);
  }
  d._sending = static_cast<std::uint32_t>(count);
  d._unsent = 0;
  d._in_flight += static_cast<std::uint32_t>(count);
  d._flags |= datagram_socket::flag_send_armed;
}

void uring_backend::arm_datagram_writable(datagram_socket& d) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, d.fd(), POLLOUT);
  io_uring_sqe_set_data(sqe, &d._writable_op);
  ++d._in_flight;
}

void uring_backend::start_datagram(datagram_socket& d) {
  if (d.wants_receive() && !(d._flags & datagram_socket::flag_recv_armed)) arm_datagram_recv(d);
}

void uring_backend::flush_datagrams(datagram_socket& d) {
  constexpr std::uint32_t busy = datagram_socket::flag_send_armed | datagram_socket::flag_closing;
  if ((d._flags & busy) || d.fd() < 0 || d._out.empty()) return;
  submit_datagrams(d);
}

void uring_backend::close_datagram(datagram_socket& d) {
  if (d._in_flight == 0) {
    _reactor.finish_close(d);
    return;
  }
  // One request cancels the recvmsg, the poll for room and the chain's current sendmsg (whose
  // later links then complete with -ECANCELED); the fd stays open until their completions are
  // back.
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel_fd(sqe, d.fd(), IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data(sqe, nullptr);
}

void uring_backend::on_datagram_recv(datagram_socket& d, std::uint32_t bytes, int error) {
  d._flags &= ~datagram_socket::flag_recv_armed;
  --d._in_flight;
  if (d.closing()) {
    if (d._in_flight == 0) _reactor.finish_close(d);
    return;
  }
  if (error == 0)
    d.deliver(bytes, d._recv_msg.msg_namelen, d._recv_msg.msg_flags);
  else if (error != ECANCELED)
    d.receive_failed(error);
  // Re-armed only after the handler returned: the next datagram lands in the same buffer.
  if (d.wants_receive() && !(d._flags & datagram_socket::flag_recv_armed)) arm_datagram_recv(d);
}

void uring_backend::on_datagram_send(datagram_socket& d, int error) {
  --d._in_flight;
  --d._sending;
  if (d.closing()) {
    if (d._in_flight == 0) _reactor.finish_close(d);
    return;
  }
  if (error == EAGAIN || error == ECANCELED) {
    // Not sent, and still queued: the kernel had no room (every later link then completes with
    // -ECANCELED), or an earlier link of the chain failed.
    if (error == EAGAIN) d._flags |= datagram_socket::flag_send_blocked;
    ++d._unsent;
  } else {
    assert(d._unsent == 0 && "a link of a chain completed after an earlier one failed");
    d.sent(error);  // the front datagram: the chain completes in order, and all successes
                    // come before the first failure
    if (d.closing()) return;
  }
  if (d._sending > 0) return;
  // The chain is over.
  if (d._flags & datagram_socket::flag_send_blocked) {
    arm_datagram_writable(d);  // flag_send_armed stays: the poll sends the rest
    return;
  }
  d._flags &= ~datagram_socket::flag_send_armed;
  if (!d._out.empty()) submit_datagrams(d);
}

void uring_backend::on_datagram_writable(datagram_socket& d, int error) {
  (void)error;  // a poll error shows again in the send that follows, which reports it
  --d._in_flight;
  d._flags &= ~(datagram_socket::flag_send_blocked | datagram_socket::flag_send_armed);
  if (d.closing()) {
    if (d._in_flight == 0) _reactor.finish_close(d);
    return;
  }
  if (!d._out.empty()) submit_datagrams(d);
}

}  // namespace postern::core
