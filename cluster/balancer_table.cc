#include "cluster/balancer_table.h"

#include <algorithm>

#include "cluster/membership.h"

namespace postern::cluster {

std::shared_ptr<const balancer_table> balancer_table::build(std::span<const table_member> members,
                                                            std::uint64_t generation) {
  // make_shared cannot reach the private constructor.
  std::shared_ptr<balancer_table> table(new balancer_table());
  table->_generation = generation;
  std::vector<balance_group>& groups = table->_groups;
  for (const table_member& member : members) {
    if (member.state == nullptr) continue;
    const member_state& state = *member.state;
    for (const balance_entry& entry : state.balances) {
      auto group = std::lower_bound(groups.begin(), groups.end(), entry.balance_uri,
                                    [](const balance_group& g, const std::string& uri) { return g.balance_uri < uri; });
      if (group == groups.end() || group->balance_uri != entry.balance_uri) {
        group = groups.insert(group, balance_group{});
        group->balance_uri = entry.balance_uri;
      }
      balance_candidate candidate;
      candidate.identity = state.identity;
      candidate.accept_uris = entry.accept_uris;
      candidate.backplane = entry.backplane;
      candidate.suspect = member.suspect;
      candidate.ready = entry.ready && !member.suspect && !state.leaving;
      candidate.load = state.load;
      candidate.is_local = member.is_local;
      group->candidates.push_back(std::move(candidate));
    }
  }
  for (balance_group& group : groups) {
    // Stable, so that of two entries of one member for one URI the first is kept.
    auto& candidates = group.candidates;
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const balance_candidate& a, const balance_candidate& b) { return a.identity < b.identity; });
    candidates.erase(std::unique(candidates.begin(), candidates.end(),
                                 [](const balance_candidate& a, const balance_candidate& b) {
                                   return a.identity == b.identity;
                                 }),
                     candidates.end());
    for (std::size_t i = 0; i < group.candidates.size(); ++i) {
      const balance_candidate& c = group.candidates[i];
      if (c.is_local) group.local_index = static_cast<std::int32_t>(i);
      if (!c.ready) continue;
      group.ready.push_back(static_cast<std::uint32_t>(i));
      group.ready_load_sum += c.load;
    }
  }
  return table;
}

const balance_group* balancer_table::find(std::string_view balance_uri) const noexcept {
  auto it = std::lower_bound(_groups.begin(), _groups.end(), balance_uri,
                             [](const balance_group& g, std::string_view uri) { return g.balance_uri < uri; });
  if (it == _groups.end() || it->balance_uri != balance_uri) return nullptr;
  return &*it;
}

std::shared_ptr<const balancer_table> build_balancer_table(const membership& members) {
  const std::vector<member_view> live = members.live_members();
  std::vector<table_member> inputs;
  inputs.reserve(live.size());
  for (const member_view& view : live)
    inputs.push_back({view.state, view.status == member_status::suspect, view.is_local});
  return balancer_table::build(inputs, members.generation());
}

}  // namespace postern::cluster
