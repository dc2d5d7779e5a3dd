// reactor: one event loop per core that owns everything it touches (DESIGN §3, STYLE 1): its
// io_uring or epoll instance, listeners, streams, buffer pool, timer wheel and the receiving
// ends of its mailboxes. Every method is called on the reactor's own thread, except
// reactor_group::post from the main thread.
//
// Streams and listeners are owned by the layer above (gateway/ connections embed a stream).
// Their handlers are told of events; a stream or listener is freed only after its on_closed()
// (STYLE 7: closing is a state, freeing comes later). on_closed() is never called from inside
// close(): it runs later in the same or the next loop iteration, so a handler may call close()
// from any callback and go on touching itself until it returns.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer_pool.h"
#include "core/byte_queue.h"
#include "core/timer_wheel.h"
#include "core/unique_fd.h"

namespace postern::core {

enum class backend_kind : std::uint8_t { automatic, io_uring, epoll };
std::string_view to_string(backend_kind kind);

class reactor;
class reactor_group;
class backend;
class uring_backend;
class epoll_backend;
class datagram_socket;

// One operation slot of a back end, embedded in the stream, listener or datagram socket it
// belongs to (STYLE 6):
// io_uring puts its address in an SQE's user_data and epoll in epoll_event.data.ptr, so every
// completion or readiness event leads straight back to a live owner of a known kind. Only the
// back ends read it.
struct backend_op {
  enum class kind : std::uint8_t {
    stream_recv,      // owner is a stream: its read (multishot recv, or epoll interest)
    stream_send,      // owner is a stream: its one sendmsg in flight (io_uring)
    stream_connect,   // owner is a stream: its connect (io_uring), in the send slot
    listener_accept,  // owner is a listener: its multishot accept, or epoll interest
    wakeup,           // owner is the back end: the mailbox wake-up eventfd
    datagram_recv,    // owner is a datagram_socket: its recvmsg (io_uring), or epoll interest
    datagram_send,    // owner is a datagram_socket: its chain of sendmsg in flight (io_uring)
    datagram_writable, // owner is a datagram_socket: its poll for room after -EAGAIN (io_uring)
  };
  kind what;
  void* owner;
};

// Events of a stream, implemented by its owner.
class stream_handler {
 public:
  // Bytes arrived. The span is valid only during the call (it may be a kernel-provided buffer
  // that goes back to the ring afterwards); the handler copies what it keeps. The bytes are
  // mutable so a parser may unmask in place. Bytes already in flight may still arrive after
  // pause_reading().
  virtual void on_readable(std::span<std::byte> bytes) = 0;
  // The peer shut down its sending side (a read returned 0). No on_readable follows.
  virtual void on_read_eof() = 0;
  // A read, write or connect failed with this errno value. The handler normally closes.
  virtual void on_stream_error(int error) = 0;
  // Everything queued has been handed to the kernel (the queue went from non-empty to empty).
  virtual void on_write_drained() {}
  // Result of stream::connect(): 0 on success or an errno value (ETIMEDOUT never comes from
  // here: connect timeouts are the owner's timer).
  virtual void on_connected(int error) { (void)error; }
  // No operation refers to the stream any more; the owner may free it (and itself) now.
  virtual void on_closed() = 0;

 protected:
  ~stream_handler() = default;
};

// A connected TCP (or UNIX) socket with an output queue. Writes are corked: bytes written
// during one loop iteration leave in one send at the end of it.
class stream final {
 public:
  // Adopts an accepted (or otherwise connected) non-blocking socket.
  stream(reactor& owner, unique_fd fd, stream_handler& handler);
  // A stream that will connect(); the socket is made by connect().
  stream(reactor& owner, stream_handler& handler);
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream();  // must be closed (on_closed seen) or never opened

  // Starts a non-blocking connect to addr; on_connected() tells the result.
  void connect(const sockaddr* addr, socklen_t addr_len);

  // Reading delivers on_readable() until EOF, an error, pause or close.
  void start_reading();
  void pause_reading();
  void resume_reading();
  bool reading_paused() const noexcept { return _flags & flag_paused; }

  // Queues bytes for sending (copied into the pool-backed queue).
  void write(std::span<const std::byte> bytes);
  void write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }
  std::size_t queued_bytes() const noexcept { return _out.size(); }
  // After everything queued has been sent, shut down the sending side (TCP FIN).
  void shutdown_write();
  // Stops reading and writing now; bytes still queued are dropped. on_closed() follows.
  void close();
  bool closing() const noexcept { return _flags & flag_closing; }

  int fd() const noexcept { return _fd.get(); }
  reactor& owner() const noexcept { return *_reactor; }

 private:
  friend class reactor;
  friend class uring_backend;
  friend class epoll_backend;

  enum flag : std::uint32_t {
    flag_reading = 1u << 0,         // the owner wants bytes
    flag_paused = 1u << 1,          // the owner paused reading (backpressure)
    flag_read_armed = 1u << 2,      // a read (multishot recv or epoll interest) is active
    flag_write_armed = 1u << 3,     // a send is in flight (io_uring) or EPOLLOUT is wanted
    flag_shutdown_pending = 1u << 4,// shutdown(SHUT_WR) once the queue is empty
    flag_shutdown_done = 1u << 5,
    flag_closing = 1u << 6,         // close() was called; waiting for in-flight operations
    flag_dirty = 1u << 7,           // on the reactor's flush list
    flag_connecting = 1u << 8,
    flag_eof = 1u << 9,             // the peer's EOF was delivered
    flag_registered = 1u << 10,     // known to the backend (epoll: added to the interest set)
    flag_read_failed = 1u << 11,    // a read failed (on_stream_error told): no more reading
    flag_write_failed = 1u << 12,   // a send failed (on_stream_error told): no more sending
    flag_close_done = 1u << 13,     // fd closed and on_closed scheduled (exactly once)
  };

  // Whether the owner wants bytes now: reading, and not paused, at EOF, failed, connecting or
  // closing. The back ends keep a read armed exactly while this holds (STYLE 8: the flags are
  // the state; this is the one predicate derived from them).
  bool wants_read() const noexcept {
    constexpr std::uint32_t mask = flag_reading | flag_paused | flag_eof | flag_read_failed |
                                   flag_connecting | flag_closing;
    return (_flags & mask) == flag_reading && _fd;
  }

  reactor* _reactor;
  stream_handler* _handler;
  unique_fd _fd;
  byte_queue _out;
  std::uint32_t _flags = 0;
  std::uint32_t _in_flight = 0;     // io_uring operations whose completion has not come back
  stream* _next_dirty = nullptr;    // reactor flush list
  stream* _next_closed = nullptr;   // reactor list of streams whose on_closed is due
  backend_op _recv_op{backend_op::kind::stream_recv, this};
  backend_op _send_op{backend_op::kind::stream_send, this};  // send or connect: never both
  // Space the io_uring back end needs for one sendmsg in flight, or, while an io_uring connect
  // is in flight (no send can be then), the peer's address until the kernel has taken it.
  static constexpr std::size_t max_send_iovecs = 16;
  union {
    iovec _send_iov[max_send_iovecs];
    sockaddr_storage _connect_addr;
  };
  msghdr _send_msg{};
};

class listener_handler {
 public:
  // A new connection, already non-blocking and close-on-exec.
  virtual void on_accept(unique_fd fd) = 0;
  // accept failed in a way that stopped nothing (EMFILE, ENFILE, ENOBUFS...); logged by the
  // handler. The listener goes on accepting.
  virtual void on_accept_error(int error) { (void)error; }
  virtual void on_closed() {}

 protected:
  ~listener_handler() = default;
};

// A listening socket served by one reactor (multishot accept on io_uring).
class listener final {
 public:
  listener(reactor& owner, unique_fd listening_fd, listener_handler& handler);
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener();

  void start();
  // Stops accepting and closes the socket; on_closed() follows.
  void close();
  int fd() const noexcept { return _fd.get(); }

 private:
  friend class reactor;
  friend class uring_backend;
  friend class epoll_backend;
  reactor* _reactor;
  listener_handler* _handler;
  unique_fd _fd;
  bool _closing = false;
  bool _armed = false;
  std::uint32_t _in_flight = 0;
  listener* _next_closed = nullptr;
  bool _close_done = false;  // fd closed and on_closed scheduled (exactly once)
  backend_op _accept_op{backend_op::kind::listener_accept, this};
  // After an accept failed for lack of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) accepting
  // pauses this long, so that a full fd table does not turn into a busy loop.
  static constexpr std::uint64_t accept_retry_ms = 100;
  timer _retry_timer{[this] { start(); }};
};

// Opens a non-blocking TCP listening socket bound to addr with SO_REUSEADDR and (when
// reuse_port) SO_REUSEPORT, so each reactor can hold its own socket for the same address.
// Returns the errno value on failure.
std::expected<unique_fd, int> open_listen_socket(const sockaddr* addr, socklen_t addr_len,
                                                 bool reuse_port, int backlog = 4096);

struct reactor_options {
  backend_kind backend = backend_kind::automatic;
  unsigned ring_entries = 4096;       // io_uring submission queue size
  unsigned provided_buffers = 1024;   // io_uring recv buffers (each buffer_pool::default_buffer_bytes)
};

class reactor {
 public:
  // Creates the back end named in options (automatic: io_uring when the kernel allows it, else
  // epoll). Throws std::runtime_error when a forced back end cannot start.
  reactor(unsigned id, const reactor_options& options);
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;
  ~reactor();

  unsigned id() const noexcept { return _id; }
  backend_kind backend() const noexcept;
  buffer_pool& buffers() noexcept { return _buffers; }

  // Coarse monotonic milliseconds, read once per loop iteration.
  std::uint64_t now_ms() const noexcept { return _now_ms; }
  void arm_timer(timer& t, std::uint64_t delay_ms) { _timers.arm(t, delay_ms); }
  void disarm_timer(timer& t) noexcept { _timers.disarm(t); }
  timer_wheel& timers() noexcept { return _timers; }

  // Streams of this reactor that hold a socket (accepted, connecting or connected, until the
  // socket is closed): each is one file descriptor. The gateway compares it with its share of
  // the process's descriptor limit before it takes a new client (worker's connection limit).
  std::size_t open_streams() const noexcept { return _open_streams; }

  // Runs fn on this reactor after the current callback returns (same thread).
  void defer(std::move_only_function<void()> fn);

  // Runs the loop until stop(). Called on the reactor's thread.
  void run();
  // Makes run() return after the current iteration. Call on the reactor's thread (other
  // threads post a message that calls it).
  void stop() noexcept { _stopping = true; }

  // Set by reactor_group: where cross-reactor messages go (nullptr when standalone).
  void attach_group(reactor_group* group) noexcept { _group = group; }
  reactor_group* group() const noexcept { return _group; }

  // Probes whether io_uring with the features postern needs can run here; on failure, fills
  // reason with a sentence for the log.
  static bool io_uring_available(std::string& reason);

 private:
  friend class stream;
  friend class listener;
  friend class datagram_socket;
  friend class uring_backend;
  friend class epoll_backend;
  friend class reactor_group;

  void mark_dirty(stream& s) noexcept;    // flush s at the end of this iteration
  void schedule_closed(stream& s) noexcept;    // call s's on_closed at the end of this iteration
  void schedule_closed(listener& l) noexcept;
  void mark_dirty(datagram_socket& d) noexcept;  // flush d's queue at the end of this iteration
  void end_of_iteration();                // flush dirty streams, run deferred work, closes
  void refresh_clock() noexcept;
  void drain_mailbox();                   // runs messages posted by other threads
  // Back-end helpers. finish_close: nothing is in flight any more; closes the fd, drops the
  // queue and schedules on_closed (once). queue_drained: a send emptied the queue; tells the
  // handler and performs a pending shutdown_write. report_later: tells the handler of an error
  // (on_connected when connecting, else on_stream_error) from the deferred work of this
  // iteration, for errors found inside a stream method, where no callback may run.
  void finish_close(stream& s) noexcept;
  void finish_close(listener& l) noexcept;
  void finish_close(datagram_socket& d) noexcept;
  void queue_drained(stream& s);
  void report_later(stream& s, int error, bool connecting);
  // An accept failed: tells the handler; returns true when accepting must pause (a resource
  // error), in which case the retry timer is armed and the back end stops accepting.
  bool accept_failed(listener& l, int error);
  void run_deferred();
  void flush_dirty();
  void run_closed();
  bool has_pending_work() const noexcept;

  unsigned _id;
  std::size_t _open_streams = 0;
  buffer_pool _buffers;
  std::uint64_t _now_ms;
  timer_wheel _timers;
  std::unique_ptr<core::backend> _backend;
  stream* _dirty_head = nullptr;
  stream* _closed_head = nullptr;
  listener* _closed_listeners = nullptr;
  datagram_socket* _dirty_datagrams = nullptr;
  datagram_socket* _closed_datagrams = nullptr;
  std::vector<std::move_only_function<void()>> _deferred;
  std::vector<std::move_only_function<void()>> _deferred_running;  // swapped with _deferred
  reactor_group* _group = nullptr;
  bool _stopping = false;
};

}  // namespace postern::core
