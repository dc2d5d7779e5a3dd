// backplane: the DMZ side of reverse connectivity (DESIGN §5). Internal gateways dial the
// backplane address, and each link they open is parked here until a client of the proxy
// service that connects "through" it arrives; the DMZ itself never dials anything.
//
//   link_pool (one per worker) — the parked links of its reactor, per logical URI, and the
//     clients of that reactor waiting for one. Runs on its reactor only.
//   backplane (reactor 0) — one listening socket per backplane address. It hands every new
//     socket, before a byte is read, to the reactor with the fewest parked links (clients
//     waiting count against it), so links spread over the reactors; the pools tell it their
//     counts by message. It publishes each service's readiness ("at least one parked link") to
//     the readiness registry, which the cluster gossips; a pool emptied by a burst of clients
//     must stay empty 500 ms before the service is not ready (the internal gateway refills it
//     at once), so bursts do not make the member flap.
//
// A link's life on its reactor: TLS handshake for socks+ssl:// (the internal gateway's
// certificate checked as verify-client says), then the SOCKS5 greeting and a BIND request whose
// DOMAINNAME is a logical URI this gateway serves → method choice and the first BIND reply
// (bound address = the backplane) → parked. Within the handshake timeout or it is closed. A
// parked link that sends a byte, closes or fails is dropped. A client waiting on a reactor
// without a link while another reactor has one makes that link retire: a reply with code 6
// (TTL expired) tells the internal gateway to dial a replacement at once, and reactor 0 hands
// the new socket to the waiting client's reactor. claim() sends the second BIND reply
// with the client's address and gives the link's transport to the caller: from then on it
// carries that client's stream. TCP keep-alives on every link notice a silently dead peer.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/reactor.h"
#include "core/unique_fd.h"
#include "gateway/runtime.h"
#include "net/address.h"
#include "net/transport.h"

namespace postern::gateway {

class acceptor;
class worker;
class readiness_registry;
class backplane;

// Sets TCP keep-alives on a reverse link's socket (both sides): a link idle for 10 s is probed
// every 5 s and dropped after 3 unanswered probes or 25 s of unacknowledged data.
void set_link_keepalive(int fd) noexcept;

class link_pool {
 public:
  // A client waiting for a link (backend_connector in reverse mode).
  class waiter {
   public:
    virtual void on_link(std::unique_ptr<net::transport> link) = 0;

   protected:
    ~waiter() = default;
  };

  explicit link_pool(worker& w);
  ~link_pool();
  link_pool(const link_pool&) = delete;
  link_pool& operator=(const link_pool&) = delete;

  // Reactor 0's backplane, told of every change in this pool's counts. Set before links come.
  void set_backplane(backplane* b) noexcept { _backplane = b; }

  // A socket accepted on backplane plan `bp` and handed to this reactor.
  void adopt_link(core::unique_fd fd, const backplane_plan& bp);

  // Takes a parked link for uri, sends it the second BIND reply naming client, and returns its
  // transport (the caller must set_handler() at once); null when none is parked here.
  std::unique_ptr<net::transport> claim(std::string_view uri, const net::socket_address& client);
  // Links parked here, for every URI (/metrics).
  std::size_t parked() const noexcept {
    std::size_t n = 0;
    for (const auto& [uri, links] : _parked) n += links.size();
    return n;
  }
  // Queues w for the next link parked for uri; on_link() receives it already claimed for client.
  void wait(std::string_view uri, const net::socket_address& client, waiter& w);
  void cancel(waiter& w) noexcept;

  // Reactor 0 asks: a client waits for uri on a reactor without a link. Retires this reactor's
  // oldest link for uri (SOCKS reply 6) unless a client here waits for it too; the internal
  // gateway's replacement goes to the reactor with the waiting client.
  void retire_one(std::string_view uri);
  // Closes every link (the gateway is stopping); waiting clients stay to their owners.
  void close_all();

 private:
  class link;
  struct waiting {
    waiter* who;
    std::string uri;
    net::socket_address client;
  };
  friend class link;
  void on_parked(link& l);
  void on_gone(link& l);
  // settled: a socket reactor 0 handed here has parked or ended (it counted it provisionally).
  void report(std::string_view uri, int delta_parked, int delta_waiting, bool settled = false);
  std::unique_ptr<net::transport> hand_over(link& l, const net::socket_address& client);

  worker* _worker;
  backplane* _backplane = nullptr;
  std::vector<std::unique_ptr<link>> _links;                 // every link of this reactor, any state
  std::map<std::string, std::deque<link*>, std::less<>> _parked;  // oldest first
  std::deque<waiting> _waiting;
  bool _closed = false;
};

class backplane {
 public:
  // workers: every worker, indexed by reactor id (the pools are theirs). Runs on reactor 0.
  backplane(std::vector<worker*> workers, readiness_registry& readiness);
  ~backplane();
  backplane(const backplane&) = delete;
  backplane& operator=(const backplane&) = delete;

  // Opens every backplane address of the runtime and starts accepting. Throws runtime_error
  // naming the address when one cannot be bound.
  void start();
  // Stops accepting (drain).
  void stop();

  // From a pool (posted to reactor 0): its counts for uri changed by these amounts; settled: a
  // socket handed to it has parked or ended (uri may then be empty).
  void on_counts(unsigned reactor, const std::string& uri, int delta_parked, int delta_waiting, bool settled);

 private:
  void hand_off(core::unique_fd fd, const backplane_plan& bp);

  std::vector<worker*> _workers;
  const runtime* _rt;  // the runtime at start: a reload never changes the backplane (reload.h)
  readiness_registry* _readiness;
  std::vector<std::unique_ptr<acceptor>> _acceptors;
  // Per reactor: links parked or being set up, minus clients waiting: where the next link goes.
  std::vector<long> _load;
  struct uri_state {
    uri_state(std::string u, std::size_t reactors, std::move_only_function<void()> on_grace)
        : uri(std::move(u)), parked(reactors, 0), waiting(reactors, 0), grace(std::move(on_grace)) {}
    std::string uri;
    std::vector<long> parked;   // per reactor
    std::vector<long> waiting;  // per reactor: clients waiting for a link
    bool ready = false;        // as last told to the readiness registry
    core::timer grace;         // armed while none is parked and the service is still ready
    long total() const noexcept;
  };
  // How long a pool may stay empty before its services are not ready.
  static constexpr std::uint64_t not_ready_grace_ms = 500;
  void publish(uri_state& u, bool ready);
  // Asks reactor holder to retire one of its parked links for u, so that its replacement comes
  // to a reactor where a client waits.
  void retire_one(uri_state& u, unsigned holder);

  std::map<std::string, std::unique_ptr<uri_state>, std::less<>> _uris;
  unsigned _next = 0;
};

}  // namespace postern::gateway
