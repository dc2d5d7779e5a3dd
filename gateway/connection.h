// connection: what a worker knows of every connection it owns, whatever its protocol: a place
// in the worker's list (so a drain can reach each one), the drain itself, and the client's
// session — the service, traffic and ending that the access log writes and /metrics counts
// when the connection ends (worker::forget).
#pragma once

#include <cstdint>

#include "net/address.h"

namespace postern::config {
struct service_config;
}

namespace postern::gateway {

class worker;

// What a client's connection did. Counted by the connection on its own thread, without a lock;
// a client handed from one connection object to another (the upgrade to a ws_proxy) keeps its
// session. "in" is from the client, "out" toward it.
struct session {
  net::socket_address peer;
  const config::service_config* service = nullptr;  // null: no service was found for it
  std::uint64_t started_ms = 0;   // the reactor's clock when it was accepted
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;  // whole WebSocket data messages
  std::uint64_t messages_out = 0;
  std::uint16_t http_status = 0;  // refused before the upgrade: the status it got
  std::uint16_t close_code = 0;   // the first WebSocket close code sent or received
  const char* ending = nullptr;   // otherwise how it ended, one word ("eof", "timeout", ...)
  std::uint32_t generation = 0;   // the runtime it came in under (worker::reload)
  enum class link_use : std::uint8_t { none, arrived_over_link, backend_over_link };
  link_use link = link_use::none;  // a reverse link in use: internal side / DMZ side

  void close_with(std::uint16_t code) noexcept {
    if (close_code == 0) close_code = code;
  }
  void end_as(const char* word) noexcept {
    if (!ending) ending = word;
  }
};

class connection {
 public:
  explicit connection(worker& owner) : _worker(&owner) {}
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  virtual ~connection() = default;

  // The gateway is stopping: finish politely (WebSocket close 1001, TCP FIN) and go away within
  // the drain timeout.
  virtual void begin_drain() = 0;
  // The drain timeout passed: close the socket now.
  virtual void abort() = 0;

  worker& owner() const noexcept { return *_worker; }
  // From now until it is forgotten, this connection counts in the member's load: it is a
  // client served by a local service (not a request still being read, nor a client the
  // balancer spliced to another member). Idempotent.
  void count_as_load() noexcept;

  // The client's session, for connections that serve a client (not links, not probes). A
  // connection that hands its client on calls hand_over_session() so the session ends once.
  void open_session(const net::socket_address& peer) noexcept;
  void continue_session(const session& s) noexcept {
    _session = s;
    _has_session = true;
  }
  session& client_session() noexcept { return _session; }
  const session& client_session() const noexcept { return _session; }
  bool has_session() const noexcept { return _has_session; }
  session hand_over_session() noexcept {
    _has_session = false;
    return _session;
  }

 private:
  friend class worker;
  worker* _worker;
  bool _counted_as_load = false;
  bool _has_session = false;
  session _session;
  connection* _prev = nullptr;
  connection* _next = nullptr;
};

}  // namespace postern::gateway
