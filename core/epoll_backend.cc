// epoll_backend (see epoll_backend.h).
//
// Level-triggered. Why not edge-triggered: the read loop per event is bounded (fairness
// between connections), and with level triggering a stream that still has bytes after its
// turn is simply reported again by the next epoll_wait, with no ready list of our own to keep;
// and a paused stream, which must not be woken, is just left out of the interest set. The
// price of level triggering is an epoll_ctl whenever interest changes, which happens only on
// pause/resume (backpressure), when a send blocks or unblocks, and at EOF: not per message.
//
// A stream is added to the interest set only when it needs to be: EPOLLIN while the owner
// wants bytes (stream::wants_read), EPOLLOUT while it connects or while its queue is non-empty
// after the kernel refused more (EAGAIN or a short send). A stream with neither is taken out
// of the set, so that EPOLLHUP/EPOLLERR (always reported) cannot spin on a paused stream; they
// show up when interest comes back.
//
// A datagram socket is watched the same way: EPOLLIN from start() to close, EPOLLOUT only while
// the kernel refuses more of its queue. Datagrams are read with a bounded loop of recvfrom into
// the socket's own 64 KiB buffer (the scratch buffer is smaller than a datagram may be) and
// sent with one sendto each at flush time.
//
// Bytes are read with recv into one reactor-owned scratch buffer from the pool and handed to
// on_readable from there; sends go straight from the byte_queue with sendmsg at flush time
// (end of iteration), so a write costs no system call until then.
#include "core/epoll_backend.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <stdexcept>

#include "core/datagram.h"
#include "core/log.h"

namespace postern::core {

epoll_backend::epoll_backend(reactor& owner)
    : _reactor(owner), _epoll(::epoll_create1(EPOLL_CLOEXEC)), _scratch(owner.buffers().acquire()) {
  if (!_epoll) throw std::runtime_error(std::string("cannot start epoll: epoll_create1: ") + std::strerror(errno));
}

epoll_backend::~epoll_backend() = default;

void epoll_backend::set_interest(stream& s, bool in, bool out) {
  const bool was_in = s._flags & stream::flag_read_armed;
  const bool was_out = s._flags & stream::flag_write_armed;
  if (in == was_in && out == was_out) return;
  const std::uint32_t events = (in ? EPOLLIN : 0u) | (out ? EPOLLOUT : 0u);
  const bool registered = s._flags & stream::flag_registered;
  const int op = !registered ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &s._recv_op;
  if (::epoll_ctl(_epoll.get(), op, s.fd(), &ev) < 0) {
    // Out of memory or over max_user_watches: the stream cannot be served.
    _reactor.report_later(s, errno, (s._flags & stream::flag_connecting) != 0);
    return;
  }
  s._flags &= ~(stream::flag_read_armed | stream::flag_write_armed | stream::flag_registered);
  if (in) s._flags |= stream::flag_read_armed;
  if (out) s._flags |= stream::flag_write_armed;
  if (events != 0) s._flags |= stream::flag_registered;
}

void epoll_backend::update_reading(stream& s) {
  if (s.closing()) return;
  set_interest(s, s.wants_read(), s._flags & stream::flag_write_armed);
}

void epoll_backend::flush(stream& s) {
  // flag_write_armed: EPOLLOUT is awaited (a blocked send or a connect) and will send.
  constexpr std::uint32_t busy = stream::flag_write_armed | stream::flag_connecting |
                                 stream::flag_write_failed | stream::flag_closing;
  if ((s._flags & busy) || s.fd() < 0) return;
  if (!s._out.empty())
    send_queued(s);
  else if ((s._flags & (stream::flag_shutdown_pending | stream::flag_shutdown_done)) == stream::flag_shutdown_pending)
    shutdown_write(s);
}

void epoll_backend::send_queued(stream& s) {
  const bool had_bytes = !s._out.empty();
  bool blocked = false;
  while (!s._out.empty()) {
    const std::size_t count = s._out.peek(s._send_iov, stream::max_send_iovecs);
    std::size_t asked = 0;
    for (std::size_t i = 0; i < count; ++i) asked += s._send_iov[i].iov_len;
    msghdr msg{};
    msg.msg_iov = s._send_iov;
    msg.msg_iovlen = count;
    const ssize_t sent = ::sendmsg(s.fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        blocked = true;
        break;
      }
      s._flags |= stream::flag_write_failed;
      set_interest(s, s._flags & stream::flag_read_armed, false);
      s._handler->on_stream_error(error);
      return;
    }
    s._out.consume(static_cast<std::size_t>(sent));
    // A short send means the socket buffer is full: the next sendmsg would only say EAGAIN.
    if (static_cast<std::size_t>(sent) < asked) {
      blocked = true;
      break;
    }
  }
  set_interest(s, s._flags & stream::flag_read_armed, blocked);
  if (!blocked && had_bytes) _reactor.queue_drained(s);
}

void epoll_backend::connect(stream& s, const sockaddr* addr, socklen_t addr_len) {
  // 0 (UNIX sockets, sometimes loopback) or EINPROGRESS: either way EPOLLOUT reports the end,
  // and SO_ERROR the result, so both go the same way. EINTR also leaves the connect going on.
  if (::connect(s.fd(), addr, addr_len) == 0 || errno == EINPROGRESS || errno == EINTR) {
    set_interest(s, false, true);
    return;
  }
  _reactor.report_later(s, errno, true);
}

void epoll_backend::finish_connect(stream& s) {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
  s._flags &= ~stream::flag_connecting;
  // One epoll_ctl: read interest now if the owner asked for bytes before the connect ended.
  set_interest(s, error == 0 && s.wants_read(), false);
  s._handler->on_connected(error);
  if (error != 0 || s.closing()) return;
  update_reading(s);
  if (!s._out.empty() || (s._flags & stream::flag_shutdown_pending)) _reactor.mark_dirty(s);
}

void epoll_backend::shutdown_write(stream& s) {
  s._flags |= stream::flag_shutdown_done;
  if (::shutdown(s.fd(), SHUT_WR) < 0 && errno != ENOTCONN) {
    s._flags |= stream::flag_write_failed;
    s._handler->on_stream_error(errno);
  }
}

void epoll_backend::close_stream(stream& s) {
  // Explicitly out of the set: close(2) removes an fd only when no duplicate of it exists.
  if (s._flags & stream::flag_registered) ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, s.fd(), nullptr);
  // Events for s may still sit in this wait's array: s stays alive until its on_closed, and
  // on_stream_event skips a closing stream.
  _reactor.finish_close(s);
}

void epoll_backend::read_some(stream& s) {
  std::byte* data = _scratch.data();
  const std::size_t capacity = _scratch.size();
  for (int i = 0; i < max_reads_per_event; ++i) {
    const ssize_t n = ::recv(s.fd(), data, capacity, 0);
    if (n > 0) {
      s._handler->on_readable({data, static_cast<std::size_t>(n)});
      // Paused or closed by the handler, or a short read: the socket is drained for now.
      if (!s.wants_read() || static_cast<std::size_t>(n) < capacity) return;
      continue;
    }
    if (n == 0) {
      s._flags |= stream::flag_eof;
      set_interest(s, false, s._flags & stream::flag_write_armed);
      s._handler->on_read_eof();
      return;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    s._flags |= stream::flag_read_failed;
    set_interest(s, false, s._flags & stream::flag_write_armed);
    s._handler->on_stream_error(error);
    return;
  }
}

void epoll_backend::on_stream_event(stream& s, std::uint32_t events) {
  if (s.closing()) return;
  constexpr std::uint32_t trouble = EPOLLERR | EPOLLHUP;
  if (s._flags & stream::flag_connecting) {
    if (events & (EPOLLOUT | trouble)) finish_connect(s);
    return;
  }
  if ((events & (EPOLLIN | trouble)) && (s._flags & stream::flag_read_armed)) read_some(s);
  if (s.closing()) return;
  if ((events & (EPOLLOUT | trouble)) && (s._flags & stream::flag_write_armed) &&
      !(s._flags & stream::flag_write_failed)) {
    send_queued(s);  // leaves EPOLLOUT in the set only if the socket is still full
  }
}

void epoll_backend::start_listener(listener& l) {
  if (l._armed || l._closing) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &l._accept_op;
  if (::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, l.fd(), &ev) < 0) {
    const int error = errno;
    LOG_ERROR("cannot watch listening socket %d: %s", l.fd(), std::strerror(error));
    return;
  }
  l._armed = true;
}

void epoll_backend::close_listener(listener& l) {
  if (l._armed) ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, l.fd(), nullptr);
  _reactor.finish_close(l);
}

void epoll_backend::accept_some(listener& l) {
  for (int i = 0; i < max_accepts_per_event && !l._closing; ++i) {
    const int fd = ::accept4(l.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      l._handler->on_accept(unique_fd(fd));
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    if (error == EINTR) continue;
    if (_reactor.accept_failed(l, error)) {
      // Out of a resource: leave the set (or level triggering would spin) until the retry timer.
      ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, l.fd(), nullptr);
      l._armed = false;
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// datagram sockets

void epoll_backend::set_interest(datagram_socket& d, bool in, bool out) {
  const bool was_in = d._flags & datagram_socket::flag_recv_armed;
  const bool was_out = d._flags & datagram_socket::flag_send_armed;
  if (in == was_in && out == was_out) return;
  const std::uint32_t events = (in ? EPOLLIN : 0u) | (out ? EPOLLOUT : 0u);
  const bool registered = d._flags & datagram_socket::flag_registered;
  const int op = !registered ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &d._recv_op;
  if (::epoll_ctl(_epoll.get(), op, d.fd(), &ev) < 0) {
    // Out of memory or over max_user_watches: told at the next flush, where callbacks may run.
    d._pending_error = errno;
    _reactor.mark_dirty(d);
    return;
  }
  d._flags &= ~(datagram_socket::flag_recv_armed | datagram_socket::flag_send_armed |
                datagram_socket::flag_registered);
  if (in) d._flags |= datagram_socket::flag_recv_armed;
  if (out) d._flags |= datagram_socket::flag_send_armed;
  if (events != 0) d._flags |= datagram_socket::flag_registered;
}

void epoll_backend::start_datagram(datagram_socket& d) {
  if (d.closing()) return;
  set_interest(d, d.wants_receive(), d._flags & datagram_socket::flag_send_armed);
}

void epoll_backend::flush_datagrams(datagram_socket& d) {
  // flag_send_armed: EPOLLOUT is awaited and will send the rest.
  constexpr std::uint32_t busy = datagram_socket::flag_send_armed | datagram_socket::flag_closing;
  if ((d._flags & busy) || d.fd() < 0 || d._out.empty()) return;
  send_datagrams(d);
}

void epoll_backend::send_datagrams(datagram_socket& d) {
  // Bounded: a handler that queues a datagram from each on_datagram_error cannot keep this loop
  // going; what is left waits for the next flush.
  bool blocked = false;
  for (std::uint32_t i = 0; i < d._out.max_datagrams() && !d._out.empty(); ++i) {
    const datagram_queue::entry e = d._out.at(0);
    const ssize_t n = ::sendto(d.fd(), e.bytes.data(), e.bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL, e.to, e.to_len);
    const int error = n < 0 ? errno : 0;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      blocked = true;
      break;
    }
    d.sent(error);
    if (d.closing()) return;
  }
  set_interest(d, d._flags & datagram_socket::flag_recv_armed, blocked);
  if (!blocked && !d._out.empty()) _reactor.mark_dirty(d);
}

void epoll_backend::receive_datagrams(datagram_socket& d) {
  std::byte* data = d._recv_buffer.get();
  for (int i = 0; i < max_datagrams_per_event && d.wants_receive(); ++i) {
    socklen_t from_len = sizeof d._recv_from;
    // MSG_TRUNC: the datagram's real length, so that a cut one is seen (never, for UDP).
    const ssize_t n = ::recvfrom(d.fd(), data, datagram_socket::receive_buffer_bytes, MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&d._recv_from), &from_len);
    if (n >= 0) {
      const auto length = static_cast<std::size_t>(n);
      const bool cut = length > datagram_socket::receive_buffer_bytes;
      d.deliver(cut ? datagram_socket::receive_buffer_bytes : length, from_len, cut ? MSG_TRUNC : 0);
      continue;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    d.receive_failed(error);
    return;
  }
}

void epoll_backend::on_datagram_event(datagram_socket& d, std::uint32_t events) {
  if (d.closing()) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    if (d._flags & datagram_socket::flag_recv_armed) {
      receive_datagrams(d);  // a pending socket error comes out of recvfrom, once
    } else if (events & EPOLLERR) {
      // Watched for EPOLLOUT only: take the pending error (which clears it) or it would be
      // reported again at every wait.
      int error = 0;
      socklen_t len = sizeof error;
      if (::getsockopt(d.fd(), SOL_SOCKET, SO_ERROR, &error, &len) < 0) error = errno;
      if (error != 0) d.receive_failed(error);
    }
  }
  if (d.closing()) return;
  if ((events & (EPOLLOUT | EPOLLERR)) && (d._flags & datagram_socket::flag_send_armed)) send_datagrams(d);
}

void epoll_backend::close_datagram(datagram_socket& d) {
  // Explicitly out of the set: close(2) removes an fd only when no duplicate of it exists.
  if (d._flags & datagram_socket::flag_registered) ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, d.fd(), nullptr);
  // Events for d may still sit in this wait's array: d stays alive until its on_closed, and
  // on_datagram_event skips a closing socket.
  _reactor.finish_close(d);
}

void epoll_backend::watch_wakeup(int event_fd) {
  _wakeup_fd = event_fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &_wakeup_op;
  if (::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, event_fd, &ev) < 0)
    throw std::runtime_error(std::string("cannot watch the wake-up eventfd: ") + std::strerror(errno));
}

void epoll_backend::drain_wakeup() {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(_wakeup_fd, &count, sizeof count);  // resets the counter
}

void epoll_backend::wait(int timeout_ms) {
  const int n = ::epoll_wait(_epoll.get(), _events, max_events, timeout_ms);
  _ready = n < 0 ? 0 : n;
  if (n < 0 && errno != EINTR && !_wait_error_logged) {
    _wait_error_logged = true;
    LOG_ERROR("epoll_wait failed: %s", std::strerror(errno));
  }
}

void epoll_backend::dispatch() {
  const int n = std::exchange(_ready, 0);
  for (int i = 0; i < n; ++i) {
    auto* op = static_cast<backend_op*>(_events[i].data.ptr);
    switch (op->what) {
      case backend_op::kind::stream_recv:
        on_stream_event(*static_cast<stream*>(op->owner), _events[i].events);
        break;
      case backend_op::kind::listener_accept: {
        auto& l = *static_cast<listener*>(op->owner);
        if (!l._closing && l._armed) accept_some(l);
        break;
      }
      case backend_op::kind::wakeup:
        drain_wakeup();
        break;
      case backend_op::kind::datagram_recv:
        on_datagram_event(*static_cast<datagram_socket*>(op->owner), _events[i].events);
        break;
      case backend_op::kind::stream_send:
      case backend_op::kind::stream_connect:
      case backend_op::kind::datagram_send:
      case backend_op::kind::datagram_writable:
        break;  // io_uring slots: never registered with epoll
    }
  }
}

}  // namespace postern::core
