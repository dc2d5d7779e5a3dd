// ws_proxy: the proxy service for a WebSocket client (DESIGN §4). It receives the client's
// transport after the upgrade request was checked, dials the backend (backend_connector), and
// splices the two:
//   - backend tcp:// or ssl://: each client message's payload goes to the backend as bytes;
//     bytes from the backend go to the client as binary messages;
//   - backend ws:// or wss://: the gateway runs the upgrade as a client (with X-Forwarded-For)
//     and then forwards frames without reassembly: client frames keep their mask key, backend
//     frames go on as they are; headers are validated on the way (sizes, opcodes, UTF-8).
// The client gets 101 only once the backend is reachable (and has accepted its own upgrade);
// otherwise 502. After the upgrade: backend FIN → close 1000, backend failure → 1011, close
// codes kept between two WebSocket peers, the client's close → the backend's FIN. A client
// whose frames fail (1002/1007/1009) gets its close only after a WebSocket backend has closed
// too, so the answers to what it sent before the bad frame still reach it (RFC 6455 §7.1.7);
// no close reply is awaited from it. No frame of ours ever starts inside a forwarded frame:
// mid-frame, a peer gets the end of the TCP stream instead. Each direction queues at most
// maximum.pending.bytes before the other side stops being read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/reactor.h"
#include "gateway/backend_connector.h"
#include "gateway/connection.h"
#include "gateway/routes.h"
#include "gateway/runtime.h"
#include "gateway/send_stall.h"
#include "net/address.h"
#include "net/http_response.h"
#include "net/transport.h"
#include "net/ws_frame.h"

namespace postern::gateway {

class ws_proxy final : public connection, public backend_connector::owner_handler {
 public:
  struct client_request {
    std::string key;            // Sec-WebSocket-Key
    std::string protocols;      // Sec-WebSocket-Protocol offered, may be empty
    std::string forwarded_for;  // X-Forwarded-For the client sent, may be empty
    std::string early_bytes;    // bytes that followed the request head
    session client_session;     // the client's session so far (the upgrade request's bytes)
  };

  ws_proxy(worker& owner, std::unique_ptr<net::transport> client, const route& r, const net::socket_address& peer,
           client_request request);
  // The same with a plan built at run time (the balancer's splice to another cluster member):
  // the proxy keeps it alive; plan == nullptr means the route's service's plan.
  ws_proxy(worker& owner, std::unique_ptr<net::transport> client, const route& r, const net::socket_address& peer,
           client_request request, std::shared_ptr<const proxy_plan> plan);

  void begin_drain() override;
  void abort() override;

  void on_backend_ready(std::unique_ptr<net::transport> t, const backend_target& target) override;
  void on_backend_failed(const std::string& why, int http_status) override;

  enum class state : std::uint8_t {
    connecting,         // dialing the backend; client bytes are held
    backend_handshake,  // ws backend: our upgrade request is out, reading its response head
    open,               // 101 sent to the client; both directions flow
    closing,            // a close is under way; waiting for the peers' close / FIN or the linger timer
    refused,            // 502 queued for the client; ending
    done,               // transports disposed of; freed after the current callback
  };

 private:
  // The two legs forward their transport's events to the proxy.
  struct leg final : net::transport_handler {
    ws_proxy* proxy;
    bool client_side;
    std::unique_ptr<net::transport> transport;
    bool eof = false;
    bool paused_by_us = false;   // reading paused because the other leg's queue is full
    leg(ws_proxy& p, bool c) : proxy(&p), client_side(c) {}
    void on_transport_ready() override {}
    void on_transport_data(std::span<std::byte> bytes) override { proxy->on_data(*this, bytes); }
    void on_transport_eof() override { proxy->on_eof(*this); }
    void on_transport_error(int, std::string_view what) override { proxy->on_error(*this, what); }
    void on_transport_drained() override { proxy->on_drained(*this); }
    void on_transport_closed() override {}
  };

  ~ws_proxy() override = default;

  void on_data(leg& from, std::span<std::byte> bytes);
  void on_eof(leg& from);
  void on_error(leg& from, std::string_view what);
  void on_drained(leg& to);

  void on_backend_head(std::span<std::byte> bytes);
  void open_splice(std::string_view subprotocol, std::span<std::byte> backend_rest);
  void from_client(std::span<std::byte> bytes);
  void from_backend(std::span<std::byte> bytes);
  void write_header(leg& to, const net::ws_frame_header& h, const std::array<std::byte, 4>* mask);
  void write_frame(leg& to, bool fin, net::ws_opcode opcode, std::span<const std::byte> payload,
                   const std::array<std::byte, 4>* mask);
  void release_backend(std::uint16_t code, std::string_view reason);
  void close_client(std::uint16_t code, std::string_view reason);
  void close_backend(std::uint16_t code, std::string_view reason);
  void on_linger();
  void on_backend_error(std::string_view what);
  void maybe_finish();
  void write_close(leg& to, std::uint16_t code, std::string_view reason, const std::array<std::byte, 4>* mask);
  void start_closing();
  void throttle(leg& to, leg& from);
  void on_inactivity();
  void on_stall();
  // Ends the proxy: graceful flushes what is queued toward each peer before the sockets close.
  void finish(bool graceful);
  bool backend_is_ws() const noexcept { return _target && _target->websocket; }

  leg _client;
  leg _backend;
  const route* _route;
  const proxy_plan* _plan;
  const backend_target* _target = nullptr;
  net::socket_address _peer;
  client_request _request;
  state _state = state::connecting;
  std::unique_ptr<backend_connector> _connector;
  std::optional<net::ws_frame_decoder> _client_decoder;
  std::optional<net::ws_frame_decoder> _backend_decoder;
  net::http_response_parser _response_parser;
  std::string _response_head;      // the backend's response head while it arrives
  std::string _backend_key;        // our Sec-WebSocket-Key toward a ws backend
  std::array<std::byte, 4> _mask{};  // mask key for frames we originate toward a ws backend
  bool _client_close_sent = false;   // a close frame went to the client
  bool _client_close_seen = false;   // the client's close frame arrived
  bool _backend_close_sent = false;
  bool _backend_close_seen = false;
  // The client's frames failed (RFC 6455 §7.1.7): its close (with this code) waits until the
  // backend has answered what came before; no close reply is awaited from the client.
  bool _client_failed = false;
  std::uint16_t _client_fail_code = 0;
  std::string _client_fail_reason;
  // Payload bytes of the frame being forwarded in each direction that have not passed yet: no
  // frame of ours may start inside it.
  std::uint64_t _to_client_left = 0;
  std::uint64_t _to_backend_left = 0;
  std::uint64_t _client_last_read_ms = 0;
  bool _ping_outstanding = false;
  core::timer _linger;
  core::timer _inactivity;
  std::shared_ptr<const proxy_plan> _owned_plan;  // a run-time plan, or null
  send_stall _stall;             // one side reads nothing queued for it for send.timeout
  bool _stalled_client = false;  // which side the stall is waiting on
};

}  // namespace postern::gateway
