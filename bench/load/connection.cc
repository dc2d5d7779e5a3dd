// load_connection (see connection.h).
//
// Messages are built in the worker's scratch space (frame header room, then the payload),
// masked word-wise with a fresh key per frame (net::ws_apply_mask), and written to the
// transport, whose stream corks everything written in one loop iteration into one send.
// Each batch of received bytes reads the clock once: that instant is the receive time of every
// echo in the batch and the send time of every message the batch triggers.
#include "bench/load/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/unique_fd.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"
#include "net/ws_client_handshake.h"

namespace postern::load {

std::string_view load_connection::to_string(state s) noexcept {
  switch (s) {
    case state::idle: return "idle";
    case state::connecting: return "connecting";
    case state::upgrading: return "upgrading";
    case state::open: return "open";
    case state::closing: return "closing";
    case state::dropping: return "dropping";
    case state::closed: return "closed";
  }
  return "unknown";
}

load_connection::load_connection(load_worker& worker, unsigned index)
    : _worker(&worker),
      _index(index),
      _tracker(worker.plan().message_template, worker.plan().options.in_flight, worker.plan().options.websocket()),
      _decoder(net::ws_role::client, worker.plan().options.size_bytes),
      _opcode(worker.plan().options.text ? net::ws_opcode::text : net::ws_opcode::binary),
      _pace_timer([this] { on_pace_timer(); }) {}

void load_connection::start() {
  if (_state != state::idle) return;
  _state = state::connecting;
  _started = true;
  const load_plan& plan = _worker->plan();
  if (!plan.sources.empty()) {
    connect_from_source();
    return;
  }
  if (plan.tls)
    _transport = net::make_tls_transport(_worker->reactor(), {}, *plan.tls, plan.options.target.host, *this);
  else
    _transport = net::make_tcp_transport(_worker->reactor(), {}, *this);
  _transport->connect(plan.target);
}

// The transports' connect() cannot bind a local address first, so with --source-addresses the
// socket is made, bound and connected (non-blocking) here and adopted as if accepted: the
// stream's first send and read wait in the kernel until the connect completes, and a failed
// connect surfaces as a transport error on the first read. For tcp:// the connection therefore
// counts as open as soon as its connect is issued; ws and wss wait for the upgrade as always.
void load_connection::connect_from_source() {
  const load_plan& plan = _worker->plan();
  const net::socket_address& source = plan.sources[_index % plan.sources.size()];
  core::unique_fd fd(::socket(plan.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const auto fail = [this, &source](const char* step) {
    abort(load_error::connect, std::string(step) + " from " + source.to_string() + " failed: " + std::strerror(errno));
  };
  if (!fd) return fail("socket");
  int one = 1;
  // Share local ports between destinations: the port is chosen at connect time, per 4-tuple.
  ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::bind(fd.get(), source.get(), source.length) < 0) return fail("bind");
  if (::connect(fd.get(), plan.target.get(), plan.target.length) < 0 && errno != EINPROGRESS) return fail("connect");
  if (plan.tls)
    _transport = net::make_tls_transport(_worker->reactor(), std::move(fd), *plan.tls, plan.options.target.host, *this);
  else
    _transport = net::make_tcp_transport(_worker->reactor(), std::move(fd), *this);
  _transport->start();
}

void load_connection::on_transport_ready() {
  if (_state != state::connecting) return;
  if (!websocket()) {
    become_open();
    return;
  }
  _key = net::make_ws_key();
  if (_key.empty()) {
    abort(load_error::connect, "no random bytes for the Sec-WebSocket-Key");
    return;
  }
  const load_plan& plan = _worker->plan();
  _transport->write(net::build_ws_upgrade_request(plan.request_target, plan.authority, _key, "", ""));
  _state = state::upgrading;
}

void load_connection::become_open() {
  _state = state::open;
  _was_open = true;
  _worker->connection_ready(*this);  // may call begin_traffic() or finish()
}

void load_connection::begin_traffic() {
  if (_state != state::open) return;
  const load_options& o = _worker->plan().options;
  if (!o.open_loop()) {
    const std::uint64_t now = monotonic_ns();
    while (!_tracker.full()) send_message(now);
    return;
  }
  // Each connection sends rate / connections messages per second, its first one offset by its
  // share of one interval so that the connections do not all send in the same tick.
  _interval_ns = 1e9 * o.connections / o.rate_per_s;
  const double offset_ns = _interval_ns * (static_cast<double>(_index) / o.connections);
  _pace_start_ns = monotonic_ns() + static_cast<std::uint64_t>(offset_ns);
  _worker->reactor().arm_timer(_pace_timer, static_cast<std::uint64_t>(offset_ns / 1e6));
}

void load_connection::on_pace_timer() {
  if (_state != state::open || !_worker->traffic_allowed()) return;
  const std::uint64_t now = monotonic_ns();
  if (now >= _pace_start_ns) {
    const double elapsed = static_cast<double>(now - _pace_start_ns);
    const auto due = static_cast<std::uint64_t>(elapsed / _interval_ns) + 1;  // message 0 at the start
    const std::uint64_t fresh = due - std::min(due, _due);
    _due = std::max(_due, due);
    _backlog += fresh;
    while (_backlog > 0 && !_tracker.full()) {
      --_backlog;
      send_message(now);
    }
    _worker->count_held(std::min(fresh, _backlog));
  }
  const double next_ns = static_cast<double>(_pace_start_ns) + static_cast<double>(_due) * _interval_ns;
  const double wait_ms = std::ceil((next_ns - static_cast<double>(now)) / 1e6);
  _worker->reactor().arm_timer(_pace_timer, wait_ms > 0 ? static_cast<std::uint64_t>(wait_ms) : 0);
}

void load_connection::send_message(std::uint64_t now_ns) {
  const std::size_t size = _worker->plan().options.size_bytes;
  const std::span<std::byte> scratch = _worker->scratch();
  std::byte* payload = scratch.data() + load_worker::header_room;
  if (!websocket()) {
    _tracker.make_next(payload, now_ns);
    _transport->write(std::span<const std::byte>(payload, size));
    return;
  }
  const std::uint64_t random = _worker->next_random();
  std::array<std::byte, 4> key;
  std::memcpy(key.data(), &random, key.size());
  std::byte header[load_worker::header_room];
  const std::size_t header_bytes = net::encode_ws_frame_header(header, true, _opcode, size, &key);
  // The prefix, then the fixed rest of the message masked while it is copied (one pass).
  std::byte prefix[prefix_bytes];
  _tracker.make_next_prefix(prefix, now_ns);
  net::ws_copy_masked(prefix, payload, key, 0);
  net::ws_copy_masked(_tracker.message_template().subspan(prefix_bytes), payload + prefix_bytes, key, prefix_bytes);
  std::byte* frame = payload - header_bytes;
  std::memcpy(frame, header, header_bytes);
  _transport->write(std::span<const std::byte>(frame, header_bytes + size));
}

void load_connection::send_control(net::ws_opcode opcode, std::span<const std::byte> payload) {
  std::byte frame[load_worker::header_room + net::ws_frame_decoder::max_control_payload];
  const std::uint64_t random = _worker->next_random();
  std::array<std::byte, 4> key;
  std::memcpy(key.data(), &random, key.size());
  const std::size_t header_bytes = net::encode_ws_frame_header(frame, true, opcode, payload.size(), &key);
  std::memcpy(frame + header_bytes, payload.data(), payload.size());
  net::ws_apply_mask(std::span<std::byte>(frame + header_bytes, payload.size()), key);
  _transport->write(std::span<const std::byte>(frame, header_bytes + payload.size()));
}

void load_connection::on_transport_data(std::span<std::byte> bytes) {
  switch (_state) {
    case state::upgrading:
      read_upgrade(bytes);
      return;
    case state::open:
    case state::closing: {
      const std::uint64_t now = monotonic_ns();
      if (websocket()) {
        read_frames(bytes, now);
      } else {
        check_echo(bytes, now);
      }
      return;
    }
    default:
      return;
  }
}

void load_connection::read_upgrade(std::span<std::byte> bytes) {
  _head.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  while (true) {
    net::http_response_head head;
    const net::http_response_parse_result r = _head_parser.parse(_head, head);
    if (r.status == net::http_parse_status::need_more) return;
    if (r.status == net::http_parse_status::error) {
      abort(load_error::connect, "bad upgrade response (" + std::string(net::to_string(r.error)) + ": " +
                                     std::string(r.error_reason) + ")");
      return;
    }
    if (head.interim()) {
      _head.erase(0, r.head_bytes);
      _head_parser.reset();
      continue;
    }
    const auto accepted = net::check_ws_upgrade_response(head, _key, "");
    if (!accepted) {
      abort(load_error::connect, "upgrade refused: " + accepted.error());
      return;
    }
    // Frames may follow the head in the same read: keep them, release the handshake state.
    std::string rest = _head.substr(r.head_bytes);
    std::string().swap(_head);
    std::string().swap(_key);
    _head_parser.reset();
    become_open();
    if (!rest.empty() && (_state == state::open || _state == state::closing))
      read_frames(std::as_writable_bytes(std::span(rest.data(), rest.size())), monotonic_ns());
    return;
  }
}

void load_connection::read_frames(std::span<std::byte> bytes, std::uint64_t now_ns) {
  while (_state == state::open || _state == state::closing) {
    const net::ws_event ev = _decoder.next(bytes);
    bytes = bytes.subspan(ev.consumed);
    switch (ev.kind) {
      case net::ws_event_kind::need_more:
        return;
      case net::ws_event_kind::frame_begin:
        if (ev.message_opcode != _opcode) {
          abort(load_error::echo, ev.message_opcode == net::ws_opcode::text
                                      ? "the echo is a text message; a binary one was sent"
                                      : "the echo is a binary message; a text one was sent");
          return;
        }
        break;
      case net::ws_event_kind::data:
        if (!check_echo(ev.payload, now_ns)) return;
        break;
      case net::ws_event_kind::message_end: {
        const echo_event end = _tracker.end_message();
        if (end.what == echo_event::kind::mismatch) {
          report_mismatch(end);
          return;
        }
        break;
      }
      case net::ws_event_kind::ping:
        if (!_close_sent) send_control(net::ws_opcode::pong, ev.payload);
        break;
      case net::ws_event_kind::pong:
        break;
      case net::ws_event_kind::close:
        on_peer_close(ev.close_code);
        return;
      case net::ws_event_kind::error:
        abort(load_error::connection, "the server's frames broke RFC 6455: " + std::string(ev.reason));
        return;
    }
  }
}

bool load_connection::check_echo(std::span<const std::byte> payload, std::uint64_t now_ns) {
  while (true) {
    const echo_event ev = _tracker.next(payload);
    payload = payload.subspan(ev.consumed);
    switch (ev.what) {
      case echo_event::kind::need_more:
        return true;
      case echo_event::kind::mismatch:
        report_mismatch(ev);
        return false;
      case echo_event::kind::echoed:
        _worker->record_echo(now_ns - std::min(now_ns, ev.sent_ns));
        after_echo(now_ns);
        break;
    }
  }
}

void load_connection::after_echo(std::uint64_t now_ns) {
  if (_state != state::open || !_worker->traffic_allowed()) return;
  if (!_worker->plan().options.open_loop()) {
    send_message(now_ns);
  } else if (_backlog > 0) {
    --_backlog;
    send_message(now_ns);
  }
}

void load_connection::report_mismatch(const echo_event& ev) {
  abort(load_error::echo, std::string(ev.reason) + " (message " + std::to_string(ev.seq) + ", byte " +
                              std::to_string(ev.offset) + ")");
}

// The peer's close frame: the answer to ours, or the server ending the connection early.
void load_connection::on_peer_close(std::uint16_t code) {
  if (!_close_sent) {
    count_error_once(load_error::connection, "the server closed the connection with code " + std::to_string(code));
    std::byte payload[2] = {};
    std::size_t bytes = 0;
    if (net::is_valid_wire_close_code(code)) bytes = net::encode_ws_close_payload(payload, code, {});
    send_control(net::ws_opcode::close, std::span<const std::byte>(payload, bytes));
    _close_sent = true;
  }
  _worker->reactor().disarm_timer(_pace_timer);
  _state = state::closing;
  _transport->shutdown_write();  // then the peer's EOF ends it
}

void load_connection::finish() {
  switch (_state) {
    case state::idle:
    case state::connecting:
    case state::upgrading:
      abort(load_error::connect, "not open when the run ended");
      return;
    case state::open:
      break;
    default:
      return;
  }
  _worker->reactor().disarm_timer(_pace_timer);
  _state = state::closing;
  if (websocket()) {
    std::byte payload[2];
    const std::size_t bytes = net::encode_ws_close_payload(payload, net::ws_close_code::normal, {});
    send_control(net::ws_opcode::close, std::span<const std::byte>(payload, bytes));
    _close_sent = true;  // shutdown_write follows the server's close frame
  } else {
    _transport->shutdown_write();
  }
}

void load_connection::on_transport_eof() {
  switch (_state) {
    case state::connecting:
    case state::upgrading:
      abort(load_error::connect, "the server closed the connection during the upgrade");
      return;
    case state::open:
      abort(load_error::connection, "the server closed the connection");
      return;
    case state::closing:
      if (websocket() && !_decoder.close_received())
        count_error_once(load_error::connection, "the server closed the connection without a close frame");
      _state = state::dropping;
      _transport->close();
      return;
    default:
      return;
  }
}

void load_connection::on_transport_error(int, std::string_view what) {
  switch (_state) {
    case state::connecting:
    case state::upgrading:
      abort(load_error::connect, what);
      return;
    case state::closing:
      // A reset after the closing handshake completed and every echo came back loses nothing.
      if (_decoder.close_received() && _tracker.in_flight() == 0) {
        _state = state::dropping;
        _transport->close();
        return;
      }
      [[fallthrough]];
    case state::open:
      abort(load_error::connection, what);
      return;
    default:
      return;
  }
}

void load_connection::abort(load_error kind, std::string_view why) {
  if (_state == state::dropping || _state == state::closed) return;
  count_error_once(kind, why);
  _echo_broken = _echo_broken || kind == load_error::echo;
  _worker->reactor().disarm_timer(_pace_timer);
  if (!_transport) {  // never connected (or a source bind failed): nothing to wait for
    _state = state::closed;
    _worker->connection_ended(*this, 0);
    return;
  }
  _state = state::dropping;
  _transport->close();
}

void load_connection::on_transport_closed() {
  _transport.reset();
  _worker->reactor().disarm_timer(_pace_timer);
  _state = state::closed;
  // After an echo error the echo stream is broken: what is still in flight is not counted again.
  const std::uint64_t lost = _echo_broken ? 0 : _tracker.in_flight();
  _worker->connection_ended(*this, lost);
}

void load_connection::count_error_once(load_error kind, std::string_view what) {
  if (_error_counted) return;
  _error_counted = true;
  _worker->count_error(kind, _index, what);
}

}  // namespace postern::load
