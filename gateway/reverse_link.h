// reverse_link: the internal side of reverse connectivity (DESIGN §5). The internal gateway
// opens no listening socket for a service with accept-options socks.mode reverse: it dials the
// DMZ's backplane and keeps links parked there, each one waiting for a client.
//
// A link: TCP connect to the backplane (TLS with this gateway's certificate for socks+ssl://,
// the DMZ's certificate verified against the truststore and the transport's host name) →
// SOCKS5 greeting and BIND for the logical URI (the service's accept) → method choice and first
// reply: parked → second reply carrying the client's address: claimed. The claimed transport
// becomes a connection of the service exactly like an accepted socket (http_connection for
// ws/wss accepts, tcp_proxy or tcp echo for tcp/ssl accepts), with the client's address as its
// peer and the bytes that followed the reply as its first input; a replacement is dialed at once.
//
// reverse_dialer keeps `share` links of one reverse accept on one reactor. A dial that fails
// (refused, TLS, SOCKS refusal, closed before the second reply) is retried after a backoff from
// 500 ms doubling up to socks.retry.maximum.interval; a link that parked resets the backoff. A
// parked link that the DMZ closes or retires (SOCKS reply 6, to move it to another of its
// reactors) is replaced at once. Changes are logged once, not per retry. While the service's own
// backend is unreachable (its readiness, for a proxy), no link is kept: the DMZ member then has
// none parked, is not ready, and the balancers stop offering it, so the pair fails over as a unit.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/reactor.h"
#include "gateway/runtime.h"
#include "net/address.h"
#include "net/transport.h"

namespace postern::gateway {

class worker;

// Serves a client that came over a link of `accept` (either mode) exactly like an accepted
// socket: http_connection for ws/wss accepts, tcp_proxy or tcp echo for tcp/ssl accepts. t is
// ready; peer is the client's address the DMZ named; early, what followed the SOCKS reply.
void serve_link_client(worker& w, const socks_accept& accept, std::unique_ptr<net::transport> t,
                       const net::socket_address& peer, std::span<std::byte> early);

class reverse_dialer {
 public:
  // backend_ready: whether to dial at start (false for a proxy until its first probe answers).
  reverse_dialer(worker& w, const socks_accept& plan, unsigned share, bool backend_ready);
  ~reverse_dialer();
  reverse_dialer(const reverse_dialer&) = delete;
  reverse_dialer& operator=(const reverse_dialer&) = delete;

  void start();
  // Stops dialing and closes every link not yet claimed (the gateway is stopping).
  void stop();

  const config::service_config& service() const noexcept { return *_plan->service; }
  // Links dialed out, set up and waiting to be claimed (/metrics).
  unsigned parked() const noexcept { return _parked; }
  // The service's backend became unreachable (false) or reachable again (true): without a
  // backend the links are closed and none is dialed, so the DMZ stops offering this pair.
  void set_backend_ready(bool ready);

 private:
  class link;
  friend class link;

  void dial();
  void on_parked(link& l);
  void on_claimed(link& l);
  void on_retired(link& l);
  void on_failed(link& l, const std::string& why, bool was_parked);
  void forget(link& l);
  void schedule_redial();

  worker* _worker;
  const socks_accept* _plan;
  unsigned _share;
  std::vector<std::unique_ptr<link>> _links;
  unsigned _parked = 0;
  std::uint64_t _backoff_ms;
  bool _backend_ready;
  bool _retry_armed = false;
  bool _failing = false;   // the last dial failed: the failure was logged, the next success is too
  bool _stopped = false;
  bool _ever_parked = false;
  core::timer _retry;
};

}  // namespace postern::gateway
