// membership: who is in the cluster, from first-hand heartbeats and a clock. Pure: no socket,
// no clock of its own (every call gets now_ms, a monotonic clock in ms), no logging: it returns
// events for the caller to log. Runs on one thread (reactor 0).
//
// Life of another member, keyed by its identity:
//   (unknown) --heartbeat--> alive                       event joined
//   alive --no newer heartbeat for suspect_after_ms--> suspect   event suspected
//   suspect --heartbeat--> alive                         event recovered
//   alive|suspect --no heartbeat for failure_timeout_ms--> gone  event failed
//   alive|suspect --leaving datagram--> gone at once     event left
//   gone --a newer heartbeat--> alive                    event joined
//   a higher incarnation replaces the state at once      event restarted (or joined if gone)
// "Heartbeat" is an authentic datagram (the codec checked its tag) that is the newest of its
// sender: replay_window decides. A gone member is remembered (its replay window, not counted
// as a member) so a replayed or reordered datagram cannot bring it back: only a higher
// incarnation, or a higher sequence of an incarnation that did not leave, does.
// self is always present and always alive; its state is the one this member gossips.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/gossip_codec.h"
#include "cluster/member_state.h"

namespace postern::cluster {

struct membership_options {
  std::uint64_t heartbeat_interval_ms = 200;  // how often the owner sends self's state
  std::uint64_t suspect_after_ms = 600;       // 3 missed heartbeats
  // A silent member is failed this long after its last heartbeat; with tick() called every
  // heartbeat interval, it is noticed within failure_timeout_ms + heartbeat_interval_ms.
  std::uint64_t failure_timeout_ms = 1500;
  // Identities remembered, live and gone, besides self. When full, the gone member heard
  // longest ago is forgotten; if none is gone, datagrams from new identities are ignored.
  std::size_t max_members = 1024;
};

// Needs 0 < heartbeat_interval_ms <= suspect_after_ms < failure_timeout_ms and max_members > 0;
// otherwise a sentence naming the broken rule.
std::expected<void, std::string> check_membership_options(const membership_options& options);

enum class member_status : std::uint8_t {
  alive,    // heard within suspect_after_ms
  suspect,  // silent for suspect_after_ms or more: probably dead, not chosen by balancers
};
std::string_view to_string(member_status status) noexcept;

enum class member_event_kind : std::uint8_t {
  joined,     // a new member, or one that was gone came back
  suspected,  // silent for suspect_after_ms
  recovered,  // a suspect member was heard again
  left,       // it said goodbye: dropped at once
  failed,     // silent for failure_timeout_ms: dropped
  restarted,  // a live member came back with a higher incarnation (its state was replaced)
  refuted,    // another process claimed self's identity: self's incarnation was bumped above it
};
std::string_view to_string(member_event_kind kind) noexcept;

struct member_event {
  member_event_kind kind = member_event_kind::joined;
  std::string identity;
  std::uint64_t incarnation = 0;  // the member's incarnation after the event
};
// A log line: "cluster member tcp://127.0.0.2:5941 joined (incarnation 17)".
std::string to_string(const member_event& event);

// What on_datagram did with a datagram (for counters; only `applied` and `refuted` change state).
enum class datagram_verdict : std::uint8_t {
  applied,          // the sender's newest state: taken, liveness refreshed (or it left)
  out_of_order,     // authentic, but older than a state already applied: dropped
  replayed,         // this sequence was seen before: dropped
  stale,            // too old for the replay window, or from a member that is gone and this
                    // datagram is not newer than what it last said: dropped
  old_incarnation,  // from an earlier life of its sender: dropped
  own,              // self's own datagram (multicast loops back): dropped
  refuted,          // claims self's identity with a higher incarnation: self's was bumped
  full,             // a new identity while max_members are remembered: dropped
};
std::string_view to_string(datagram_verdict verdict) noexcept;

// A live member as the balancer table sees it. Pointers stay valid until the next non-const call.
struct member_view {
  const member_state* state = nullptr;
  member_status status = member_status::alive;
  bool is_local = false;
};

class membership {
 public:
  // self.identity must be non-empty; options must pass check_membership_options (both are
  // checked at start-up; std::invalid_argument otherwise).
  membership(member_state self, membership_options options = {});

  // Applies one decoded, authentic datagram received at now_ms. Appends the events it causes.
  datagram_verdict on_datagram(const gossip_datagram& datagram, std::uint64_t now_ms,
                               std::vector<member_event>& events);

  // Advances failure detection to now_ms: suspects and fails silent members. Call it at least
  // every heartbeat interval. Appends events in identity order.
  void tick(std::uint64_t now_ms, std::vector<member_event>& events);

  // Self's state as it must be gossiped now, and the sequence for the next datagram (1, 2, ...).
  const member_state& self() const noexcept { return _self; }
  std::uint64_t next_sequence() noexcept { return ++_sequence; }

  // Changes to self's state; each bumps generation() when it changes something.
  void set_load(std::uint32_t load) noexcept;
  bool set_ready(std::string_view balance_uri, bool ready) noexcept;  // false: unknown URI
  void set_balances(std::vector<balance_entry> balances);
  void set_leaving() noexcept;  // every later heartbeat is a goodbye

  // Bumped whenever something the balancer table shows changes (membership, status, a
  // member's balances or load, self's state). The owner rebuilds the table when it differs
  // from the table's, at most once per tick so a busy cluster does not rebuild per datagram.
  std::uint64_t generation() const noexcept { return _generation; }

  // Self first, then live members (alive and suspect) in identity order.
  std::vector<member_view> live_members() const;
  std::size_t live_count() const noexcept { return _live + 1; }  // counting self

  // A member's status, or nullopt when it is unknown or gone. Self is always alive.
  std::optional<member_status> status_of(std::string_view identity) const;
  // A live member's state (self included), or nullptr.
  const member_state* state_of(std::string_view identity) const;

  const membership_options& options() const noexcept { return _options; }

 private:
  struct record {
    member_state state;
    replay_window window;
    member_status status = member_status::alive;
    bool gone = true;    // failed or left: kept only for its replay window
    bool left = false;   // its incarnation said goodbye: closed for good
    std::uint64_t last_heard_ms = 0;
  };
  using record_map = std::map<std::string, record, std::less<>>;

  datagram_verdict from_self(const gossip_datagram& datagram, std::vector<member_event>& events);
  datagram_verdict from_new(const gossip_datagram& datagram, std::uint64_t now_ms,
                            std::vector<member_event>& events);
  datagram_verdict from_gone(record& member, const gossip_datagram& datagram, std::uint64_t now_ms,
                             std::vector<member_event>& events);
  datagram_verdict from_live(record& member, const gossip_datagram& datagram, std::uint64_t now_ms,
                             std::vector<member_event>& events);
  // Frees a slot for a new identity: false when max_members are remembered and none is gone.
  bool make_room();
  void drop(record& member, member_event_kind why, std::vector<member_event>& events);

  membership_options _options;
  member_state _self;
  std::uint64_t _sequence = 0;
  std::uint64_t _generation = 1;
  record_map _members;     // everyone but self, live and gone
  std::size_t _live = 0;   // records not gone
};

}  // namespace postern::cluster
