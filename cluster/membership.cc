#include "cluster/membership.h"

#include <stdexcept>
#include <utility>

namespace postern::cluster {

std::expected<void, std::string> check_membership_options(const membership_options& o) {
  if (o.heartbeat_interval_ms == 0) return std::unexpected("the heartbeat interval must be above 0 ms");
  if (o.suspect_after_ms < o.heartbeat_interval_ms)
    return std::unexpected("the suspect time (" + std::to_string(o.suspect_after_ms) +
                           " ms) must be at least the heartbeat interval (" +
                           std::to_string(o.heartbeat_interval_ms) + " ms)");
  if (o.failure_timeout_ms <= o.suspect_after_ms)
    return std::unexpected("the failure timeout (" + std::to_string(o.failure_timeout_ms) +
                           " ms) must be above the suspect time (" + std::to_string(o.suspect_after_ms) +
                           " ms)");
  if (o.max_members == 0) return std::unexpected("the member limit must be above 0");
  return {};
}

std::string_view to_string(member_status status) noexcept {
  switch (status) {
    case member_status::alive: return "alive";
    case member_status::suspect: return "suspect";
  }
  return "?";
}

std::string_view to_string(member_event_kind kind) noexcept {
  switch (kind) {
    case member_event_kind::joined: return "joined";
    case member_event_kind::suspected: return "suspected";
    case member_event_kind::recovered: return "recovered";
    case member_event_kind::left: return "left";
    case member_event_kind::failed: return "failed";
    case member_event_kind::restarted: return "restarted";
    case member_event_kind::refuted: return "refuted a claim to its identity";
  }
  return "?";
}

std::string to_string(const member_event& event) {
  return "cluster member " + event.identity + " " + std::string(to_string(event.kind)) +
         " (incarnation " + std::to_string(event.incarnation) + ")";
}

std::string_view to_string(datagram_verdict verdict) noexcept {
  switch (verdict) {
    case datagram_verdict::applied: return "applied";
    case datagram_verdict::out_of_order: return "out of order";
    case datagram_verdict::replayed: return "replayed";
    case datagram_verdict::stale: return "stale";
    case datagram_verdict::old_incarnation: return "old incarnation";
    case datagram_verdict::own: return "own";
    case datagram_verdict::refuted: return "refuted";
    case datagram_verdict::full: return "full";
  }
  return "?";
}

membership::membership(member_state self, membership_options options)
    : _options(options), _self(std::move(self)) {
  if (auto checked = check_membership_options(_options); !checked) throw std::invalid_argument(checked.error());
  if (_self.identity.empty()) throw std::invalid_argument("the cluster member has no identity");
}

datagram_verdict membership::on_datagram(const gossip_datagram& datagram, std::uint64_t now_ms,
                                         std::vector<member_event>& events) {
  if (datagram.state.identity == _self.identity) return from_self(datagram, events);
  auto it = _members.find(datagram.state.identity);
  if (it == _members.end()) return from_new(datagram, now_ms, events);
  if (it->second.gone) return from_gone(it->second, datagram, now_ms, events);
  return from_live(it->second, datagram, now_ms, events);
}

datagram_verdict membership::from_self(const gossip_datagram& datagram, std::vector<member_event>& events) {
  const std::uint64_t incarnation = datagram.state.incarnation;
  if (incarnation == _self.incarnation) return datagram_verdict::own;
  if (incarnation < _self.incarnation) return datagram_verdict::old_incarnation;
  // Another process speaks as us with a newer life; outrank it so the cluster keeps ours.
  _self.incarnation = incarnation + 1;
  ++_generation;
  events.push_back({member_event_kind::refuted, _self.identity, _self.incarnation});
  return datagram_verdict::refuted;
}

datagram_verdict membership::from_new(const gossip_datagram& datagram, std::uint64_t now_ms,
                                      std::vector<member_event>& events) {
  if (!make_room()) return datagram_verdict::full;
  record& member = _members[datagram.state.identity];
  member.window.accept(datagram.state.incarnation, datagram.sequence);
  member.state = datagram.state;
  member.last_heard_ms = now_ms;
  if (datagram.state.leaving) {
    // Remembered as gone so that its reordered heartbeats cannot make it join afterwards.
    member.gone = true;
    member.left = true;
    return datagram_verdict::applied;
  }
  member.gone = false;
  member.status = member_status::alive;
  ++_live;
  ++_generation;
  events.push_back({member_event_kind::joined, member.state.identity, member.state.incarnation});
  return datagram_verdict::applied;
}

datagram_verdict membership::from_gone(record& member, const gossip_datagram& datagram, std::uint64_t now_ms,
                                       std::vector<member_event>& events) {
  const std::uint64_t incarnation = datagram.state.incarnation;
  const std::uint64_t last = member.window.incarnation();
  if (incarnation < last) return datagram_verdict::old_incarnation;
  const bool newer = incarnation > last || (!member.left && datagram.sequence > member.window.highest());
  if (!newer) {
    const auto verdict = member.window.accept(incarnation, datagram.sequence);
    return verdict == replay_window::verdict::replayed ? datagram_verdict::replayed : datagram_verdict::stale;
  }
  member.window.accept(incarnation, datagram.sequence);
  member.state = datagram.state;
  member.last_heard_ms = now_ms;
  member.left = datagram.state.leaving;
  if (datagram.state.leaving) return datagram_verdict::applied;
  member.gone = false;
  member.status = member_status::alive;
  ++_live;
  ++_generation;
  events.push_back({member_event_kind::joined, member.state.identity, member.state.incarnation});
  return datagram_verdict::applied;
}

datagram_verdict membership::from_live(record& member, const gossip_datagram& datagram, std::uint64_t now_ms,
                                       std::vector<member_event>& events) {
  switch (member.window.accept(datagram.state.incarnation, datagram.sequence)) {
    case replay_window::verdict::newest: break;
    case replay_window::verdict::out_of_order: return datagram_verdict::out_of_order;
    case replay_window::verdict::replayed: return datagram_verdict::replayed;
    case replay_window::verdict::too_old: return datagram_verdict::stale;
    case replay_window::verdict::old_incarnation: return datagram_verdict::old_incarnation;
  }
  const bool restarted = datagram.state.incarnation > member.state.incarnation;
  const bool changed = restarted || member.status != member_status::alive ||
                       member.state.load != datagram.state.load || member.state.balances != datagram.state.balances ||
                       !(member.state.address == datagram.state.address);
  // Copy-assignment reuses the strings' and vectors' capacity: no allocation in steady state.
  member.state = datagram.state;
  member.last_heard_ms = now_ms;
  if (datagram.state.leaving) {
    member.left = true;
    drop(member, member_event_kind::left, events);
    return datagram_verdict::applied;
  }
  if (restarted)
    events.push_back({member_event_kind::restarted, member.state.identity, member.state.incarnation});
  else if (member.status == member_status::suspect)
    events.push_back({member_event_kind::recovered, member.state.identity, member.state.incarnation});
  member.status = member_status::alive;
  if (changed) ++_generation;
  return datagram_verdict::applied;
}

void membership::tick(std::uint64_t now_ms, std::vector<member_event>& events) {
  for (auto& [identity, member] : _members) {
    if (member.gone) continue;
    const std::uint64_t silent_ms = now_ms > member.last_heard_ms ? now_ms - member.last_heard_ms : 0;
    if (silent_ms >= _options.failure_timeout_ms) {
      drop(member, member_event_kind::failed, events);
    } else if (silent_ms >= _options.suspect_after_ms && member.status == member_status::alive) {
      member.status = member_status::suspect;
      ++_generation;
      events.push_back({member_event_kind::suspected, identity, member.state.incarnation});
    }
  }
}

void membership::drop(record& member, member_event_kind why, std::vector<member_event>& events) {
  member.gone = true;
  --_live;
  ++_generation;
  events.push_back({why, member.state.identity, member.state.incarnation});
}

bool membership::make_room() {
  if (_members.size() < _options.max_members) return true;
  auto oldest = _members.end();
  for (auto it = _members.begin(); it != _members.end(); ++it)
    if (it->second.gone && (oldest == _members.end() || it->second.last_heard_ms < oldest->second.last_heard_ms))
      oldest = it;
  if (oldest == _members.end()) return false;
  _members.erase(oldest);
  return true;
}

void membership::set_load(std::uint32_t load) noexcept {
  if (_self.load == load) return;
  _self.load = load;
  ++_generation;
}

bool membership::set_ready(std::string_view balance_uri, bool ready) noexcept {
  for (balance_entry& entry : _self.balances) {
    if (entry.balance_uri != balance_uri) continue;
    if (entry.ready != ready) {
      entry.ready = ready;
      ++_generation;
    }
    return true;
  }
  return false;
}

void membership::set_balances(std::vector<balance_entry> balances) {
  if (_self.balances == balances) return;
  _self.balances = std::move(balances);
  ++_generation;
}

void membership::set_leaving() noexcept {
  if (_self.leaving) return;
  _self.leaving = true;
  ++_generation;
}

std::vector<member_view> membership::live_members() const {
  std::vector<member_view> out;
  out.reserve(_live + 1);
  out.push_back({&_self, member_status::alive, true});
  for (const auto& [identity, member] : _members)
    if (!member.gone) out.push_back({&member.state, member.status, false});
  return out;
}

std::optional<member_status> membership::status_of(std::string_view identity) const {
  if (identity == _self.identity) return member_status::alive;
  auto it = _members.find(identity);
  if (it == _members.end() || it->second.gone) return std::nullopt;
  return it->second.status;
}

const member_state* membership::state_of(std::string_view identity) const {
  if (identity == _self.identity) return &_self;
  auto it = _members.find(identity);
  if (it == _members.end() || it->second.gone) return nullptr;
  return &it->second.state;
}

}  // namespace postern::cluster
