#include "gateway/ws_proxy.h"

#include <openssl/rand.h>

#include <algorithm>

#include "core/log.h"
#include "gateway/worker.h"
#include "net/http_request.h"
#include "net/ws_client_handshake.h"
#include "net/ws_handshake.h"

namespace postern::gateway {

using net::ws_event_kind;
using net::ws_opcode;
namespace close_code = net::ws_close_code;

ws_proxy::ws_proxy(worker& owner, std::unique_ptr<net::transport> client, const route& r,
                   const net::socket_address& peer, client_request request)
    : ws_proxy(owner, std::move(client), r, peer, std::move(request), nullptr) {}

ws_proxy::ws_proxy(worker& owner, std::unique_ptr<net::transport> client, const route& r,
                   const net::socket_address& peer, client_request request, std::shared_ptr<const proxy_plan> plan)
    : connection(owner),
      _client(*this, true),
      _backend(*this, false),
      _route(&r),
      _plan(plan ? plan.get() : owner.plan_of(*r.service)),
      _peer(peer),
      _request(std::move(request)),
      _linger([this] { on_linger(); }),
      _inactivity([this] { on_inactivity(); }),
      _owned_plan(std::move(plan)),
      _stall(owner.reactor(), owner.send_timeout_ms(*r.service), [this] { on_stall(); }) {
  _client.transport = std::move(client);
  _client.transport->set_handler(_client);
  owner.adopt(*this);
  continue_session(_request.client_session);
  owner.set_session_service(*this, *r.service);
  if (!_owned_plan) count_as_load();  // a splice to another member is that member's load
  _connector = std::make_unique<backend_connector>(owner, *r.service, *_plan, *this, &_peer);
  _connector->start();
}

void ws_proxy::on_backend_ready(std::unique_ptr<net::transport> t, const backend_target& target) {
  if (_plan->reverse) client_session().link = session::link_use::backend_over_link;
  _backend.transport = std::move(t);
  _backend.transport->set_handler(_backend);
  _target = &target;
  owner().reactor().defer([c = std::shared_ptr<backend_connector>(std::move(_connector))] {});
  if (_state != state::connecting) return;  // the client went away meanwhile
  if (!target.websocket) {
    open_splice({}, {});
    return;
  }
  // Our own upgrade toward the backend, with the client's address appended to X-Forwarded-For.
  _state = state::backend_handshake;
  _backend_key = net::make_ws_key();
  if (_backend_key.empty()) {
    on_backend_error("no random bytes for a Sec-WebSocket-Key");
    return;
  }
  RAND_bytes(reinterpret_cast<unsigned char*>(_mask.data()), static_cast<int>(_mask.size()));
  std::string client_ip = _peer.to_string();
  client_ip = client_ip.substr(0, client_ip.rfind(':'));
  if (client_ip.size() > 2 && client_ip.front() == '[') client_ip = client_ip.substr(1, client_ip.size() - 2);
  std::string xff = "X-Forwarded-For: " + net::forwarded_for_value(_request.forwarded_for, client_ip) + "\r\n";
  std::string target_path = target.uri.path + (target.uri.query.empty() ? "" : "?" + target.uri.query);
  _backend.transport->write(net::build_ws_upgrade_request(target_path, target.uri.authority(), _backend_key,
                                                          _request.protocols, xff));
  _backend.transport->start();
}

void ws_proxy::on_backend_failed(const std::string& why, int http_status) {
  owner().reactor().defer([c = std::shared_ptr<backend_connector>(std::move(_connector))] {});
  if (_state != state::connecting) return;
  LOG_WARN("%s service '%s': backend unavailable: %s", _peer.to_string().c_str(), _route->service->name.c_str(),
           why.c_str());
  const std::string answer = http_status == 503
                                 ? net::build_http_error_response(503, "service unavailable", "Retry-After: 1\r\n")
                                 : net::build_http_error_response(502, "backend unavailable");
  _client.transport->write(answer);
  client_session().http_status = static_cast<std::uint16_t>(http_status == 503 ? 503 : 502);
  client_session().bytes_out += answer.size();
  _state = state::refused;
  finish(true);
}

void ws_proxy::on_backend_head(std::span<std::byte> bytes) {
  _response_head.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  net::http_response_head head;
  net::http_response_parse_result r = _response_parser.parse(std::span(_response_head.data(), _response_head.size()), head);
  if (r.status == net::http_parse_status::need_more) return;
  std::string why;
  std::string subprotocol;
  if (r.status == net::http_parse_status::error) {
    why = "malformed response: " + std::string(r.error_reason);
  } else if (auto checked = net::check_ws_upgrade_response(head, _backend_key, _request.protocols); !checked) {
    why = checked.error();
  } else {
    subprotocol = *checked;
  }
  if (!why.empty()) {
    on_backend_error(why);
    return;
  }
  std::span<std::byte> rest(reinterpret_cast<std::byte*>(_response_head.data()) + r.head_bytes,
                            _response_head.size() - r.head_bytes);
  open_splice(subprotocol, rest);
  std::string().swap(_response_head);
}

void ws_proxy::open_splice(std::string_view subprotocol, std::span<std::byte> backend_rest) {
  _state = state::open;
  const std::string accepted = net::build_ws_accept_response(_request.key, subprotocol);
  _client.transport->write(accepted);
  client_session().bytes_out += accepted.size();
  // Frames between two WebSocket peers are forwarded still masked; toward a byte stream the
  // payload is unmasked.
  _client_decoder.emplace(net::ws_role::server, _plan->max_message_bytes, !backend_is_ws());
  if (backend_is_ws()) _backend_decoder.emplace(net::ws_role::client, _plan->max_message_bytes, false);
  else _backend.transport->start();
  _client_last_read_ms = owner().reactor().now_ms();
  if (_client.paused_by_us) {
    _client.paused_by_us = false;
    _client.transport->resume_reading();
  }
  if (_plan->client_inactivity_ms) owner().reactor().arm_timer(_inactivity, _plan->client_inactivity_ms / 2);
  LOG_DEBUG("%s proxied to %s", _peer.to_string().c_str(), _target->uri.to_string().c_str());
  if (!backend_rest.empty()) from_backend(backend_rest);
  if (!_request.early_bytes.empty() && _state == state::open) {
    std::string early = std::move(_request.early_bytes);
    from_client(std::span(reinterpret_cast<std::byte*>(early.data()), early.size()));
  }
}

void ws_proxy::on_data(leg& from, std::span<std::byte> bytes) {
  if (from.client_side) {
    client_session().bytes_in += bytes.size();
    _client_last_read_ms = owner().reactor().now_ms();
    _ping_outstanding = false;
    switch (_state) {
      case state::connecting:
      case state::backend_handshake:
        // A client must wait for 101 (RFC 6455 §4.1); keep what it sent anyway, bounded.
        _request.early_bytes.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (_request.early_bytes.size() > _plan->max_pending_bytes && !_client.paused_by_us) {
          _client.paused_by_us = true;
          _client.transport->pause_reading();
        }
        return;
      case state::open:
      case state::closing:
        from_client(bytes);
        return;
      case state::refused:
      case state::done:
        return;
    }
    return;
  }
  if (_state == state::backend_handshake) on_backend_head(bytes);
  else if (_state == state::open || _state == state::closing) from_backend(bytes);
}

void ws_proxy::from_client(std::span<std::byte> bytes) {
  const bool ws = backend_is_ws();
  while (_state == state::open || _state == state::closing) {
    net::ws_event ev = _client_decoder->next(bytes);
    bytes = bytes.subspan(ev.consumed);
    const bool forwarding = _backend.transport && !_backend_close_sent;
    switch (ev.kind) {
      case ws_event_kind::need_more:
        if (_backend.transport) throttle(_backend, _client);
        return;
      case ws_event_kind::frame_begin:
        // The client's own mask key goes on with the frame: its payload is forwarded still masked.
        if (ws && forwarding) {
          write_header(_backend, ev.header, &ev.header.mask);
          _to_backend_left = ev.header.payload_bytes;
        }
        break;
      case ws_event_kind::data:
        if (forwarding) {
          _backend.transport->write(ev.payload);
          if (ws) _to_backend_left -= std::min<std::uint64_t>(_to_backend_left, ev.payload.size());
        }
        break;
      case ws_event_kind::message_end:
        ++client_session().messages_in;
        break;
      case ws_event_kind::ping:
      case ws_event_kind::pong:
        if (ws) {
          if (forwarding) write_frame(_backend, true, ev.header.opcode, ev.payload, &_mask);
        } else if (ev.kind == ws_event_kind::ping && !_client_close_sent) {
          write_frame(_client, true, ws_opcode::pong, ev.payload, nullptr);
        }
        break;
      case ws_event_kind::close:
        _client_close_seen = true;
        client_session().close_with(ev.close_code);
        if (ws) {
          if (forwarding) {
            write_frame(_backend, true, ws_opcode::close, ev.payload, &_mask);
            _backend_close_sent = true;
          }
        } else {
          if (!_client_close_sent) {
            if (ev.close_code == close_code::no_status) write_frame(_client, true, ws_opcode::close, {}, nullptr);
            else write_close(_client, ev.close_code, {}, nullptr);
            _client_close_sent = true;
          }
          if (_backend.transport) _backend.transport->shutdown_write();
        }
        start_closing();
        return;
      case ws_event_kind::error:
        if (_client_failed) return;  // the decoder's error is sticky: later bytes repeat it
        LOG_INFO("%s websocket failed: close %u: %.*s", _peer.to_string().c_str(), ev.close_code,
                 static_cast<int>(ev.reason.size()), ev.reason.data());
        _client_failed = true;
        client_session().close_with(ev.close_code);
        _client_fail_code = ev.close_code;
        _client_fail_reason.assign(ev.reason);
        if (ws && forwarding) {
          // What the client sent before the bad frame is with the backend: its answers reach
          // the client first (RFC 6455 §7.1.7), then our close, once the backend has closed.
          close_backend(close_code::going_away, "client failed");
        } else {
          close_client(ev.close_code, ev.reason);
          if (_backend.transport && !ws) _backend.transport->shutdown_write();
        }
        start_closing();
        return;
    }
  }
}

void ws_proxy::from_backend(std::span<std::byte> bytes) {
  if (!backend_is_ws()) {
    if (_client_close_sent) return;  // nothing may follow our close frame
    write_frame(_client, true, ws_opcode::binary, bytes, nullptr);
    ++client_session().messages_out;
    throttle(_client, _backend);
    return;
  }
  while (_state == state::open || _state == state::closing) {
    net::ws_event ev = _backend_decoder->next(bytes);
    bytes = bytes.subspan(ev.consumed);
    switch (ev.kind) {
      case ws_event_kind::need_more:
        throttle(_client, _backend);
        return;
      // After our close frame to the client nothing more goes to it; the backend's frames are
      // still read, to see its close.
      case ws_event_kind::frame_begin:
        if (!_client_close_sent) {
          write_header(_client, ev.header, nullptr);
          _to_client_left = ev.header.payload_bytes;
        }
        break;
      case ws_event_kind::data:
        if (!_client_close_sent) {
          _client.transport->write(ev.payload);
          client_session().bytes_out += ev.payload.size();
          _to_client_left -= std::min<std::uint64_t>(_to_client_left, ev.payload.size());
        }
        break;
      case ws_event_kind::message_end:
        if (!_client_close_sent) ++client_session().messages_out;
        break;
      case ws_event_kind::ping:
      case ws_event_kind::pong:
        if (!_client_close_sent) write_frame(_client, true, ev.header.opcode, ev.payload, nullptr);
        break;
      case ws_event_kind::close:
        _backend_close_seen = true;
        if (_client_failed) {
          close_client(_client_fail_code, _client_fail_reason);
        } else if (!_client_close_sent) {
          client_session().close_with(ev.close_code);
          write_frame(_client, true, ws_opcode::close, ev.payload, nullptr);
          _client_close_sent = true;
        }
        start_closing();
        return;
      case ws_event_kind::error:
        LOG_WARN("%s backend %s failed: close %u: %.*s", _peer.to_string().c_str(), _target->uri.to_string().c_str(),
                 ev.close_code, static_cast<int>(ev.reason.size()), ev.reason.data());
        close_backend(ev.close_code, ev.reason);
        close_client(close_code::internal_error, "backend failed");
        start_closing();
        return;
    }
  }
}

void ws_proxy::write_header(leg& to, const net::ws_frame_header& h, const std::array<std::byte, 4>* mask) {
  std::byte header[14];
  std::size_t n = net::encode_ws_frame_header(header, h.fin, h.opcode, h.payload_bytes, mask);
  to.transport->write(std::span<const std::byte>(header, n));
  if (&to == &_client) client_session().bytes_out += n;
}

// A whole frame of a payload we hold (control frames, bytes from a TCP backend). With a mask,
// the payload (at most a control frame's 125 bytes) is masked on a copy.
void ws_proxy::write_frame(leg& to, bool fin, ws_opcode opcode, std::span<const std::byte> payload,
                           const std::array<std::byte, 4>* mask) {
  std::byte header[14];
  std::size_t n = net::encode_ws_frame_header(header, fin, opcode, payload.size(), mask);
  to.transport->write(std::span<const std::byte>(header, n));
  if (&to == &_client) client_session().bytes_out += n + payload.size();
  if (payload.empty()) return;
  if (!mask) {
    to.transport->write(payload);
    return;
  }
  std::byte copy[net::ws_frame_decoder::max_control_payload];
  std::size_t len = std::min(payload.size(), sizeof copy);
  std::copy_n(payload.data(), len, copy);
  net::ws_apply_mask(std::span<std::byte>(copy, len), *mask, 0);
  to.transport->write(std::span<const std::byte>(copy, len));
}

void ws_proxy::write_close(leg& to, std::uint16_t code, std::string_view reason, const std::array<std::byte, 4>* mask) {
  std::byte payload[net::ws_frame_decoder::max_control_payload];
  std::size_t n = net::encode_ws_close_payload(payload, code, reason);
  write_frame(to, true, ws_opcode::close, std::span<const std::byte>(payload, n), mask);
}

// Tells the backend leg that the client is gone or going: a close frame toward a WebSocket
// backend, a FIN toward a byte stream.
void ws_proxy::release_backend(std::uint16_t code, std::string_view reason) {
  if (!_backend.transport || _backend.eof) return;
  if (backend_is_ws()) close_backend(code, reason);
  else _backend.transport->shutdown_write();
}

// A close frame toward the client, unless one went already; in the middle of a forwarded frame
// no frame may start, so the client then gets only the end of the TCP stream (RFC 6455 §7.1.7).
void ws_proxy::close_client(std::uint16_t code, std::string_view reason) {
  if (_client_close_sent || !_client.transport) return;
  _client_close_sent = true;
  client_session().close_with(code);
  if (_to_client_left == 0) write_close(_client, code, reason, nullptr);
  else _client_failed = true;  // no close reply will come: do not wait for one
}

// The same toward a WebSocket backend (masked, as a client's frames are).
void ws_proxy::close_backend(std::uint16_t code, std::string_view reason) {
  if (_backend_close_sent || !_backend.transport) return;
  _backend_close_sent = true;
  if (_to_backend_left == 0) write_close(_backend, code, reason, &_mask);
  else _backend.transport->shutdown_write();
}

void ws_proxy::on_linger() {
  // The backend never closed after the client failed: the client gets its close now.
  if (_client_failed) close_client(_client_fail_code, _client_fail_reason);
  finish(true);
}

void ws_proxy::on_eof(leg& from) {
  from.eof = true;
  if (from.client_side) {
    client_session().end_as("eof");
    if (_state == state::open) release_backend(close_code::going_away, "client went away");
    if (_state == state::open || _state == state::closing) {
      start_closing();
      return;
    }
    finish(false);
    return;
  }
  switch (_state) {
    case state::backend_handshake:
      on_backend_error("closed the connection during the WebSocket handshake");
      return;
    case state::open:
      // A TCP backend's FIN is the normal end of its stream; a WebSocket backend that vanishes
      // without a close frame failed.
      if (backend_is_ws()) close_client(close_code::internal_error, "backend went away");
      else close_client(close_code::normal, "backend closed");
      start_closing();
      return;
    case state::closing:
      maybe_finish();
      return;
    default:
      return;
  }
}

void ws_proxy::on_error(leg& from, std::string_view what) {
  if (from.client_side) {
    client_session().end_as("error");
    LOG_DEBUG("%s client connection failed: %.*s", _peer.to_string().c_str(), static_cast<int>(what.size()), what.data());
    finish(false);
    return;
  }
  on_backend_error(what);
}

void ws_proxy::on_backend_error(std::string_view what) {
  std::string why = _target->uri.to_string() + ": " + std::string(what);
  if (_state == state::backend_handshake) {
    owner().dispose(std::move(_backend.transport));
    _state = state::connecting;
    on_backend_failed(why, 502);
    return;
  }
  if (_state != state::open && _state != state::closing) return;
  LOG_WARN("%s service '%s': backend failed: %s", _peer.to_string().c_str(), _route->service->name.c_str(), why.c_str());
  owner().dispose(std::move(_backend.transport));
  close_client(_client_failed ? _client_fail_code : close_code::internal_error,
               _client_failed ? std::string_view(_client_fail_reason) : "backend failed");
  start_closing();
}

void ws_proxy::on_drained(leg& to) {
  leg& other = &to == &_client ? _backend : _client;
  if (to.client_side == _stalled_client) _stall.drained();
  if (other.paused_by_us && other.transport) {
    other.paused_by_us = false;
    other.transport->resume_reading();
  }
}

void ws_proxy::throttle(leg& to, leg& from) {
  if (to.transport && from.transport && !from.paused_by_us && to.transport->queued_bytes() > _plan->max_pending_bytes) {
    from.paused_by_us = true;
    from.transport->pause_reading();
    _stalled_client = to.client_side;
    _stall.blocked();
  }
}

void ws_proxy::on_stall() {
  leg& to = _stalled_client ? _client : _backend;
  log_send_stall(_peer, _route->service->name, _stalled_client ? "client" : "backend",
                 to.transport ? to.transport->queued_bytes() : 0, _stall.timeout_ms());
  client_session().end_as("send-timeout");
  finish(false);
}

void ws_proxy::start_closing() {
  if (_state != state::closing) {
    _state = state::closing;
    owner().reactor().disarm_timer(_inactivity);
    owner().reactor().arm_timer(_linger, owner().limits().close_linger_ms);
  }
  maybe_finish();
}

void ws_proxy::maybe_finish() {
  const bool backend_done = !_backend.transport || _backend.eof ||
                            (backend_is_ws() && _backend_close_sent && _backend_close_seen);
  // A failed client gets its close once the backend is done (its answers went first).
  if (backend_done && _client_failed) close_client(_client_fail_code, _client_fail_reason);
  // A client that failed sends nothing we read any more: no close reply is awaited from it.
  const bool client_done = _client.eof || (_client_close_sent && (_client_close_seen || _client_failed)) ||
                           (_client_close_sent && !_client_decoder);
  if (client_done && backend_done) finish(true);
}

void ws_proxy::on_inactivity() {
  if (_state != state::open) return;
  const std::uint64_t t = _plan->client_inactivity_ms;
  const std::uint64_t idle = owner().reactor().now_ms() - _client_last_read_ms;
  if (idle >= t) {
    LOG_INFO("%s closed after %llu ms without a frame (ws.inactivity.timeout)", _peer.to_string().c_str(),
             static_cast<unsigned long long>(idle));
    close_client(close_code::going_away, "inactivity timeout");
    release_backend(close_code::going_away, "client inactive");
    start_closing();
    return;
  }
  if (idle >= t / 2 && !_ping_outstanding) {
    write_frame(_client, true, ws_opcode::ping, {}, nullptr);
    _ping_outstanding = true;
  }
  // The next check falls when this silence would reach T/2 (ping) or T (close), counted from
  // the last byte, so a late timer never turns an answered ping into a close.
  const std::uint64_t due = _ping_outstanding ? t : t / 2;
  owner().reactor().arm_timer(_inactivity, std::max<std::uint64_t>(due > idle ? due - idle : 1, 1));
}

void ws_proxy::begin_drain() {
  switch (_state) {
    case state::open:
      close_client(close_code::going_away, "gateway stopping");
      release_backend(close_code::going_away, "gateway stopping");
      start_closing();
      return;
    case state::closing:
      return;
    default:
      finish(false);
      return;
  }
}

void ws_proxy::abort() {
  client_session().end_as("aborted");
  finish(false);
}

void ws_proxy::finish(bool graceful) {
  if (_state == state::done) return;
  _state = state::done;
  _stall.drained();
  owner().reactor().disarm_timer(_linger);
  owner().reactor().disarm_timer(_inactivity);
  if (_connector) owner().reactor().defer([c = std::shared_ptr<backend_connector>(std::move(_connector))] {});
  owner().dispose(std::move(_client.transport), graceful, _client.eof);
  owner().dispose(std::move(_backend.transport), graceful, _backend.eof);
  owner().forget(*this);
  owner().reactor().defer([this] { delete this; });
}

}  // namespace postern::gateway
