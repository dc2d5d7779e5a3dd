// balancer_table and balancer_choice: the table built from member states (grouping, order,
// readiness of suspect and leaving members, the local index, the load sum) and from a live
// membership; the choice's local preference at and around its threshold, two random choices
// with scripted randomness, the spread of 3,000 picks over 3 equal members, never a member that
// is not ready, and no ready member at all.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "cluster/balancer_choice.h"
#include "cluster/balancer_table.h"
#include "cluster/membership.h"

namespace postern::cluster {
namespace {

const std::string echo = "ws://lb.example.com:8000/echo";
const std::string chat = "ws://lb.example.com:8000/chat";

net::socket_address v4(const std::string& ip, std::uint16_t port) {
  net::socket_address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &in->sin_addr), 1);
  a.length = sizeof(sockaddr_in);
  return a;
}

std::string id(int n) { return "tcp://127.0.0." + std::to_string(n) + ":5941"; }

balance_entry entry(const std::string& uri, int n, bool ready) {
  return {uri, {"ws://node" + std::to_string(n) + ".example.com:8001/" + uri.substr(uri.rfind('/') + 1)},
          v4("127.0.0." + std::to_string(n), 8001), ready};
}

member_state state(int n, std::uint32_t load, std::vector<balance_entry> balances) {
  member_state s;
  s.identity = id(n);
  s.address = v4("127.0.0." + std::to_string(n), 5941);
  s.incarnation = 1;
  s.load = load;
  s.balances = std::move(balances);
  return s;
}

TEST(cluster_balancer_table, groups_members_by_balance_uri) {
  const member_state m3 = state(3, 30, {entry(echo, 3, true), entry(chat, 3, true)});
  const member_state m1 = state(1, 10, {entry(echo, 1, true)});
  const member_state m2 = state(2, 20, {entry(echo, 2, false), entry(chat, 2, true)});
  member_state m4 = state(4, 40, {entry(echo, 4, true)});  // suspect below
  member_state m5 = state(5, 50, {entry(echo, 5, true)});
  m5.leaving = true;
  const std::vector<table_member> members = {
      {&m3, false, false}, {&m1, false, true}, {&m2, false, false}, {&m4, true, false}, {&m5, false, false}};
  const auto table = balancer_table::build(members, 42);
  EXPECT_EQ(table->generation(), 42u);
  ASSERT_EQ(table->groups().size(), 2u);
  EXPECT_EQ(table->groups()[0].balance_uri, chat);  // sorted by URI
  EXPECT_EQ(table->groups()[1].balance_uri, echo);

  const balance_group* g = table->find(echo);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->candidates.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g->candidates[i].identity, id(i + 1));  // by identity
  EXPECT_EQ(g->local_index, 0);
  EXPECT_TRUE(g->candidates[0].is_local);
  EXPECT_TRUE(g->candidates[0].ready);
  EXPECT_FALSE(g->candidates[1].ready);  // says not ready
  EXPECT_TRUE(g->candidates[2].ready);
  EXPECT_FALSE(g->candidates[3].ready);  // suspect
  EXPECT_TRUE(g->candidates[3].suspect);
  EXPECT_FALSE(g->candidates[4].ready);  // leaving
  EXPECT_EQ(g->ready, (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(g->ready_load_sum, 40u);
  EXPECT_EQ(g->candidates[2].load, 30u);
  EXPECT_EQ(g->candidates[2].accept_uris, (std::vector<std::string>{"ws://node3.example.com:8001/echo"}));
  EXPECT_EQ(g->candidates[2].backplane.to_string(), "127.0.0.3:8001");

  const balance_group* c = table->find(chat);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->local_index, -1);
  EXPECT_EQ(c->ready, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(c->candidates[0].accept_uris[0], "ws://node2.example.com:8001/chat");

  EXPECT_EQ(table->find("ws://lb.example.com:8000/echo/"), nullptr);  // byte for byte
  EXPECT_EQ(table->find(""), nullptr);
  EXPECT_TRUE(balancer_table::build({})->groups().empty());
}

TEST(cluster_balancer_table, a_member_listed_twice_for_one_uri_counts_once) {
  const member_state m1 = state(1, 5, {entry(echo, 1, false), entry(echo, 1, true)});
  const std::vector<table_member> members = {{&m1, false, false}};
  const auto table = balancer_table::build(members);
  const balance_group* g = table->find(echo);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->candidates.size(), 1u);
  EXPECT_FALSE(g->candidates[0].ready);  // the first entry wins
  EXPECT_TRUE(g->ready.empty());
}

TEST(cluster_balancer_table, built_from_a_membership) {
  membership m(state(2, 4, {entry(echo, 2, true)}));
  std::vector<member_event> events;
  m.on_datagram({1, state(1, 7, {entry(echo, 1, true)})}, 0, events);
  m.on_datagram({1, state(3, 9, {entry(echo, 3, true)})}, 0, events);
  m.on_datagram({2, state(3, 9, {entry(echo, 3, true)})}, 500, events);
  m.tick(700, events);  // member 1 is suspect
  const auto table = build_balancer_table(m);
  EXPECT_EQ(table->generation(), m.generation());
  const balance_group* g = table->find(echo);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->candidates.size(), 3u);
  EXPECT_TRUE(g->candidates[0].suspect);
  EXPECT_FALSE(g->candidates[0].ready);
  EXPECT_EQ(g->local_index, 1);
  EXPECT_EQ(g->candidates[1].identity, id(2));
  EXPECT_EQ(g->ready, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(g->ready_load_sum, 13u);

  // Member 3 fails; the snapshot taken before does not change, a new one drops it.
  m.tick(3'000, events);
  EXPECT_EQ(table->find(echo)->candidates.size(), 3u);
  const auto after = build_balancer_table(m);
  EXPECT_EQ(after->find(echo)->candidates.size(), 1u);
  EXPECT_GT(after->generation(), table->generation());
}

// A group of members 1..loads.size() with these loads and readiness; local_index as given.
balance_group group_of(std::vector<std::uint32_t> loads, std::vector<bool> ready, int local = -1) {
  std::vector<member_state> states;
  for (std::size_t i = 0; i < loads.size(); ++i)
    states.push_back(state(static_cast<int>(i + 1), loads[i], {entry(echo, static_cast<int>(i + 1), ready[i])}));
  std::vector<table_member> members;
  for (std::size_t i = 0; i < states.size(); ++i) members.push_back({&states[i], false, static_cast<int>(i) == local});
  return *balancer_table::build(members)->find(echo);
}

// Scripted randomness: returns the values in order, then repeats them.
struct scripted {
  std::vector<std::uint64_t> values;
  std::size_t at = 0;
  std::uint64_t operator()() { return values[at++ % values.size()]; }
};

// A 64-bit value that `below(value, n)` maps to index i: the middle of i's slice.
std::uint64_t pick(std::size_t i, std::size_t n) {
  const unsigned __int128 slice = (static_cast<unsigned __int128>(1) << 64) / n;
  return static_cast<std::uint64_t>(slice * i + slice / 2);
}

TEST(cluster_balancer_choice, the_local_member_while_not_above_average_times_factor) {
  const choice_options options;  // 1.25
  scripted random{{pick(1, 2), pick(1, 2)}};
  // Loads local 5, others 3 and 4: average 4, x1.25 = 5: exactly at the threshold.
  EXPECT_EQ(choose_candidate(group_of({5, 3, 4}, {true, true, true}, 0), options, random), 0u);
  // Local 6 > 5: the two random choices decide (here members 2 and 3 are drawn: 3 has load 3).
  scripted draws{{pick(1, 3), pick(1, 2)}};  // first: index 1; second: index 2 of the rest
  EXPECT_EQ(choose_candidate(group_of({6, 4, 3}, {true, true, true}, 0), options, draws), 2u);
  // Everyone idle: local.
  EXPECT_EQ(choose_candidate(group_of({0, 0, 0}, {true, true, true}, 1), options, random), 1u);
  // A larger factor keeps the local member longer.
  EXPECT_EQ(choose_candidate(group_of({12, 4, 3}, {true, true, true}, 0), {.local_preference_factor = 2.0}, random),
            0u);
  EXPECT_NE(choose_candidate(group_of({12, 4, 3}, {true, true, true}, 0), options, random), 0u);
}

TEST(cluster_balancer_choice, a_factor_of_0_turns_the_local_preference_off) {
  // Everyone idle: with the default factor the local member (0) is taken; with 0 the two
  // random choices decide (members 2 and 3 drawn, equal loads: the first drawn).
  scripted draws{{pick(1, 3), pick(1, 2)}};
  EXPECT_EQ(choose_candidate(group_of({0, 0, 0}, {true, true, true}, 0), {}, draws), 0u);
  scripted again{{pick(1, 3), pick(1, 2)}};
  EXPECT_EQ(choose_candidate(group_of({0, 0, 0}, {true, true, true}, 0), {.local_preference_factor = 0}, again),
            1u);
}

TEST(cluster_balancer_choice, the_local_load_now_replaces_the_snapshot) {
  const balance_group g = group_of({0, 4, 4}, {true, true, true}, 0);
  scripted random{{pick(1, 3), pick(1, 2)}};  // draws members 2 and 3, both load 4
  EXPECT_EQ(choose_candidate(g, {}, random), 0u);
  // Live load 10: average (10+4+4)/3 = 6, x1.25 = 7.5 < 10: not local.
  EXPECT_EQ(choose_candidate(g, {}, random, 10u), 1u);
  // Live load 5 <= (5+8)/3 x 1.25: local.
  EXPECT_EQ(choose_candidate(g, {}, random, 5u), 0u);
}

TEST(cluster_balancer_choice, a_local_member_that_is_not_ready_is_not_chosen) {
  const balance_group g = group_of({0, 50, 60}, {false, true, true}, 0);
  choice_random random(1);
  for (int i = 0; i < 1000; ++i) {
    const auto chosen = choose_candidate(g, {}, random);
    ASSERT_TRUE(chosen.has_value());
    EXPECT_NE(*chosen, 0u);
  }
}

TEST(cluster_balancer_choice, two_choices_take_the_less_loaded_of_two_distinct_members) {
  const balance_group g = group_of({9, 1, 5, 7}, {true, true, true, true});
  for (std::size_t first = 0; first < 4; ++first) {
    for (std::size_t second = 0; second < 3; ++second) {
      const std::size_t other = second >= first ? second + 1 : second;
      const std::size_t expected = g.candidates[other].load < g.candidates[first].load ? other : first;
      EXPECT_EQ(choose_candidate(g, {}, pick(first, 4), pick(second, 3)), expected) << first << " " << second;
    }
  }
  // Two ready members: both are always drawn, so the less loaded always wins.
  const balance_group two = group_of({8, 2}, {true, true});
  choice_random random(3);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(choose_candidate(two, {}, random), 1u);
  // Equal loads: the first drawn.
  const balance_group tie = group_of({4, 4}, {true, true});
  EXPECT_EQ(choose_candidate(tie, {}, pick(1, 2), pick(0, 1)), 1u);
  EXPECT_EQ(choose_candidate(tie, {}, pick(0, 2), pick(0, 1)), 0u);
}

TEST(cluster_balancer_choice, three_thousand_picks_spread_over_three_equal_members) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const balance_group g = group_of({10, 10, 10}, {true, true, true});
    choice_random random(seed);
    std::array<int, 3> count{};
    for (int i = 0; i < 3000; ++i) ++count[choose_candidate(g, {}, random).value()];
    for (int c : count) {
      EXPECT_GE(c, 800) << "seed " << seed;
      EXPECT_LE(c, 1200) << "seed " << seed;
    }
  }
  // With the loads fed back after each pick (as the members' heartbeats would), the spread is
  // far tighter than ±20%.
  balance_group g = group_of({0, 0, 0}, {true, true, true});
  choice_random random(9);
  for (int i = 0; i < 3000; ++i) ++g.candidates[choose_candidate(g, {}, random).value()].load;
  for (const balance_candidate& c : g.candidates) {
    EXPECT_GE(c.load, 990u);
    EXPECT_LE(c.load, 1010u);
  }
}

TEST(cluster_balancer_choice, never_a_member_that_is_not_ready) {
  // The members that are not ready are the least loaded, so a bug would pick them.
  const balance_group g = group_of({0, 50, 0, 60, 0, 70}, {false, true, false, true, false, true}, 2);
  choice_random random(5);
  std::map<std::size_t, int> count;
  for (int i = 0; i < 10'000; ++i) ++count[choose_candidate(g, {}, random).value()];
  for (const auto& [index, n] : count) EXPECT_TRUE(g.candidates[index].ready) << index;
  // Of the ready loads 50, 60 and 70, the least loaded wins every pair it is drawn in (2 of
  // 3), the middle one the pair without the first, and the most loaded never.
  EXPECT_EQ(count.size(), 2u);
  EXPECT_EQ(count.count(5), 0u);
  EXPECT_GT(count[1], 6'000);
  EXPECT_GT(count[3], 3'000);
}

TEST(cluster_balancer_choice, none_ready_or_one_ready) {
  choice_random random(1);
  EXPECT_EQ(choose_candidate(group_of({1, 2}, {false, false}, 0), {}, random), std::nullopt);
  EXPECT_EQ(choose_candidate(balance_group{}, {}, random), std::nullopt);
  member_state suspect_member = state(1, 0, {entry(echo, 1, true)});
  const std::vector<table_member> members = {{&suspect_member, true, false}};
  EXPECT_EQ(choose_candidate(*balancer_table::build(members)->find(echo), {}, random), std::nullopt);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(choose_candidate(group_of({9, 0, 1}, {false, true, false}), {}, random), 1u);
}

}  // namespace
}  // namespace postern::cluster
