// http_connection: a connection accepted on an http or https endpoint (ws:// and wss://
// accepts), over a TCP or TLS transport. It reads one HTTP/1.1 request head, routes it to a
// service by Host and path, checks the Origin against the service's cross-site-constraint and
// the RFC 6455 upgrade, then serves the WebSocket itself for the echo service (each data frame
// chunk is answered as it arrives: the message keeps its type, fragment boundaries may differ;
// each ping gets a pong) or hands the client transport to a ws_proxy for the proxy service.
// Refused requests get an HTTP error status and a log line, and the socket closes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <memory>

#include "core/reactor.h"
#include "gateway/connection.h"
#include "gateway/routes.h"
#include "gateway/send_stall.h"
#include "net/address.h"
#include "net/http_request.h"
#include "net/transport.h"
#include "net/ws_frame.h"

namespace postern::gateway {

struct proxy_plan;

class http_connection final : public connection, public net::transport_handler {
 public:
  http_connection(worker& owner, core::unique_fd fd, const endpoint& ep);
  // A client that arrived over a reverse link (DESIGN §5): t is ready (its TLS, if any, is the
  // link's), peer is the address the second BIND reply named, early what followed that reply.
  http_connection(worker& owner, std::unique_ptr<net::transport> t, const endpoint& ep, const net::socket_address& peer,
                  std::span<std::byte> early);

  void begin_drain() override;
  void abort() override;

  void on_transport_ready() override {}
  void on_transport_data(std::span<std::byte> bytes) override;
  void on_transport_eof() override;
  void on_transport_error(int error, std::string_view what) override;
  void on_transport_drained() override;
  void on_transport_closed() override {}

  enum class state : std::uint8_t {
    reading_head,  // collecting the request head in _head; the handshake timer is armed
    answering,     // a management request: waiting for the reactors' counters, then answering
    ws_open,       // 101 sent; frames flow both ways
    ws_closing,    // we sent a close frame first (drain); waiting for the peer's close
    lingering,     // our side is shut down (after an HTTP error or the close handshake);
                   // input is discarded until the peer's FIN or the linger timer
    handed_off,    // the transport belongs to another connection now; freed after this callback
    closed,        // the transport is disposed of; freed after this callback
  };
  static std::string_view to_string(state s);

 private:
  ~http_connection() override = default;

  void on_head_complete(const net::http_request_head& head, std::size_t head_bytes);
  void refuse(int status, std::string_view log_reason, std::string response);
  void on_ws_bytes(std::span<std::byte> bytes);
  void send_frame(bool fin, net::ws_opcode opcode, std::span<const std::byte> payload);
  void send_close(std::uint16_t code, std::string_view reason);
  void write_to_client(std::string_view text);  // counted in the session's bytes out
  void linger();
  // flush: send what is queued first (the peer's FIN came; what was answered still goes out).
  void close_now(bool flush = false);
  // The upgrade passed every check: serve it with _route's service (echo here, proxy handed off).
  void serve(const net::http_request_head& head, std::string_view key, std::size_t head_bytes);
  // A balancer's upgrade: the local route to serve it with, or nullptr when it was answered
  // (302 in redirect mode, 503 without a ready member) or spliced to another member.
  const route* balance(const net::http_request_head& head, std::string_view key, std::size_t head_bytes);
  // plan: a run-time plan (a splice to another member); null: the route's service's plan.
  void hand_off_to_proxy(const net::http_request_head& head, std::string_view key, std::size_t head_bytes,
                         std::shared_ptr<const proxy_plan> plan = nullptr);
  void free_later();
  // <type>management</type>: /metrics or /health (management.h), answered once, then linger.
  void serve_management(const net::http_request_head& head);
  void apply_backpressure();
  void on_inactivity();
  void on_deadline();  // the handshake deadline, then the close/linger deadline

  std::unique_ptr<net::transport> _transport;
  state _state = state::reading_head;
  const endpoint* _endpoint;
  const route* _route = nullptr;
  net::socket_address _peer;
  std::string _head;
  net::http_request_parser _parser;
  std::optional<net::ws_frame_decoder> _decoder;
  std::uint64_t _max_pending_bytes;
  net::ws_opcode _message_opcode = net::ws_opcode::binary;
  bool _echo_message_open = false;   // an echoed message has fragments out, no final one yet
  bool _echo_message_done = false;   // the echo of the current message has its final fragment out
  bool _frame_fin = false;           // the current incoming data frame is final
  bool _peer_eof = false;            // the peer's FIN arrived
  std::uint64_t _inactivity_ms = 0;  // ws.inactivity.timeout; 0: off
  std::uint64_t _last_read_ms = 0;
  bool _ping_outstanding = false;
  core::timer _timer;                // handshake deadline, then close/linger deadline
  core::timer _inactivity;           // every T/2 while open: ping after T/2 idle, close 1001 after T
  std::optional<send_stall> _stall;  // echo: the client reads none of its echoes for send.timeout
  std::shared_ptr<char> _alive;      // a pending management answer checks that we still exist
};

}  // namespace postern::gateway
