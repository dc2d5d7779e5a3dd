// reactor (see reactor.h): the loop, the stream and listener state machines, and the listening
// socket helper. The kernel side lives in the back ends (backend.h).
//
// One iteration of run():
//   refresh the clock -> run mailbox messages -> submit and wait for events, dispatching them
//   (timeout: 0 when work is pending, else the timer wheel's next delay) -> refresh the clock
//   -> fire due timers -> end_of_iteration().
// end_of_iteration() repeats, a bounded number of passes, "run deferred functions, flush dirty
// streams and datagram sockets, deliver on_closed" while any of them has work. Deferred functions run before the
// flush so that what they write leaves in this iteration; the flush always runs right before
// on_closed so that a stream that was written and then closed is off the flush list before
// its owner may free it.
#include "core/reactor.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <utility>

#include "core/backend.h"
#include "core/datagram.h"
#include "core/epoll_backend.h"
#include "core/log.h"
#include "core/reactor_group.h"
#include "core/uring_backend.h"

namespace postern::core {
namespace {

// Passes of end_of_iteration() before leftover work waits for the next iteration (which then
// does not block), so that callbacks that keep producing work cannot starve the kernel side.
constexpr int max_end_passes = 8;

std::uint64_t monotonic_ms() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000u;
}

bool is_resource_error(int error) noexcept {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

}  // namespace

std::string_view to_string(backend_kind kind) {
  switch (kind) {
    case backend_kind::automatic: return "automatic";
    case backend_kind::io_uring: return "io_uring";
    case backend_kind::epoll: return "epoll";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// stream

stream::stream(reactor& owner, unique_fd fd, stream_handler& handler)
    : _reactor(&owner), _handler(&handler), _fd(std::move(fd)), _out(owner.buffers()) {
  if (_fd) ++owner._open_streams;
}

stream::stream(reactor& owner, stream_handler& handler)
    : _reactor(&owner), _handler(&handler), _out(owner.buffers()) {}

stream::~stream() {
  // Freeing a stream that the kernel or a reactor list still refers to is a use after free
  // waiting to happen: the owner frees only after on_closed (or never opened the stream).
  assert(_in_flight == 0 && "stream destroyed with kernel operations in flight");
  assert(!(_flags & flag_dirty) && "stream destroyed while on its reactor's flush list");
  if (_fd) --_reactor->_open_streams;  // never opened: the descriptor closes with _fd
}

void stream::connect(const sockaddr* addr, socklen_t addr_len) {
  assert(!_fd && !(_flags & flag_connecting) && "stream::connect on a stream that has a socket");
  if (_flags & flag_closing) return;
  _flags |= flag_connecting;
  if (addr_len > sizeof(sockaddr_storage)) {
    _reactor->report_later(*this, EINVAL, true);
    return;
  }
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    _reactor->report_later(*this, errno, true);
    return;
  }
  _fd.reset(fd);
  ++_reactor->_open_streams;
  if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) {
    // Writes are corked per iteration already; Nagle would only add a round trip of delay.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  _reactor->_backend->connect(*this, addr, addr_len);
}

void stream::start_reading() {
  if (_flags & flag_closing) return;
  _flags |= flag_reading;
  _reactor->_backend->update_reading(*this);
}

void stream::pause_reading() {
  if (_flags & (flag_closing | flag_paused)) return;
  _flags |= flag_paused;
  _reactor->_backend->update_reading(*this);
}

void stream::resume_reading() {
  if (!(_flags & flag_paused)) return;
  _flags &= ~flag_paused;
  if (!(_flags & flag_closing)) _reactor->_backend->update_reading(*this);
}

void stream::write(std::span<const std::byte> bytes) {
  if ((_flags & flag_closing) || bytes.empty()) return;
  _out.append(bytes);
  _reactor->mark_dirty(*this);
}

void stream::shutdown_write() {
  if (_flags & (flag_closing | flag_shutdown_pending)) return;
  _flags |= flag_shutdown_pending;
  _reactor->mark_dirty(*this);
}

void stream::close() {
  if (_flags & flag_closing) return;
  _flags |= flag_closing;
  _reactor->_backend->close_stream(*this);
}

// ---------------------------------------------------------------------------------------------
// listener

listener::listener(reactor& owner, unique_fd listening_fd, listener_handler& handler)
    : _reactor(&owner), _handler(&handler), _fd(std::move(listening_fd)) {}

listener::~listener() {
  assert(_in_flight == 0 && "listener destroyed with an accept in flight");
}

void listener::start() {
  if (_closing || _armed || !_fd) return;
  _reactor->_backend->start_listener(*this);
}

void listener::close() {
  if (_closing) return;
  _closing = true;
  _reactor->disarm_timer(_retry_timer);
  _reactor->_backend->close_listener(*this);
}

std::expected<unique_fd, int> open_listen_socket(const sockaddr* addr, socklen_t addr_len,
                                                 bool reuse_port, int backlog) {
  unique_fd fd(::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::unexpected(errno);
  if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) {
    int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
      return std::unexpected(errno);
    if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
      return std::unexpected(errno);
    // Accepted sockets inherit TCP_NODELAY: writes are corked per iteration already.
    if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
      return std::unexpected(errno);
  }
  if (::bind(fd.get(), addr, addr_len) < 0) return std::unexpected(errno);
  if (::listen(fd.get(), backlog) < 0) return std::unexpected(errno);
  return fd;
}

// ---------------------------------------------------------------------------------------------
// reactor

reactor::reactor(unsigned id, const reactor_options& options)
    : _id(id), _now_ms(monotonic_ms()), _timers(_now_ms) {
  backend_kind kind = options.backend;
  if (kind == backend_kind::automatic) {
    std::string reason;
    kind = io_uring_available(reason) ? backend_kind::io_uring : backend_kind::epoll;
    if (kind == backend_kind::epoll) LOG_DEBUG("io_uring unavailable (%s); using epoll", reason.c_str());
  }
  if (kind == backend_kind::io_uring)
    _backend = std::make_unique<uring_backend>(*this, options);
  else
    _backend = std::make_unique<epoll_backend>(*this);
}

reactor::~reactor() = default;

backend_kind reactor::backend() const noexcept { return _backend->kind(); }

bool reactor::io_uring_available(std::string& reason) {
  // The answer cannot change while the process runs, and each probe sets a ring up and tears
  // it down: probe once.
  static std::once_flag once;
  static bool available = false;
  static std::string why;
  std::call_once(once, [] { available = uring_backend::probe(why); });
  if (!available) reason = why;
  return available;
}

void reactor::defer(std::move_only_function<void()> fn) { _deferred.push_back(std::move(fn)); }

void reactor::run() {
  while (!_stopping) {
    refresh_clock();
    drain_mailbox();
    int timeout_ms = 0;
    if (!_stopping && !has_pending_work()) {
      std::optional<std::uint64_t> delay = _timers.next_delay_ms();
      timeout_ms = !delay ? -1 : *delay > INT_MAX ? INT_MAX : static_cast<int>(*delay);
    }
    // Senders write our eventfd only while we announce that we may sleep (reactor_group.cc).
    bool announced = false;
    if (timeout_ms != 0 && _group != nullptr) {
      announced = _group->prepare_to_sleep(_id);
      if (!announced) timeout_ms = 0;
    }
    _backend->wait(timeout_ms);
    if (announced) _group->woke_up(_id);
    refresh_clock();
    _timers.advance(_now_ms);
    _backend->dispatch();
    end_of_iteration();
  }
  _stopping = false;
}

void reactor::refresh_clock() noexcept { _now_ms = monotonic_ms(); }

void reactor::drain_mailbox() {
  if (_group != nullptr) _group->drain(*this);
}

bool reactor::has_pending_work() const noexcept {
  return !_deferred.empty() || _dirty_head != nullptr || _closed_head != nullptr ||
         _closed_listeners != nullptr || _dirty_datagrams != nullptr || _closed_datagrams != nullptr;
}

void reactor::end_of_iteration() {
  for (int pass = 0; pass < max_end_passes && has_pending_work(); ++pass) {
    run_deferred();
    flush_dirty();
    run_closed();
  }
}

void reactor::run_deferred() {
  if (_deferred.empty()) return;
  // Swapping keeps both vectors' capacity: no allocation once they have grown.
  _deferred_running.swap(_deferred);
  for (auto& fn : _deferred_running) fn();
  _deferred_running.clear();
}

void reactor::flush_dirty() {
  stream* s = std::exchange(_dirty_head, nullptr);
  while (s != nullptr) {
    stream* next = s->_next_dirty;
    s->_next_dirty = nullptr;
    s->_flags &= ~stream::flag_dirty;
    if (!(s->_flags & stream::flag_closing)) _backend->flush(*s);
    s = next;
  }
  datagram_socket* d = std::exchange(_dirty_datagrams, nullptr);
  while (d != nullptr) {
    datagram_socket* next = d->_next_dirty;
    d->_next_dirty = nullptr;
    d->_flags &= ~datagram_socket::flag_dirty;
    if (!d->closing()) {
      if (d->_pending_error != 0) d->_handler->on_datagram_error(std::exchange(d->_pending_error, 0));
      if (!d->closing()) _backend->flush_datagrams(*d);
    }
    d = next;
  }
}

void reactor::run_closed() {
  // The owner may free the stream or listener inside on_closed: read the link first.
  stream* s = std::exchange(_closed_head, nullptr);
  while (s != nullptr) {
    stream* next = s->_next_closed;
    s->_next_closed = nullptr;
    s->_handler->on_closed();
    s = next;
  }
  listener* l = std::exchange(_closed_listeners, nullptr);
  while (l != nullptr) {
    listener* next = l->_next_closed;
    l->_next_closed = nullptr;
    l->_handler->on_closed();
    l = next;
  }
  datagram_socket* d = std::exchange(_closed_datagrams, nullptr);
  while (d != nullptr) {
    datagram_socket* next = d->_next_closed;
    d->_next_closed = nullptr;
    d->_handler->on_closed();
    d = next;
  }
}

void reactor::mark_dirty(stream& s) noexcept {
  if (s._flags & stream::flag_dirty) return;
  s._flags |= stream::flag_dirty;
  s._next_dirty = _dirty_head;
  _dirty_head = &s;
}

void reactor::schedule_closed(stream& s) noexcept {
  s._next_closed = _closed_head;
  _closed_head = &s;
}

void reactor::schedule_closed(listener& l) noexcept {
  l._next_closed = _closed_listeners;
  _closed_listeners = &l;
}

void reactor::finish_close(stream& s) noexcept {
  if (s._flags & stream::flag_close_done) return;
  s._flags |= stream::flag_close_done;
  s._flags &= ~(stream::flag_read_armed | stream::flag_write_armed | stream::flag_registered);
  if (s._fd) --_open_streams;
  s._fd.reset();
  // Only now: a send in flight may have been reading these buffers until its completion.
  s._out.clear();
  schedule_closed(s);
}

void reactor::finish_close(listener& l) noexcept {
  if (l._close_done) return;
  l._close_done = true;
  l._armed = false;
  l._fd.reset();
  schedule_closed(l);
}

void reactor::mark_dirty(datagram_socket& d) noexcept {
  if (d._flags & datagram_socket::flag_dirty) return;
  d._flags |= datagram_socket::flag_dirty;
  d._next_dirty = _dirty_datagrams;
  _dirty_datagrams = &d;
}

void reactor::finish_close(datagram_socket& d) noexcept {
  if (d._flags & datagram_socket::flag_close_done) return;
  d._flags |= datagram_socket::flag_close_done;
  d._flags &= ~(datagram_socket::flag_recv_armed | datagram_socket::flag_send_armed |
                datagram_socket::flag_send_blocked | datagram_socket::flag_registered);
  d._fd.reset();
  // Only now: a sendmsg in flight may have been reading the queued bytes until its completion.
  d._out.clear();
  d._sending = 0;
  d._unsent = 0;
  d._next_closed = _closed_datagrams;
  _closed_datagrams = &d;
}

void reactor::queue_drained(stream& s) {
  s._handler->on_write_drained();
  constexpr std::uint32_t blocked = stream::flag_closing | stream::flag_shutdown_done |
                                    stream::flag_write_failed | stream::flag_write_armed;
  if ((s._flags & stream::flag_shutdown_pending) && !(s._flags & blocked) && s._out.empty())
    _backend->shutdown_write(s);
}

void reactor::report_later(stream& s, int error, bool connecting) {
  // Safe to hold &s: the stream cannot be freed before its on_closed, and on_closed runs after
  // the deferred functions of the same pass (end_of_iteration).
  defer([&s, error, connecting] {
    if (s.closing()) return;
    if (connecting) {
      s._flags &= ~stream::flag_connecting;
      s._handler->on_connected(error);
    } else {
      s._handler->on_stream_error(error);
    }
  });
}

bool reactor::accept_failed(listener& l, int error) {
  l._handler->on_accept_error(error);
  if (l._closing || !is_resource_error(error)) return false;
  arm_timer(l._retry_timer, listener::accept_retry_ms);
  return true;
}

}  // namespace postern::core
