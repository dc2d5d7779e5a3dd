// balancer_table: an immutable snapshot of who serves each balance URI (DESIGN §3, §6). Built
// on reactor 0 from the membership whenever its generation changes, then posted to every
// reactor as std::shared_ptr<const balancer_table>; lookups are plain reads without any lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/member_state.h"
#include "net/address.h"

namespace postern::cluster {

class membership;

// One member that offers a balance URI.
struct balance_candidate {
  std::string identity;                  // the member's cluster identity, for logs
  std::vector<std::string> accept_uris;  // its public accept URIs (redirect mode)
  net::socket_address backplane;         // where proxy mode dials (length 0: not given)
  // Choosable: the member says it is ready for this URI, is not suspected and is not leaving.
  bool ready = false;
  bool suspect = false;                  // silent for a while (shown for metrics; never ready)
  std::uint32_t load = 0;                // active connections when it last said so
  bool is_local = false;                 // this process
};

struct balance_group {
  std::string balance_uri;
  std::vector<balance_candidate> candidates;  // every member offering the URI, by identity
  std::vector<std::uint32_t> ready;           // indices into candidates of the ready ones
  std::uint64_t ready_load_sum = 0;           // sum of the ready candidates' loads
  std::int32_t local_index = -1;              // index of the local candidate, -1 when none
};

// A member as the table is built from it: its state and how the membership sees it.
struct table_member {
  const member_state* state = nullptr;
  bool suspect = false;
  bool is_local = false;
};

class balancer_table {
 public:
  // Groups every member's balance entries by balance URI. Members are taken as given (the
  // membership passes only live ones). A member with two entries for one URI (never produced
  // by a decoded datagram) is listed once, with its first entry.
  static std::shared_ptr<const balancer_table> build(std::span<const table_member> members,
                                                     std::uint64_t generation = 0);

  // The group for balance_uri (compared byte for byte), or nullptr when no member offers it.
  const balance_group* find(std::string_view balance_uri) const noexcept;

  std::span<const balance_group> groups() const noexcept { return _groups; }
  // The membership generation this table was built from (0 when built from a plain list).
  std::uint64_t generation() const noexcept { return _generation; }

 private:
  balancer_table() = default;
  std::vector<balance_group> _groups;  // sorted by balance_uri
  std::uint64_t _generation = 0;
};

// The table of a membership's live members (self included), tagged with its generation.
std::shared_ptr<const balancer_table> build_balancer_table(const membership& members);

}  // namespace postern::cluster
