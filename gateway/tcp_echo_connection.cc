#include "gateway/tcp_echo_connection.h"

#include "core/log.h"
#include "gateway/worker.h"

namespace postern::gateway {

tcp_echo_connection::tcp_echo_connection(worker& owner, core::unique_fd fd, const endpoint& ep, const route& r)
    : connection(owner),
      _max_pending_bytes(r.service->maximum_pending_bytes.value_or(owner.limits().default_max_pending_bytes)),
      _stall(owner.reactor(), owner.send_timeout_ms(*r.service), [this] { on_stall(); }) {
  const net::socket_address peer = net::peer_address_of(fd.get());
  _transport = owner.accepted_transport(ep, std::move(fd), *this);
  owner.adopt(*this);
  open_session(peer);
  owner.set_session_service(*this, *r.service);
  count_as_load();
  _transport->start();
}

tcp_echo_connection::tcp_echo_connection(worker& owner, std::unique_ptr<net::transport> t, const route& r,
                                         std::span<std::byte> early)
    : connection(owner),
      _transport(std::move(t)),
      _max_pending_bytes(r.service->maximum_pending_bytes.value_or(owner.limits().default_max_pending_bytes)),
      _stall(owner.reactor(), owner.send_timeout_ms(*r.service), [this] { on_stall(); }) {
  _transport->set_handler(*this);
  owner.adopt(*this);
  open_session(net::peer_address_of(_transport->fd()));  // over a reverse link: the link's peer
  client_session().link = session::link_use::arrived_over_link;
  owner.set_session_service(*this, *r.service);
  count_as_load();
  if (!early.empty()) on_transport_data(early);
}

void tcp_echo_connection::on_transport_data(std::span<std::byte> bytes) {
  if (_state != state::open) return;
  client_session().bytes_in += bytes.size();
  client_session().bytes_out += bytes.size();
  _transport->write(std::span<const std::byte>(bytes));
  if (_transport->queued_bytes() > _max_pending_bytes && !_transport->reading_paused()) {
    _transport->pause_reading();
    _stall.blocked();
  }
}

void tcp_echo_connection::on_stall() {
  LOG_INFO("tcp echo closed: the peer read none of %zu queued bytes for %llu ms (send.timeout)",
           _transport ? _transport->queued_bytes() : std::size_t{0}, static_cast<unsigned long long>(_stall.timeout_ms()));
  client_session().end_as("send-timeout");
  finish(false);
}

void tcp_echo_connection::on_transport_eof() {
  // What was read has been queued; the graceful end sends it, then our FIN.
  _peer_eof = true;
  client_session().end_as("eof");
  finish(true);
}

void tcp_echo_connection::on_transport_error(int, std::string_view what) {
  LOG_DEBUG("tcp echo connection failed: %.*s", static_cast<int>(what.size()), what.data());
  client_session().end_as("error");
  finish(false);
}

void tcp_echo_connection::on_transport_drained() {
  _stall.drained();
  if (_state == state::open && _transport->reading_paused()) _transport->resume_reading();
}

void tcp_echo_connection::begin_drain() {
  client_session().end_as("drain");
  finish(true);
}

void tcp_echo_connection::abort() { finish(false); }

void tcp_echo_connection::finish(bool graceful) {
  if (_state == state::closed) return;
  _state = state::closed;
  _stall.drained();
  owner().dispose(std::move(_transport), graceful, _peer_eof);
  owner().forget(*this);
  owner().reactor().defer([this] { delete this; });
}

}  // namespace postern::gateway
