// backend: the private interface between a reactor and its kernel event mechanism (io_uring or
// epoll). Only core/reactor.cc and the two back ends include it. The reactor keeps the stream
// and listener state machines (flags, queues, lists); a back end turns "the stream wants to
// read / has bytes to send / is closing" into kernel operations and turns what the kernel says
// back into handler calls.
//
// Contracts every back end keeps:
// - Handler callbacks run only from wait() and flush(), never from inside the stream and
//   listener methods that call into the back end (errors found there go through
//   reactor::report_later).
// - A stream is finished (reactor::finish_close: fd closed, on_closed scheduled) only once no
//   kernel operation refers to it any more (stream::_in_flight == 0), and a listener and a
//   datagram socket likewise.
// - Nothing here allocates per message.
#pragma once

#include <sys/socket.h>

#include "core/datagram.h"
#include "core/reactor.h"

namespace postern::core {

class backend {
 public:
  backend() = default;
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;
  virtual ~backend() = default;

  virtual backend_kind kind() const noexcept = 0;

  // Makes the kernel side match the stream's wish to read: reading when flag_reading is set
  // and none of paused, eof, failed, connecting or closing is; not reading otherwise. Bytes
  // already on their way may still be delivered after a stop.
  virtual void update_reading(stream& s) = 0;
  // Called at the end of an iteration for a dirty stream that is not closing: starts sending
  // its queue (at most one send in flight per stream), or, when the queue is empty and no send
  // is in flight, performs a pending shutdown_write.
  virtual void flush(stream& s) = 0;
  // s has a fresh non-blocking socket and flag_connecting; starts connecting to addr
  // (addr_len <= sizeof(sockaddr_storage)). The result goes to on_connected from wait().
  virtual void connect(stream& s, const sockaddr* addr, socklen_t addr_len) = 0;
  // The queue is empty and nothing is being sent: shuts down the sending side now.
  virtual void shutdown_write(stream& s) = 0;
  // s has just got flag_closing: cancels what is in flight, and finishes the close at once or
  // when the last completion comes back.
  virtual void close_stream(stream& s) = 0;

  virtual void start_listener(listener& l) = 0;
  // l has just been marked closing: stops accepting; finishes as close_stream does.
  virtual void close_listener(listener& l) = 0;

  // Datagram sockets (datagram.h). start_datagram: d has just got flag_receiving; keeps a
  // receive armed from now until close. flush_datagrams: called at the end of an iteration
  // for a dirty socket that is not closing; starts sending its queue (at most one batch in
  // flight), or does nothing while a batch is in flight or the kernel refused more (the
  // completion or writability sends the rest). close_datagram: d has just got flag_closing;
  // finishes as close_stream does.
  virtual void start_datagram(datagram_socket& d) = 0;
  virtual void flush_datagrams(datagram_socket& d) = 0;
  virtual void close_datagram(datagram_socket& d) = 0;

  // Watches event_fd (an eventfd that other threads write to wake this reactor up) and keeps
  // its counter drained. May be called from the thread that builds the reactor, before run().
  virtual void watch_wakeup(int event_fd) = 0;

  // Submits what this iteration produced and waits up to timeout_ms for events (0: do not
  // wait; negative: no limit). Returns early on a signal. Dispatches nothing: the reactor reads
  // its clock and runs its timers between wait() and dispatch(), so that a timer armed by an
  // event handler counts from the time the event was seen, not from before the sleep.
  virtual void wait(int timeout_ms) = 0;
  // Delivers every event that wait() found ready.
  virtual void dispatch() = 0;
};

}  // namespace postern::core
