#include "gateway/http_connection.h"

#include <algorithm>
#include <cstring>

#include "core/log.h"
#include "core/reactor_group.h"
#include "gateway/balancer.h"
#include "gateway/local_member.h"
#include "gateway/management.h"
#include "gateway/origin.h"
#include "gateway/worker.h"
#include "gateway/ws_proxy.h"
#include "net/ws_handshake.h"

namespace postern::gateway {

namespace {
constexpr std::uint64_t management_deadline_ms = 5'000;  // a scrape's answer from every reactor
}  // namespace

std::string_view http_connection::to_string(state s) {
  switch (s) {
    case state::reading_head: return "reading_head";
    case state::answering: return "answering";
    case state::ws_open: return "ws_open";
    case state::ws_closing: return "ws_closing";
    case state::lingering: return "lingering";
    case state::handed_off: return "handed_off";
    case state::closed: return "closed";
  }
  return "?";
}

http_connection::http_connection(worker& owner, core::unique_fd fd, const endpoint& ep)
    : connection(owner),
      _endpoint(&ep),
      _peer(net::peer_address_of(fd.get())),
      _max_pending_bytes(owner.limits().default_max_pending_bytes),
      _timer([this] { on_deadline(); }),
      _inactivity([this] { on_inactivity(); }) {
  _transport = owner.accepted_transport(ep, std::move(fd), *this);
  owner.adopt(*this);
  open_session(_peer);
  owner.reactor().arm_timer(_timer, owner.limits().handshake_timeout_ms);
  _transport->start();
}

http_connection::http_connection(worker& owner, std::unique_ptr<net::transport> t, const endpoint& ep,
                                 const net::socket_address& peer, std::span<std::byte> early)
    : connection(owner),
      _transport(std::move(t)),
      _endpoint(&ep),
      _peer(peer),
      _max_pending_bytes(owner.limits().default_max_pending_bytes),
      _timer([this] { on_deadline(); }),
      _inactivity([this] { on_inactivity(); }) {
  _transport->set_handler(*this);
  owner.adopt(*this);
  open_session(_peer);
  client_session().link = session::link_use::arrived_over_link;
  owner.reactor().arm_timer(_timer, owner.limits().handshake_timeout_ms);
  if (!early.empty()) on_transport_data(early);
}

void http_connection::on_deadline() {
  if (_state == state::reading_head)
    refuse(408, "no complete request head before the handshake timeout", net::build_http_error_response(408));
  else if (_state == state::answering)
    refuse(503, "management service: the reactors did not answer in time", net::build_http_error_response(503, "busy"));
  else
    close_now();
}

void http_connection::on_transport_data(std::span<std::byte> bytes) {
  client_session().bytes_in += bytes.size();
  switch (_state) {
    case state::reading_head: {
      _head.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      net::http_request_head head;
      net::http_parse_result r = _parser.parse(std::span(_head.data(), _head.size()), head);
      if (r.status == net::http_parse_status::need_more) return;
      if (r.status == net::http_parse_status::error) {
        refuse(r.error_status, r.error_reason, net::build_http_error_response(r.error_status, r.error_reason));
        return;
      }
      on_head_complete(head, r.head_bytes);
      return;
    }
    case state::ws_open:
    case state::ws_closing:
      _last_read_ms = owner().reactor().now_ms();
      _ping_outstanding = false;
      on_ws_bytes(bytes);
      return;
    case state::answering:
    case state::lingering:
    case state::handed_off:
    case state::closed:
      return;  // discarded: the conversation is over (a management request gets one answer)
  }
}

void http_connection::on_head_complete(const net::http_request_head& head, std::size_t head_bytes) {
  // A reload since this client connected: it is routed by the config that runs now.
  if (const endpoint* now = owner().current_endpoint(*_endpoint); now != _endpoint) {
    if (!now) {
      refuse(503, "its address was removed by a reload", net::build_http_error_response(503, "service removed"));
      return;
    }
    _endpoint = now;
    owner().rebase_session(*this);
  }
  const net::http_header* host = head.find("host");
  std::string_view host_value = host ? host->value : std::string_view{};
  route_match m = find_route(*_endpoint, host_value, head.path());
  if (!m.found) {
    std::string why = m.miss == route_miss::unknown_host
                          ? "no service for host '" + std::string(host_value) + "'"
                          : "no service at path '" + std::string(head.path()) + "'";
    refuse(404, why, net::build_http_error_response(404, why));
    return;
  }
  _route = m.found;
  const config::service_config& service = *_route->service;
  owner().set_session_service(*this, service);
  const net::http_header* origin = head.find("origin");
  if (origin && !origin_allowed(service, *_route->accept, origin->value)) {
    std::string why = "origin '" + std::string(origin->value) + "' is not allowed by service '" + service.name + "'";
    refuse(403, why, net::build_http_error_response(403, "origin not allowed"));
    return;
  }
  if (service.type == config::service_type::management) {
    serve_management(head);
    return;
  }
  auto upgrade = net::check_ws_upgrade(head);
  if (!upgrade) {
    refuse(net::http_status_of(upgrade.error()), net::to_string(upgrade.error()),
           net::build_ws_refusal(upgrade.error()));
    return;
  }
  if (service.type == config::service_type::balancer) {
    const route* local = balance(head, upgrade->key, head_bytes);
    if (!local) return;  // answered (302, 503) or spliced to another member
    _route = local;
    owner().set_session_service(*this, *local->service);
    serve(head, upgrade->key, head_bytes);
    return;
  }
  serve(head, upgrade->key, head_bytes);
}

void http_connection::serve(const net::http_request_head& head, std::string_view key, std::size_t head_bytes) {
  const config::service_config& service = *_route->service;
  if (service.type == config::service_type::proxy) {
    hand_off_to_proxy(head, key, head_bytes);
    return;
  }
  // Echo supports no subprotocol, so none is selected; a client that requires one fails its
  // own handshake check, as RFC 6455 §4.1 says it must.
  write_to_client(net::build_ws_accept_response(key, {}));

  _decoder.emplace(net::ws_role::server,
                   service.accept_options.ws_maximum_message_size.value_or(owner().limits().default_max_message_bytes));
  _max_pending_bytes = service.maximum_pending_bytes.value_or(owner().limits().default_max_pending_bytes);
  owner().reactor().disarm_timer(_timer);
  _state = state::ws_open;
  count_as_load();
  _inactivity_ms = service.accept_options.ws_inactivity_timeout
                       ? static_cast<std::uint64_t>(service.accept_options.ws_inactivity_timeout->count())
                       : 0;
  _last_read_ms = owner().reactor().now_ms();
  if (_inactivity_ms) owner().reactor().arm_timer(_inactivity, std::max<std::uint64_t>(_inactivity_ms / 2, 1));
  _stall.emplace(owner().reactor(), owner().send_timeout_ms(service), [this] {
    LOG_INFO("%s closed: the client read none of %zu queued bytes for %llu ms (send.timeout)",
             _peer.to_string().c_str(), _transport ? _transport->queued_bytes() : std::size_t{0},
             static_cast<unsigned long long>(_stall->timeout_ms()));
    client_session().end_as("send-timeout");
    close_now();
  });
  LOG_DEBUG("%s websocket open on %s%s (service '%s')", _peer.to_string().c_str(), _route->accept->authority().c_str(),
            _route->path.c_str(), service.name.c_str());

  // Frames that came in the same read as the head.
  std::span<std::byte> rest(reinterpret_cast<std::byte*>(_head.data()) + head_bytes, _head.size() - head_bytes);
  if (!rest.empty()) on_ws_bytes(rest);
  std::string().swap(_head);
}

void http_connection::serve_management(const net::http_request_head& head) {
  management_hub* hub = owner().management();
  if (!hub) {
    refuse(503, "management service: not running", net::build_http_error_response(503, "not running"));
    return;
  }
  owner().reactor().arm_timer(_timer, management_deadline_ms);  // the reactors' answer, or 503
  _state = state::answering;
  std::string method(head.method);
  const std::string what = _route->path.ends_with("/metrics") ? "metrics" : "health";
  std::string().swap(_head);
  _alive = std::make_shared<char>();
  hub->gather(owner().reactor().id(), [this, alive = std::weak_ptr<char>(_alive), method, what](
                                          std::optional<metrics_snapshot> snap) {
    if (alive.expired() || _state != state::answering) return;  // the client went away meanwhile
    if (!snap) {
      refuse(503, "management service: a reactor's mailbox is full", net::build_http_error_response(503, "busy"));
      return;
    }
    std::string response = management_response(method, what, *snap);
    client_session().http_status = static_cast<std::uint16_t>(std::stoi(response.substr(9, 3)));
    write_to_client(response);
    linger();
  });
}

void http_connection::hand_off_to_proxy(const net::http_request_head& head, std::string_view key,
                                        std::size_t head_bytes, std::shared_ptr<const proxy_plan> plan) {
  ws_proxy::client_request request;
  request.key = std::string(key);
  if (const net::http_header* p = head.find("sec-websocket-protocol")) request.protocols = std::string(p->value);
  if (const net::http_header* x = head.find("x-forwarded-for")) request.forwarded_for = std::string(x->value);
  request.early_bytes = _head.substr(head_bytes);
  request.client_session = hand_over_session();
  owner().reactor().disarm_timer(_timer);
  _state = state::handed_off;
  owner().reactor().disarm_timer(_inactivity);
  new ws_proxy(owner(), std::move(_transport), *_route, _peer, std::move(request), std::move(plan));
  free_later();
}

const route* http_connection::balance(const net::http_request_head& head, std::string_view key,
                                      std::size_t head_bytes) {
  const config::service_config& balancer = *_route->service;
  const std::string balance_uri = _route->accept->to_string();
  const balancing_plan* plan = owner().balancing();
  const local_balance* local = plan ? plan->find(balance_uri) : nullptr;
  std::optional<std::uint32_t> local_load;
  if (local) {
    // The member's load is the sum over its reactors; this reactor sees only its own share, and
    // SO_REUSEPORT spreads clients evenly over the reactors, so scale it (no shared counter).
    const core::reactor_group* group = owner().reactor().group();
    const std::size_t reactors = group ? group->size() : 1;
    local_load = static_cast<std::uint32_t>(std::min<std::size_t>(owner().load_count() * reactors, UINT32_MAX));
  }
  const std::uint64_t a = owner().random()();
  const std::uint64_t b = owner().random()();
  balancer_decision d = decide_balancer(owner().balancer_table(), balance_uri, balancer_mode_of(balancer),
                                        choice_options_of(balancer), a, b, local_load);
  switch (d.what) {
    case balancer_decision::kind::unavailable:
      ++owner().metrics().balancer_decisions["(none ready)"];
      refuse(503, "service '" + balancer.name + "': no ready member for " + balance_uri,
             net::build_http_error_response(503, "no ready member", "Retry-After: 1\r\n"));
      return nullptr;
    case balancer_decision::kind::redirect: {
      LOG_DEBUG("%s balanced to %s (redirect)", _peer.to_string().c_str(), d.location.c_str());
      ++owner().metrics().balancer_decisions[d.member ? d.member->identity : std::string("(redirect)")];
      std::string response = "HTTP/1.1 302 Found\r\nLocation: " + d.location +
                             "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      client_session().http_status = 302;
      write_to_client(response);
      std::string().swap(_head);
      linger();
      return nullptr;
    }
    case balancer_decision::kind::local:
      ++owner().metrics().balancer_decisions["(this member)"];
      if (!local || !local->local_route) {
        refuse(503, "service '" + balancer.name + "': the local member has no service for " + balance_uri,
               net::build_http_error_response(503, "no ready member", "Retry-After: 1\r\n"));
        return nullptr;
      }
      return local->local_route;
    case balancer_decision::kind::remote:
      break;
  }
  ++owner().metrics().balancer_decisions[d.member->identity];
  std::vector<const cluster::balance_candidate*> members{d.member};
  members.insert(members.end(), d.fallbacks.begin(), d.fallbacks.end());
  auto member_plan = plan ? member_proxy_plan(members, balance_uri, balancer, *plan)
                          : std::unexpected(std::string("no balancing plan"));
  if (!member_plan) {
    refuse(503, member_plan.error(), net::build_http_error_response(503, "no ready member", "Retry-After: 1\r\n"));
    return nullptr;
  }
  LOG_DEBUG("%s balanced to %s at %s", _peer.to_string().c_str(), d.member->identity.c_str(),
            d.member->backplane.to_string().c_str());
  hand_off_to_proxy(head, key, head_bytes, std::move(*member_plan));
  return nullptr;
}

void http_connection::refuse(int status, std::string_view log_reason, std::string response) {
  LOG_INFO("%s refused: %d %.*s", _peer.to_string().c_str(), status, static_cast<int>(log_reason.size()),
           log_reason.data());
  client_session().http_status = static_cast<std::uint16_t>(status);
  write_to_client(response);
  std::string().swap(_head);
  linger();
}

void http_connection::on_ws_bytes(std::span<std::byte> bytes) {
  using net::ws_event_kind;
  using net::ws_opcode;
  while (_state == state::ws_open || _state == state::ws_closing) {
    net::ws_event ev = _decoder->next(bytes);
    bytes = bytes.subspan(ev.consumed);
    const bool echoing = _state == state::ws_open;
    switch (ev.kind) {
      case ws_event_kind::need_more:
        apply_backpressure();
        return;
      case ws_event_kind::frame_begin:
        _frame_fin = ev.header.fin;
        if (ev.header.opcode != ws_opcode::continuation) {
          _message_opcode = ev.message_opcode;
          _echo_message_open = false;
          _echo_message_done = false;
        }
        break;
      case ws_event_kind::data:
        if (echoing && !ev.payload.empty()) {
          bool fin = ev.frame_end && _frame_fin;
          send_frame(fin, _echo_message_open ? ws_opcode::continuation : _message_opcode, ev.payload);
          _echo_message_open = !fin;
          _echo_message_done = fin;
        }
        break;
      case ws_event_kind::message_end:
        ++client_session().messages_in;
        if (echoing) ++client_session().messages_out;
        if (echoing && !_echo_message_done) {
          send_frame(true, _echo_message_open ? ws_opcode::continuation : _message_opcode, {});
          _echo_message_open = false;
          _echo_message_done = true;
        }
        break;
      case ws_event_kind::ping:
        if (echoing) send_frame(true, ws_opcode::pong, ev.payload);
        break;
      case ws_event_kind::pong:
        break;
      case ws_event_kind::close:
        client_session().close_with(ev.close_code);
        if (echoing) {
          // Answer with the peer's code (RFC 6455 §5.5.1); an empty close gets an empty close.
          if (ev.close_code == net::ws_close_code::no_status)
            send_frame(true, ws_opcode::close, {});
          else
            send_close(ev.close_code, {});
        }
        linger();
        return;
      case ws_event_kind::error:
        LOG_INFO("%s websocket failed: close %u: %.*s", _peer.to_string().c_str(), ev.close_code,
                 static_cast<int>(ev.reason.size()), ev.reason.data());
        client_session().close_with(ev.close_code);
        if (echoing) send_close(ev.close_code, ev.reason);
        linger();
        return;
    }
  }
}

// ws.inactivity.timeout (KAAZING semantics): a ping after T/2 without a byte from the client,
// close 1001 after T.
void http_connection::on_inactivity() {
  if (_state != state::ws_open) return;
  const std::uint64_t idle = owner().reactor().now_ms() - _last_read_ms;
  if (idle >= _inactivity_ms) {
    LOG_INFO("%s closed after %llu ms without a frame (ws.inactivity.timeout)", _peer.to_string().c_str(),
             static_cast<unsigned long long>(idle));
    send_close(net::ws_close_code::going_away, "inactivity timeout");
    _state = state::ws_closing;
    owner().reactor().arm_timer(_timer, owner().limits().close_linger_ms);
    return;
  }
  if (idle >= _inactivity_ms / 2 && !_ping_outstanding) {
    send_frame(true, net::ws_opcode::ping, {});
    _ping_outstanding = true;
  }
  // The next check falls when this silence would reach T/2 (ping) or T (close), counted from
  // the last byte, so a late timer never turns an answered ping into a close.
  const std::uint64_t due = _ping_outstanding ? _inactivity_ms : _inactivity_ms / 2;
  owner().reactor().arm_timer(_inactivity, std::max<std::uint64_t>(due > idle ? due - idle : 1, 1));
}

void http_connection::send_frame(bool fin, net::ws_opcode opcode, std::span<const std::byte> payload) {
  std::byte header[14];
  std::size_t n = net::encode_ws_frame_header(header, fin, opcode, payload.size());
  _transport->write(std::span<const std::byte>(header, n));
  if (!payload.empty()) _transport->write(payload);
  client_session().bytes_out += n + payload.size();
}

void http_connection::write_to_client(std::string_view text) {
  _transport->write(std::as_bytes(std::span(text.data(), text.size())));
  client_session().bytes_out += text.size();
}

void http_connection::send_close(std::uint16_t code, std::string_view reason) {
  std::byte payload[net::ws_frame_decoder::max_control_payload];
  std::size_t n = net::encode_ws_close_payload(payload, code, reason);
  client_session().close_with(code);
  send_frame(true, net::ws_opcode::close, std::span<const std::byte>(payload, n));
}

void http_connection::linger() {
  if (_state == state::closed) return;
  _state = state::lingering;
  _transport->shutdown_write();
  if (_transport->reading_paused()) _transport->resume_reading();
  owner().reactor().arm_timer(_timer, owner().limits().close_linger_ms);
  if (_peer_eof && _transport->queued_bytes() == 0) close_now();
}

void http_connection::apply_backpressure() {
  if (_transport->queued_bytes() > _max_pending_bytes && !_transport->reading_paused()) {
    _transport->pause_reading();
    if (_stall) _stall->blocked();
  }
}

void http_connection::close_now(bool flush) {
  if (_state == state::closed || _state == state::handed_off) return;
  _state = state::closed;
  owner().reactor().disarm_timer(_timer);
  owner().reactor().disarm_timer(_inactivity);
  if (_stall) _stall->drained();
  owner().dispose(std::move(_transport), flush, _peer_eof);
  free_later();
}

// The connection may be inside one of its transport's callbacks: it leaves the worker's list
// now (so a drain does not wait for it) and is freed once the callback has returned.
void http_connection::free_later() {
  owner().forget(*this);
  owner().reactor().defer([this] { delete this; });
}

void http_connection::on_transport_eof() {
  _peer_eof = true;
  client_session().end_as("eof");
  switch (_state) {
    case state::reading_head:
    case state::answering:
      close_now();
      return;
    case state::ws_open:      // no close frame: 1006 for us; what was echoed still goes out
    case state::ws_closing:
      close_now(true);
      return;
    case state::lingering:
      if (_transport->queued_bytes() == 0) close_now();
      return;
    case state::handed_off:
    case state::closed:
      return;
  }
}

void http_connection::on_transport_error(int, std::string_view what) {
  client_session().end_as("error");
  LOG_DEBUG("%s connection error in %s: %.*s", _peer.to_string().c_str(), to_string(_state).data(),
            static_cast<int>(what.size()), what.data());
  close_now();
}

void http_connection::on_transport_drained() {
  if (_state == state::closed || _state == state::handed_off) return;
  if (_state == state::lingering && _peer_eof) {
    close_now();
    return;
  }
  if (_stall) _stall->drained();
  if (_transport->reading_paused()) _transport->resume_reading();
}

void http_connection::begin_drain() {
  switch (_state) {
    case state::reading_head:
    case state::answering:
      client_session().end_as("drain");
      close_now();
      return;
    case state::ws_open:
      send_close(net::ws_close_code::going_away, "gateway stopping");
      _state = state::ws_closing;
      owner().reactor().arm_timer(_timer, owner().limits().close_linger_ms);
      return;
    default:
      return;
  }
}

void http_connection::abort() {
  client_session().end_as("aborted");
  close_now();
}

}  // namespace postern::gateway
