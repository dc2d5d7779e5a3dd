// connection: what a worker knows of every connection it owns, whatever its protocol: a place
// in the worker's list (so a drain can reach each one) and the drain itself.
#pragma once

namespace postern::gateway {

class worker;

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

 private:
  friend class worker;
  worker* _worker;
  bool _counted_as_load = false;
  connection* _prev = nullptr;
  connection* _next = nullptr;
};

}  // namespace postern::gateway
