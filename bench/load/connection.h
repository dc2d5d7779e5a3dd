// load_connection: one postern-load connection: connect (TCP, or TLS for wss), the WebSocket
// upgrade (ws, wss), then messages kept in flight and their echoes checked (echo_tracker), and
// at the end a graceful close (close frame, or FIN for tcp). Lives on one reactor, owned by its
// load_worker; every method runs on that reactor's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "bench/load/echo_check.h"
#include "bench/load/worker.h"
#include "core/timer_wheel.h"
#include "net/http_response.h"
#include "net/transport.h"
#include "net/ws_frame.h"

namespace postern::load {

class load_connection final : public net::transport_handler {
 public:
  enum class state : std::uint8_t {
    idle,        // waiting for a connect slot; no transport
    connecting,  // the transport connects (and shakes hands for TLS)
    upgrading,   // ws: the upgrade request is written; the response head collects in _head
    open,        // traffic flows (or the connection is held idle); _tracker checks echoes
    closing,     // our close frame or FIN is queued (or we answered the peer's close): no more
                 // messages are sent; echoes are still checked until the peer's EOF
    dropping,    // transport->close() was called; on_transport_closed is due
    closed,      // final: the transport is gone (or was never made); counted as ended
  };
  static std::string_view to_string(state s) noexcept;

  load_connection(load_worker& worker, unsigned index);
  load_connection(const load_connection&) = delete;
  load_connection& operator=(const load_connection&) = delete;
  ~load_connection() = default;

  unsigned index() const noexcept { return _index; }
  state current() const noexcept { return _state; }
  bool ended() const noexcept { return _state == state::closed; }
  bool started() const noexcept { return _started; }     // start() was called
  bool was_open() const noexcept { return _was_open; }   // reached open at least once

  // idle -> connecting. Failures arrive as events (never from inside start(), except with
  // --source-addresses, where a failed bind is reported at once).
  void start();
  // The worker lets traffic begin: closed loop fills in_flight; open loop starts pacing.
  void begin_traffic();
  // Ends the connection gracefully: open -> closing (close frame or FIN); a connection not
  // open yet fails with a connect error.
  void finish();
  // Ends the connection now, counting kind unless this connection already counted an error.
  void abort(load_error kind, std::string_view why);

 private:
  // transport_handler
  void on_transport_ready() override;
  void on_transport_data(std::span<std::byte> bytes) override;
  void on_transport_eof() override;
  void on_transport_error(int error, std::string_view what) override;
  void on_transport_closed() override;

  bool websocket() const noexcept { return _worker->plan().options.websocket(); }
  void connect_from_source();
  void become_open();
  void read_upgrade(std::span<std::byte> bytes);
  void read_frames(std::span<std::byte> bytes, std::uint64_t now_ns);
  // Checks echoed payload bytes; false once a mismatch ended the connection.
  bool check_echo(std::span<const std::byte> payload, std::uint64_t now_ns);
  void after_echo(std::uint64_t now_ns);
  void send_message(std::uint64_t now_ns);
  void send_control(net::ws_opcode opcode, std::span<const std::byte> payload);
  void on_peer_close(std::uint16_t code);
  void on_pace_timer();
  void report_mismatch(const echo_event& ev);
  void count_error_once(load_error kind, std::string_view what);

  load_worker* _worker;
  unsigned _index;
  state _state = state::idle;
  bool _started = false;
  bool _was_open = false;
  bool _error_counted = false;   // this connection already counted its one error
  bool _close_sent = false;      // ws: our close frame is queued
  bool _echo_broken = false;     // an echo error ended the connection: nothing more is lost
  std::unique_ptr<net::transport> _transport;
  echo_tracker _tracker;
  net::ws_frame_decoder _decoder;
  net::ws_opcode _opcode;
  // ws upgrade only (released once open): the key sent, the response bytes so far, the parser.
  std::string _key;
  std::string _head;
  net::http_response_parser _head_parser;
  // Open loop: message i is due at _pace_start_ns + i * _interval_ns.
  core::timer _pace_timer;
  std::uint64_t _pace_start_ns = 0;
  double _interval_ns = 0;
  std::uint64_t _due = 0;        // messages due so far
  std::uint64_t _backlog = 0;    // due but not sent: in-flight was at its cap
};

}  // namespace postern::load
