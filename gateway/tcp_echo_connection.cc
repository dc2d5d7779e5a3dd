#include "gateway/tcp_echo_connection.h"

#include <cstring>

#include "core/log.h"
#include "gateway/worker.h"

namespace postern::gateway {

tcp_echo_connection::tcp_echo_connection(worker& owner, core::unique_fd fd, const route& r)
    : connection(owner),
      _stream(owner.reactor(), std::move(fd), *this),
      _max_pending_bytes(r.service->maximum_pending_bytes.value_or(owner.limits().default_max_pending_bytes)),
      _linger([this] { close_now(); }) {
  owner.adopt(*this);
  _stream.start_reading();
}

void tcp_echo_connection::on_readable(std::span<std::byte> bytes) {
  if (_state != state::open) return;
  _stream.write(std::span<const std::byte>(bytes));
  if (_stream.queued_bytes() > _max_pending_bytes && !_stream.reading_paused()) _stream.pause_reading();
}

void tcp_echo_connection::on_read_eof() {
  _peer_eof = true;
  if (_state == state::closed) return;
  if (_state == state::half_closed && _stream.queued_bytes() == 0) {
    close_now();
    return;
  }
  _state = state::half_closed;
  _stream.shutdown_write();
  if (_stream.queued_bytes() == 0) close_now();
}

void tcp_echo_connection::on_stream_error(int error) {
  LOG_DEBUG("tcp echo connection error: %s", std::strerror(error));
  close_now();
}

void tcp_echo_connection::on_write_drained() {
  if (_state == state::half_closed && _peer_eof) {
    close_now();
    return;
  }
  if (_state == state::open && _stream.reading_paused()) _stream.resume_reading();
}

void tcp_echo_connection::begin_drain() {
  if (_state != state::open) return;
  _state = state::half_closed;
  _stream.shutdown_write();
  if (_stream.reading_paused()) _stream.resume_reading();  // read (and drop) until the peer's FIN
  owner().reactor().arm_timer(_linger, owner().limits().close_linger_ms);
}

void tcp_echo_connection::abort() { close_now(); }

void tcp_echo_connection::close_now() {
  if (_state == state::closed) return;
  _state = state::closed;
  owner().reactor().disarm_timer(_linger);
  _stream.close();
}

void tcp_echo_connection::on_closed() {
  owner().forget(*this);
  delete this;
}

}  // namespace postern::gateway
