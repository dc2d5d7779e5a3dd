// uring_backend (see uring_backend.h).
//
// The ring. One per reactor, set up IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
// (completion work runs only when the reactor enters the kernel to wait, so it is batched and
// never interrupts a callback), falling back to IORING_SETUP_COOP_TASKRUN, then to neither, on
// kernels that refuse a flag. It is created disabled (IORING_SETUP_R_DISABLED) and enabled by
// the reactor's own thread at its first wait(): a single-issuer ring belongs to the thread
// that enables it, and a reactor_group builds its reactors on the main thread.
//
// Operations. Every SQE's user_data is the address of a backend_op slot embedded in its owner
// (STYLE 6); cancel requests carry no user_data and their completions are ignored.
// - A listener has one multishot accept, re-armed when the kernel ends it.
// - A stream has one multishot recv that picks buffers from the reactor's one provided-buffer
//   ring (group 0). The bytes go to on_readable straight from the kernel-filled buffer, and
//   the buffer goes back to the ring right after; the ring's tail is published once per batch
//   of completions. A recv that ends (no IORING_CQE_F_MORE) while the owner still wants bytes
//   is re-armed after the batch, when this batch's buffers are back: that is also how -ENOBUFS
//   (the ring ran dry) is handled, never as a stream error.
// - A stream has at most one sendmsg in flight, built from byte_queue::peek into the stream's
//   own iovec array; its completion consumes what was sent and sends the rest (a short send
//   is resubmitted). The queue keeps the bytes until the completion, so they stay valid while
//   the kernel reads them. A connect uses the same slot (no send can be in flight then).
// - A datagram socket has one recvmsg and a chain of sendmsg in flight: see uring_datagram.cc.
// - The wake-up eventfd has a multishot poll; its completions read the counter to reset it
//   (an IORING_OP_READ on a non-blocking eventfd completes at once with -EAGAIN).
// - Closing cancels every operation on the fd (IORING_ASYNC_CANCEL_FD | _ALL); the fd is
//   closed and on_closed scheduled when the last completion has come back (_in_flight == 0).
// Nothing is submitted on the spot: everything prepared during an iteration goes to the kernel
// in the one io_uring_enter that next waits, whose timeout is the timer wheel's next delay
// (IORING_FEAT_EXT_ARG), so timers need no timeout operation either.
#include "core/uring_backend.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "core/log.h"

namespace postern::core {
namespace {

constexpr unsigned setup_common =
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CLAMP | IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
constexpr unsigned setup_modes[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_COOP_TASKRUN,
    0,
};
constexpr unsigned cq_per_sq = 4;  // multishot operations post many completions per submission
constexpr unsigned short buffer_group = 0;
constexpr unsigned max_buffer_ring_entries = 32768;

// Sets ring up in the best mode this kernel accepts; returns 0 or a negative errno value.
int create_ring(unsigned entries, io_uring& ring, unsigned& flags) {
  int rc = -EINVAL;
  for (unsigned mode : setup_modes) {
    io_uring_params params{};
    params.flags = setup_common | mode;
    params.cq_entries = entries * cq_per_sq;
    rc = io_uring_queue_init_params(entries, &ring, &params);
    if (rc == 0) {
      flags = params.flags;
      return 0;
    }
    // Only EINVAL means "this flag is unknown here"; anything else will not change with fewer flags.
    if (rc != -EINVAL) return rc;
  }
  return rc;
}

std::string setup_error(int error) {
  switch (error) {
    case ENOSYS:
      return "the kernel has no io_uring (io_uring_setup: ENOSYS)";
    case EPERM:
    case EACCES:
      return std::string("io_uring_setup is forbidden here (") + (error == EPERM ? "EPERM" : "EACCES") +
             "): a seccomp filter, the container runtime or the kernel.io_uring_disabled sysctl blocks it";
    case EINVAL:
      return "the kernel refused every ring setup tried (EINVAL): it is older than 5.18";
    case ENOMEM:
      return "io_uring_setup: out of memory or locked-memory limit (ENOMEM)";
    default:
      return std::string("io_uring_setup: ") + std::strerror(error);
  }
}

unsigned round_up_pow2(unsigned value) noexcept {
  unsigned p = 1;
  while (p < value) p <<= 1;
  return p;
}

std::size_t page_round(std::size_t bytes) noexcept {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

// Registers a provided-buffer ring of `entries` entries in group buffer_group over memory,
// which must stay mapped until the ring is gone. Returns 0 or a negative errno value.
int register_buffer_ring(io_uring& ring, void* memory, unsigned entries) {
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(memory);
  reg.ring_entries = entries;
  reg.bgid = buffer_group;
  return io_uring_register_buf_ring(&ring, &reg, 0);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RAII pieces

uring_backend::mapping::mapping(std::size_t bytes) : _bytes(page_round(bytes)) {
  void* p = ::mmap(nullptr, _bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw std::runtime_error("io_uring: cannot map " + std::to_string(_bytes) +
                             " bytes for receive buffers: " + std::strerror(errno));
  }
  _data = p;
}

uring_backend::mapping& uring_backend::mapping::operator=(mapping&& other) noexcept {
  if (this != &other) {
    if (_data != nullptr) ::munmap(_data, _bytes);
    _data = std::exchange(other._data, nullptr);
    _bytes = std::exchange(other._bytes, 0);
  }
  return *this;
}

uring_backend::mapping::~mapping() {
  if (_data != nullptr) ::munmap(_data, _bytes);
}

uring_backend::ring::~ring() {
  if (live) io_uring_queue_exit(&uring);
}

// ---------------------------------------------------------------------------------------------
// set-up and probe

uring_backend::uring_backend(reactor& owner, const reactor_options& options) : _reactor(owner) {
  if (options.provided_buffers == 0)
    throw std::runtime_error("reactor option provided_buffers must be at least 1");
  const unsigned entries = options.ring_entries == 0 ? 1 : options.ring_entries;
  int rc = create_ring(entries, _ring.uring, _setup_flags);
  if (rc < 0) throw std::runtime_error("cannot start io_uring: " + setup_error(-rc));
  _ring.live = true;
  if (!(_ring.uring.features & IORING_FEAT_EXT_ARG))
    throw std::runtime_error("cannot start io_uring: the kernel has no timed wait (IORING_FEAT_EXT_ARG, 5.11)");

  _buffer_count = options.provided_buffers < max_buffer_ring_entries ? options.provided_buffers
                                                                      : max_buffer_ring_entries;
  _buffer_bytes = buffer_pool::default_buffer_bytes;
  const unsigned ring_entries = round_up_pow2(_buffer_count);
  _buffer_ring_memory = mapping(ring_entries * sizeof(io_uring_buf));
  _buffer_memory = mapping(std::size_t{_buffer_count} * _buffer_bytes);
  _buffer_ring = static_cast<io_uring_buf_ring*>(_buffer_ring_memory.data());
  _buffer_base = static_cast<std::byte*>(_buffer_memory.data());
  io_uring_buf_ring_init(_buffer_ring);
  rc = register_buffer_ring(_ring.uring, _buffer_ring, ring_entries);
  if (rc < 0) {
    throw std::runtime_error(std::string("cannot start io_uring: registering the provided-buffer ring failed: ") +
                             std::strerror(-rc));
  }
  _buffer_mask = static_cast<unsigned>(io_uring_buf_ring_mask(ring_entries));
  for (unsigned id = 0; id < _buffer_count; ++id)
    io_uring_buf_ring_add(_buffer_ring, buffer(id), static_cast<unsigned>(_buffer_bytes),
                          static_cast<unsigned short>(id), static_cast<int>(_buffer_mask), static_cast<int>(id));
  io_uring_buf_ring_advance(_buffer_ring, static_cast<int>(_buffer_count));
  _rearm.reserve(256);
  LOG_DEBUG("io_uring ring: %u entries, %s, %u receive buffers of %zu bytes", entries,
            (_setup_flags & IORING_SETUP_DEFER_TASKRUN) ? "single issuer, deferred task running"
            : (_setup_flags & IORING_SETUP_COOP_TASKRUN) ? "cooperative task running"
                                                          : "plain task running",
            _buffer_count, _buffer_bytes);
}

uring_backend::~uring_backend() = default;

bool uring_backend::probe(std::string& reason) {
  ring r;
  unsigned flags = 0;
  int rc = create_ring(8, r.uring, flags);
  if (rc < 0) {
    reason = setup_error(-rc);
    return false;
  }
  r.live = true;
  if (!(r.uring.features & IORING_FEAT_EXT_ARG)) {
    reason = "the kernel has no timed wait (IORING_FEAT_EXT_ARG): it is older than 5.11";
    return false;
  }
  io_uring_probe* ops = io_uring_get_probe_ring(&r.uring);
  if (ops == nullptr) {
    reason = "the kernel cannot list its io_uring opcodes (IORING_REGISTER_PROBE): it is older than 5.6";
    return false;
  }
  struct needed {
    int op;
    const char* what;
  };
  // The probe lists opcodes, not flags: multishot accept came in 5.19 with IORING_OP_SOCKET and
  // multishot recv in 6.0 with IORING_OP_SEND_ZC, so those opcodes stand for the flags.
  static constexpr needed required[] = {
      {IORING_OP_ACCEPT, "accept"},           {IORING_OP_RECV, "recv"},
      {IORING_OP_SENDMSG, "sendmsg"},         {IORING_OP_CONNECT, "connect"},
      {IORING_OP_RECVMSG, "recvmsg"},
      {IORING_OP_ASYNC_CANCEL, "cancel"},     {IORING_OP_POLL_ADD, "poll"},
      {IORING_OP_SOCKET, "multishot accept (5.19)"},
      {IORING_OP_SEND_ZC, "multishot recv (6.0)"},
  };
  for (const needed& n : required) {
    if (!io_uring_opcode_supported(ops, n.op)) {
      reason = std::string("the kernel's io_uring lacks ") + n.what + ": it is too old";
      io_uring_free_probe(ops);
      return false;
    }
  }
  io_uring_free_probe(ops);
  mapping memory(8 * sizeof(io_uring_buf));
  rc = register_buffer_ring(r.uring, memory.data(), 8);
  if (rc < 0) {
    reason = std::string("provided-buffer rings cannot be registered (") + std::strerror(-rc) +
             "): the kernel is older than 5.19";
    return false;
  }
  io_uring_unregister_buf_ring(&r.uring, buffer_group);
  return true;
}

void uring_backend::enable() {
  if (_enabled) [[likely]]
    return;
  _enabled = true;
  int rc = io_uring_register(static_cast<unsigned>(_ring.uring.ring_fd), IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  if (rc < 0) {
    // Happens at the loop's start (before anything was submitted): a start-up failure.
    throw std::runtime_error(std::string("cannot start io_uring: enabling the ring failed: ") +
                             std::strerror(rc == -1 ? errno : -rc));
  }
}

// ---------------------------------------------------------------------------------------------
// submission

io_uring_sqe* uring_backend::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&_ring.uring);
  if (sqe != nullptr) [[likely]]
    return sqe;
  // More operations in one iteration than the queue holds: hand them to the kernel now. With
  // IORING_SETUP_SUBMIT_ALL it takes every entry unless it is out of memory.
  enable();
  int rc = io_uring_submit(&_ring.uring);
  sqe = io_uring_get_sqe(&_ring.uring);
  if (sqe == nullptr) {
    // Without a submission slot no stream can make progress or even close: the ring is lost.
    LOG_ERROR("io_uring: the kernel takes no more submissions (%s); stopping",
              std::strerror(rc < 0 ? -rc : EAGAIN));
    std::abort();
  }
  return sqe;
}

void uring_backend::cancel(const backend_op& op) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel(sqe, const_cast<backend_op*>(&op), 0);
  io_uring_sqe_set_data(sqe, nullptr);
}

void uring_backend::arm_recv(stream& s) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv_multishot(sqe, s.fd(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  io_uring_sqe_set_data(sqe, &s._recv_op);
  s._flags |= stream::flag_read_armed;
  ++s._in_flight;
}

void uring_backend::submit_send(stream& s) {
  const std::size_t count = s._out.peek(s._send_iov, stream::max_send_iovecs);
  s._send_msg = msghdr{};
  s._send_msg.msg_iov = s._send_iov;
  s._send_msg.msg_iovlen = count;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_sendmsg(sqe, s.fd(), &s._send_msg, MSG_NOSIGNAL);
  s._send_op.what = backend_op::kind::stream_send;
  io_uring_sqe_set_data(sqe, &s._send_op);
  s._flags |= stream::flag_write_armed;
  ++s._in_flight;
}

void uring_backend::arm_accept(listener& l) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, l.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data(sqe, &l._accept_op);
  l._armed = true;
  ++l._in_flight;
}

void uring_backend::arm_wakeup() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_multishot(sqe, _wakeup_fd, POLLIN);
  io_uring_sqe_set_data(sqe, &_wakeup_op);
}

void uring_backend::update_reading(stream& s) {
  const bool armed = s._flags & stream::flag_read_armed;
  if (s.wants_read()) {
    if (!armed) arm_recv(s);
  } else if (armed && !s.closing()) {
    // Paused (or at EOF): stop the multishot recv. Its final completion (-ECANCELED) re-arms it
    // if the owner resumed meanwhile.
    cancel(s._recv_op);
  }
}

void uring_backend::flush(stream& s) {
  constexpr std::uint32_t busy = stream::flag_write_armed | stream::flag_connecting |
                                 stream::flag_write_failed | stream::flag_closing;
  if ((s._flags & busy) || s.fd() < 0) return;
  if (!s._out.empty())
    submit_send(s);
  else if ((s._flags & (stream::flag_shutdown_pending | stream::flag_shutdown_done)) == stream::flag_shutdown_pending)
    shutdown_write(s);
}

void uring_backend::connect(stream& s, const sockaddr* addr, socklen_t addr_len) {
  // The kernel copies the address when it takes the SQE, which is at the next wait: keep it
  // in the stream until then (the send iovecs are unused while connecting).
  std::memcpy(&s._connect_addr, addr, addr_len);
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_connect(sqe, s.fd(), reinterpret_cast<const sockaddr*>(&s._connect_addr), addr_len);
  s._send_op.what = backend_op::kind::stream_connect;
  io_uring_sqe_set_data(sqe, &s._send_op);
  s._flags |= stream::flag_write_armed;
  ++s._in_flight;
}

void uring_backend::shutdown_write(stream& s) {
  // A plain shutdown(2), not IORING_OP_SHUTDOWN: the kernel always hands that opcode to an
  // io-wq worker thread, which costs more than the one system call per connection it saves.
  s._flags |= stream::flag_shutdown_done;
  if (::shutdown(s.fd(), SHUT_WR) < 0 && errno != ENOTCONN) {
    s._flags |= stream::flag_write_failed;
    s._handler->on_stream_error(errno);
  }
}

void uring_backend::close_stream(stream& s) {
  if (s._in_flight == 0) {
    _reactor.finish_close(s);
    return;
  }
  // One request cancels the recv, the send or connect, whichever are in flight; the fd stays
  // open (so it cannot be reused) until their completions are back.
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel_fd(sqe, s.fd(), IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data(sqe, nullptr);
}

void uring_backend::start_listener(listener& l) {
  if (!l._armed && !l._closing) arm_accept(l);
}

void uring_backend::close_listener(listener& l) {
  if (l._in_flight == 0) {
    _reactor.finish_close(l);
    return;
  }
  cancel(l._accept_op);
}

void uring_backend::watch_wakeup(int event_fd) {
  _wakeup_fd = event_fd;
  arm_wakeup();
}

// ---------------------------------------------------------------------------------------------
// waiting and completions

void uring_backend::wait(int timeout_ms) {
  enable();
  // Completions already in the queue (posted while a full submission queue was flushed) must
  // not be waited for: they count as events.
  if (io_uring_cq_ready(&_ring.uring) > 0) timeout_ms = 0;
  int rc;
  if (timeout_ms == 0) {
    rc = io_uring_submit_and_get_events(&_ring.uring);
  } else if (timeout_ms < 0) {
    rc = io_uring_submit_and_wait(&_ring.uring, 1);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
    io_uring_cqe* first = nullptr;
    rc = io_uring_submit_and_wait_timeout(&_ring.uring, &first, 1, &ts, nullptr);
  }
  // ETIME: the timeout; EINTR: a signal; EAGAIN, EBUSY: the kernel is short of memory or
  // completion space for now (what was not submitted stays queued for the next wait).
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    // EEXIST (the loop runs on another thread than the one the ring belongs to), EBADFD,
    // EINVAL, EFAULT: a programming error, after which every wait fails again; carrying on
    // would only spin.
    LOG_ERROR("io_uring: waiting for completions failed: %s; stopping", std::strerror(-rc));
    std::abort();
  }
}

void uring_backend::dispatch() {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&_ring.uring, head, cqe) {
    complete(*cqe);
    ++seen;
  }
  io_uring_cq_advance(&_ring.uring, seen);
  if (_returned != 0) {
    io_uring_buf_ring_advance(_buffer_ring, static_cast<int>(_returned));
    _returned = 0;
  }
  // Now that this batch's buffers are back, re-arm the recvs that ended while their owner still
  // wants bytes (a stream cannot be freed before end_of_iteration, so the pointers are live).
  for (stream* s : _rearm)
    if (s->wants_read() && !(s->_flags & stream::flag_read_armed)) arm_recv(*s);
  _rearm.clear();
}

void uring_backend::complete(const io_uring_cqe& cqe) {
  auto* op = static_cast<backend_op*>(io_uring_cqe_get_data(&cqe));
  if (op == nullptr) return;  // a cancel request's own completion: nothing waits for it
  // The one place where a negative result becomes an errno value.
  const int error = cqe.res < 0 ? -cqe.res : 0;
  const std::uint32_t value = cqe.res < 0 ? 0 : static_cast<std::uint32_t>(cqe.res);
  switch (op->what) {
    case backend_op::kind::stream_recv:
      on_recv(*static_cast<stream*>(op->owner), value, error, cqe.flags);
      break;
    case backend_op::kind::stream_send:
      on_send(*static_cast<stream*>(op->owner), value, error);
      break;
    case backend_op::kind::stream_connect:
      on_connect(*static_cast<stream*>(op->owner), error);
      break;
    case backend_op::kind::listener_accept:
      on_accept(*static_cast<listener*>(op->owner), value, error, cqe.flags);
      break;
    case backend_op::kind::wakeup:
      on_wakeup(error, cqe.flags);
      break;
    case backend_op::kind::datagram_recv:
      on_datagram_recv(*static_cast<datagram_socket*>(op->owner), value, error);
      break;
    case backend_op::kind::datagram_send:
      on_datagram_send(*static_cast<datagram_socket*>(op->owner), error);
      break;
    case backend_op::kind::datagram_writable:
      on_datagram_writable(*static_cast<datagram_socket*>(op->owner), error);
      break;
  }
}

void uring_backend::give_back(unsigned id) noexcept {
  io_uring_buf_ring_add(_buffer_ring, buffer(id), static_cast<unsigned>(_buffer_bytes),
                        static_cast<unsigned short>(id), static_cast<int>(_buffer_mask),
                        static_cast<int>(_returned));
  ++_returned;
}

void uring_backend::on_recv(stream& s, std::uint32_t bytes, int error, std::uint32_t flags) {
  const bool was_closing = s.closing();
  const bool final = !(flags & IORING_CQE_F_MORE);
  // Bookkeeping first: a handler that closes the stream from on_readable must see the recv
  // as ended if this is its last completion.
  if (final) {
    s._flags &= ~stream::flag_read_armed;
    --s._in_flight;
  }
  if (flags & IORING_CQE_F_BUFFER) {
    const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
    if (!was_closing && bytes > 0) s._handler->on_readable({buffer(id), bytes});
    give_back(id);
  }
  if (was_closing) {
    if (s._in_flight == 0) _reactor.finish_close(s);
    return;
  }
  if (!final || s.closing()) return;
  if (error == 0 && bytes == 0) {
    s._flags |= stream::flag_eof;
    s._handler->on_read_eof();
  } else if (error != 0 && error != ECANCELED && error != ENOBUFS) {
    s._flags |= stream::flag_read_failed;
    s._handler->on_stream_error(error);
  } else if (s.wants_read()) {
    // Ended by a pause that was since undone, by the ring running dry, or by the kernel.
    _rearm.push_back(&s);
  }
}

void uring_backend::on_send(stream& s, std::uint32_t bytes, int error) {
  const bool was_closing = s.closing();
  s._flags &= ~stream::flag_write_armed;
  --s._in_flight;
  if (was_closing) {
    if (s._in_flight == 0) _reactor.finish_close(s);
    return;
  }
  if (error != 0) {
    s._flags |= stream::flag_write_failed;
    s._handler->on_stream_error(error);
    return;
  }
  s._out.consume(bytes);
  if (!s._out.empty()) {
    submit_send(s);
    return;
  }
  _reactor.queue_drained(s);
}

void uring_backend::on_connect(stream& s, int error) {
  const bool was_closing = s.closing();
  s._flags &= ~(stream::flag_write_armed | stream::flag_connecting);
  --s._in_flight;
  if (was_closing) {
    if (s._in_flight == 0) _reactor.finish_close(s);
    return;
  }
  s._handler->on_connected(error);
  if (error != 0 || s.closing()) return;
  update_reading(s);
  if (!s._out.empty() || (s._flags & stream::flag_shutdown_pending)) _reactor.mark_dirty(s);
}

void uring_backend::on_accept(listener& l, std::uint32_t fd, int error, std::uint32_t flags) {
  const bool was_closing = l._closing;
  const bool final = !(flags & IORING_CQE_F_MORE);
  if (final) {
    l._armed = false;
    --l._in_flight;
  }
  unique_fd accepted(error == 0 ? static_cast<int>(fd) : -1);
  if (was_closing) {  // a connection accepted after close() is closed again by `accepted`
    if (l._in_flight == 0) _reactor.finish_close(l);
    return;
  }
  bool paused = false;
  if (error == 0)
    l._handler->on_accept(std::move(accepted));
  else if (error != ECANCELED)
    paused = _reactor.accept_failed(l, error);
  if (l._closing) return;
  if (paused) {
    if (l._armed) cancel(l._accept_op);  // the retry timer starts it again
  } else if (final && !l._retry_timer.armed()) {
    arm_accept(l);
  }
}

void uring_backend::on_wakeup(int error, std::uint32_t flags) {
  if (error == 0) {
    std::uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(_wakeup_fd, &count, sizeof count);  // resets the counter
  } else if (error != ECANCELED) {
    // Without the poll, messages from other threads would wait for the next unrelated event.
    LOG_ERROR("io_uring: polling the wake-up eventfd failed: %s; messages may be late", std::strerror(error));
    return;
  }
  if (!(flags & IORING_CQE_F_MORE)) arm_wakeup();
}

}  // namespace postern::core
