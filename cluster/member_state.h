// member_state: what one cluster member says about itself in every heartbeat (DESIGN §6).
// Plain data: the gossip codec puts it on the wire, the membership keeps one per member, the
// balancer table is built from them. A member only ever speaks for itself: a state is first-hand
// (a seed may forward a member's datagram verbatim; it never writes states of others).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/address.h"

namespace postern::cluster {

// One balance URI this member serves (a service with <balance>URI</balance>).
struct balance_entry {
  // The balance URI, compared byte for byte: every member and the balancer service write it
  // the same way (net::uri::to_string() of the configured URI). Unique within a member_state.
  std::string balance_uri;
  // The service's public accept URIs (what redirect mode sends a client to), as strings.
  std::vector<std::string> accept_uris;
  // Where the service's accept is bound inside the DMZ: what a proxy-mode balancer dials.
  // Length 0 when the member does not say (the member is then only usable in redirect mode).
  net::socket_address backplane;
  // The member can serve this URI now (a healthy connect or an idle reverse link).
  bool ready = false;

  friend bool operator==(const balance_entry&, const balance_entry&) = default;
};

struct member_state {
  // The member's cluster <accept> as written, "tcp://ip:port": its name in logs and the key
  // under which other members know it. Never empty.
  std::string identity;
  // The same accept resolved: where unicast gossip to this member goes. IPv4 or IPv6.
  net::socket_address address;
  // Orders the lives of one identity: a higher incarnation replaces every older state. Set at
  // start from the wall clock in ms (so a restarted member outranks its previous life) and
  // bumped when the member must refute another claim to its identity.
  std::uint64_t incarnation = 0;
  std::uint64_t start_time_ms = 0;  // wall clock, ms since the Unix epoch
  std::uint32_t load = 0;           // active client connections
  bool leaving = false;             // the goodbye datagram: drop this member at once
  std::vector<balance_entry> balances;

  friend bool operator==(const member_state&, const member_state&) = default;
};

}  // namespace postern::cluster
