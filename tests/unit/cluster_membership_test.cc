// membership: the state machine under a fake clock (now_ms is just a number): join, suspect,
// recover, fail within 2 s, leave at once, restarts and incarnations, replays and reordering,
// self and refutation, the member limit, the generation counter, and datagrams that went
// through the codec (a forged one never reaches the membership).
#include "cluster/membership.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace postern::cluster {
namespace {

using kind = member_event_kind;

net::socket_address v4(const std::string& ip, std::uint16_t port) {
  net::socket_address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &in->sin_addr), 1);
  a.length = sizeof(sockaddr_in);
  return a;
}

// Member n lives at 127.0.0.n:5941.
std::string id(int n) { return "tcp://127.0.0." + std::to_string(n) + ":5941"; }

member_state state(int n, std::uint64_t incarnation = 100, std::uint32_t load = 0, bool ready = true) {
  member_state s;
  s.identity = id(n);
  s.address = v4("127.0.0." + std::to_string(n), 5941);
  s.incarnation = incarnation;
  s.start_time_ms = 1700000000000;
  s.load = load;
  s.balances.push_back({"ws://lb:8000/echo", {"ws://node" + std::to_string(n) + ":8001/echo"},
                        v4("127.0.0." + std::to_string(n), 8001), ready});
  return s;
}

gossip_datagram datagram(member_state s, std::uint64_t sequence) { return {sequence, std::move(s)}; }

struct event_row {
  kind k;
  std::string identity;
  friend bool operator==(const event_row&, const event_row&) = default;
};

std::vector<event_row> rows(const std::vector<member_event>& events) {
  std::vector<event_row> out;
  for (const member_event& e : events) out.push_back({e.kind, e.identity});
  return out;
}

std::ostream& operator<<(std::ostream& os, const event_row& r) {
  return os << to_string(r.k) << " " << r.identity;
}

// A cluster seen from member 1, with a fake clock and the events of each step.
class cluster_membership_clock : public ::testing::Test {
 protected:
  cluster_membership_clock() : m(state(1)) {}

  datagram_verdict hear(const member_state& s, std::uint64_t sequence) {
    events.clear();
    return m.on_datagram(datagram(s, sequence), now, events);
  }
  std::vector<event_row> tick_at(std::uint64_t t) {
    now = t;
    events.clear();
    m.tick(now, events);
    return rows(events);
  }
  std::vector<event_row> heard() const { return rows(events); }

  membership m;
  std::uint64_t now = 10'000;
  std::vector<member_event> events;
};

TEST_F(cluster_membership_clock, self_is_always_present) {
  EXPECT_EQ(m.live_count(), 1u);
  EXPECT_EQ(m.status_of(id(1)), member_status::alive);
  ASSERT_EQ(m.live_members().size(), 1u);
  EXPECT_TRUE(m.live_members()[0].is_local);
  EXPECT_EQ(m.live_members()[0].state->identity, id(1));
  EXPECT_TRUE(tick_at(1'000'000).empty());
  EXPECT_EQ(m.status_of(id(1)), member_status::alive);
  EXPECT_EQ(m.next_sequence(), 1u);
  EXPECT_EQ(m.next_sequence(), 2u);
}

TEST_F(cluster_membership_clock, join_then_heartbeats_keep_it_alive) {
  EXPECT_EQ(hear(state(2), 1), datagram_verdict::applied);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::joined, id(2)}}));
  EXPECT_EQ(to_string(events[0]), "cluster member tcp://127.0.0.2:5941 joined (incarnation 100)");
  EXPECT_EQ(m.live_count(), 2u);
  EXPECT_EQ(m.status_of(id(2)), member_status::alive);
  ASSERT_NE(m.state_of(id(2)), nullptr);
  EXPECT_EQ(*m.state_of(id(2)), state(2));
  // Heartbeats every 200 ms for 10 s: no event at all.
  for (std::uint64_t seq = 2; seq <= 50; ++seq) {
    now += 200;
    EXPECT_EQ(hear(state(2), seq), datagram_verdict::applied);
    EXPECT_TRUE(heard().empty());
    EXPECT_TRUE(tick_at(now + 100).empty());
  }
  EXPECT_EQ(m.status_of(id(2)), member_status::alive);
}

TEST_F(cluster_membership_clock, suspect_after_600_ms_then_recover) {
  hear(state(2), 1);  // at 10'000
  EXPECT_TRUE(tick_at(10'599).empty());
  EXPECT_EQ(tick_at(10'600), (std::vector<event_row>{{kind::suspected, id(2)}}));
  EXPECT_EQ(m.status_of(id(2)), member_status::suspect);
  EXPECT_TRUE(tick_at(10'800).empty());  // suspected once
  EXPECT_EQ(m.live_count(), 2u);         // still a member
  EXPECT_EQ(hear(state(2), 2), datagram_verdict::applied);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::recovered, id(2)}}));
  EXPECT_EQ(m.status_of(id(2)), member_status::alive);
  EXPECT_TRUE(tick_at(11'399).empty());
  EXPECT_EQ(tick_at(11'400), (std::vector<event_row>{{kind::suspected, id(2)}}));
}

TEST_F(cluster_membership_clock, a_silent_member_fails_within_2_seconds) {
  // Member 2 sends its last heartbeat at 10'000 and dies; member 1 ticks every 200 ms.
  hear(state(2), 1);
  hear(state(3), 1);
  std::uint64_t suspected_at = 0;
  std::uint64_t failed_at = 0;
  for (std::uint64_t t = 10'000; t <= 14'000; t += 200) {
    if (t % 400 == 0) hear(state(3), t);  // member 3 keeps talking
    for (const event_row& e : tick_at(t)) {
      EXPECT_EQ(e.identity, id(2));
      if (e.k == kind::suspected) suspected_at = t;
      if (e.k == kind::failed) failed_at = t;
    }
  }
  EXPECT_EQ(suspected_at, 10'600u);
  EXPECT_EQ(failed_at, 11'600u);  // the first tick at least 1'500 ms after the last heartbeat
  EXPECT_LE(failed_at - 10'000, 2'000u);
  EXPECT_EQ(m.status_of(id(2)), std::nullopt);
  EXPECT_EQ(m.state_of(id(2)), nullptr);
  EXPECT_EQ(m.status_of(id(3)), member_status::alive);
  EXPECT_EQ(m.live_count(), 2u);
  EXPECT_TRUE(tick_at(30'000).size() == 1);  // only member 3 fails now; 2 does not fail twice
}

TEST_F(cluster_membership_clock, a_failed_member_comes_back_with_a_newer_heartbeat_but_not_a_replay) {
  hear(state(2), 1);
  hear(state(2), 2);
  tick_at(12'000);
  ASSERT_EQ(m.status_of(id(2)), std::nullopt);
  EXPECT_EQ(hear(state(2), 2), datagram_verdict::replayed);
  EXPECT_EQ(hear(state(2), 1), datagram_verdict::replayed);
  EXPECT_TRUE(heard().empty());
  EXPECT_EQ(m.status_of(id(2)), std::nullopt);
  EXPECT_EQ(hear(state(2), 3), datagram_verdict::applied);  // a partition healed
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::joined, id(2)}}));
  EXPECT_EQ(m.status_of(id(2)), member_status::alive);
}

TEST_F(cluster_membership_clock, leaving_drops_at_once_and_for_good) {
  hear(state(2), 1);
  hear(state(2), 3);
  member_state goodbye = state(2);
  goodbye.leaving = true;
  now += 50;
  EXPECT_EQ(hear(goodbye, 4), datagram_verdict::applied);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::left, id(2)}}));
  EXPECT_EQ(m.status_of(id(2)), std::nullopt);
  EXPECT_EQ(m.live_count(), 1u);
  // A heartbeat sent before the goodbye but delivered after it, a repeated goodbye and a
  // later sequence of the same life: none brings it back.
  EXPECT_EQ(hear(state(2), 2), datagram_verdict::stale);
  EXPECT_EQ(hear(goodbye, 5), datagram_verdict::stale);
  EXPECT_EQ(hear(state(2), 6), datagram_verdict::stale);
  EXPECT_TRUE(heard().empty());
  EXPECT_TRUE(tick_at(20'000).empty());  // no "failed" for a member that left
  // Its next life joins.
  EXPECT_EQ(hear(state(2, 101), 1), datagram_verdict::applied);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::joined, id(2)}}));
}

TEST_F(cluster_membership_clock, a_goodbye_from_an_unknown_member_is_remembered) {
  member_state goodbye = state(2);
  goodbye.leaving = true;
  EXPECT_EQ(hear(goodbye, 9), datagram_verdict::applied);
  EXPECT_TRUE(heard().empty());
  EXPECT_EQ(hear(state(2), 8), datagram_verdict::stale);  // reordered: sent before the goodbye
  EXPECT_EQ(m.status_of(id(2)), std::nullopt);
}

TEST_F(cluster_membership_clock, a_higher_incarnation_replaces_the_state) {
  hear(state(2, 100, 7), 50);
  EXPECT_EQ(hear(state(2, 105, 0), 1), datagram_verdict::applied);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::restarted, id(2)}}));
  EXPECT_EQ(events[0].incarnation, 105u);
  EXPECT_EQ(m.state_of(id(2))->incarnation, 105u);
  EXPECT_EQ(m.state_of(id(2))->load, 0u);
  // The old life's late datagrams, even with higher sequences, change nothing.
  EXPECT_EQ(hear(state(2, 100, 9), 51), datagram_verdict::old_incarnation);
  EXPECT_EQ(m.state_of(id(2))->incarnation, 105u);
  EXPECT_EQ(m.state_of(id(2))->load, 0u);
  EXPECT_TRUE(heard().empty());
}

TEST_F(cluster_membership_clock, a_restart_of_a_failed_member_is_a_join) {
  hear(state(2, 100), 10);
  tick_at(20'000);
  EXPECT_EQ(hear(state(2, 200), 1), datagram_verdict::applied);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::joined, id(2)}}));
  EXPECT_EQ(hear(state(2, 100), 11), datagram_verdict::old_incarnation);
}

TEST_F(cluster_membership_clock, replays_and_reordering_change_nothing) {
  hear(state(2, 100, 5), 10);
  const std::uint64_t generation = m.generation();
  EXPECT_EQ(hear(state(2, 100, 5), 10), datagram_verdict::replayed);
  EXPECT_EQ(hear(state(2, 100, 3), 8), datagram_verdict::out_of_order);
  EXPECT_EQ(hear(state(2, 100, 3), 8), datagram_verdict::replayed);
  EXPECT_EQ(m.state_of(id(2))->load, 5u);  // the older state is not applied
  EXPECT_EQ(m.generation(), generation);
  // A replay does not refresh liveness either.
  now += 500;
  EXPECT_EQ(hear(state(2, 100, 5), 10), datagram_verdict::replayed);
  EXPECT_EQ(tick_at(10'600), (std::vector<event_row>{{kind::suspected, id(2)}}));
}

TEST_F(cluster_membership_clock, own_datagrams_and_refuting_an_impostor) {
  EXPECT_EQ(hear(state(1, 100), 1), datagram_verdict::own);
  EXPECT_EQ(hear(state(1, 99), 1), datagram_verdict::old_incarnation);
  EXPECT_TRUE(heard().empty());
  EXPECT_EQ(m.live_count(), 1u);
  EXPECT_EQ(hear(state(1, 150), 1), datagram_verdict::refuted);
  EXPECT_EQ(heard(), (std::vector<event_row>{{kind::refuted, id(1)}}));
  EXPECT_EQ(m.self().incarnation, 151u);
  EXPECT_EQ(events[0].incarnation, 151u);
  EXPECT_EQ(hear(state(1, 151), 2), datagram_verdict::own);
}

TEST_F(cluster_membership_clock, the_generation_moves_only_with_what_the_table_shows) {
  std::uint64_t g = m.generation();
  hear(state(2, 100, 1), 1);
  EXPECT_GT(m.generation(), g);
  g = m.generation();
  hear(state(2, 100, 1), 2);  // the same state again
  EXPECT_EQ(m.generation(), g);
  hear(state(2, 100, 2), 3);  // load
  EXPECT_GT(m.generation(), g);
  g = m.generation();
  hear(state(2, 100, 2, false), 4);  // readiness
  EXPECT_GT(m.generation(), g);
  g = m.generation();
  tick_at(now + 600);  // suspected
  EXPECT_GT(m.generation(), g);
  g = m.generation();
  m.set_load(3);
  EXPECT_GT(m.generation(), g);
  g = m.generation();
  m.set_load(3);
  EXPECT_EQ(m.generation(), g);
  EXPECT_TRUE(m.set_ready("ws://lb:8000/echo", false));
  EXPECT_GT(m.generation(), g);
  EXPECT_FALSE(m.self().balances[0].ready);
  g = m.generation();
  EXPECT_FALSE(m.set_ready("ws://other/", true));
  EXPECT_EQ(m.generation(), g);
  m.set_leaving();
  EXPECT_TRUE(m.self().leaving);
  EXPECT_GT(m.generation(), g);
}

TEST(cluster_membership, the_member_limit_forgets_gone_members_first) {
  membership m(state(1), {.max_members = 2});
  std::vector<member_event> events;
  EXPECT_EQ(m.on_datagram(datagram(state(2), 1), 0, events), datagram_verdict::applied);
  EXPECT_EQ(m.on_datagram(datagram(state(3), 1), 100, events), datagram_verdict::applied);
  EXPECT_EQ(m.on_datagram(datagram(state(4), 1), 100, events), datagram_verdict::full);
  EXPECT_EQ(m.status_of(id(4)), std::nullopt);
  m.on_datagram(datagram(state(3), 2), 1'400, events);
  m.tick(1'500, events);  // member 2 fails, member 3 does not
  EXPECT_EQ(m.status_of(id(2)), std::nullopt);
  EXPECT_EQ(m.on_datagram(datagram(state(4), 1), 1'500, events), datagram_verdict::applied);
  EXPECT_EQ(m.status_of(id(4)), member_status::alive);
  EXPECT_EQ(m.live_count(), 3u);
}

TEST(cluster_membership, live_members_self_first_then_by_identity) {
  membership m(state(5));
  std::vector<member_event> events;
  for (int n : {9, 2, 7}) m.on_datagram(datagram(state(n), 1), 0, events);
  m.on_datagram(datagram(state(2), 2), 500, events);
  m.tick(700, events);  // 7 and 9 suspected, 2 alive
  const auto live = m.live_members();
  ASSERT_EQ(live.size(), 4u);
  EXPECT_EQ(live[0].state->identity, id(5));
  EXPECT_TRUE(live[0].is_local);
  EXPECT_EQ(live[1].state->identity, id(2));
  EXPECT_EQ(live[1].status, member_status::alive);
  EXPECT_EQ(live[2].state->identity, id(7));
  EXPECT_EQ(live[2].status, member_status::suspect);
  EXPECT_EQ(live[3].state->identity, id(9));
  EXPECT_FALSE(live[3].is_local);
  // Events of one tick come in identity order.
  events.clear();
  m.tick(10'000, events);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].identity, id(2));
  EXPECT_EQ(events[1].identity, id(7));
  EXPECT_EQ(events[2].identity, id(9));
}

TEST(cluster_membership, options_are_checked) {
  EXPECT_TRUE(check_membership_options({}).has_value());
  EXPECT_FALSE(check_membership_options({.heartbeat_interval_ms = 0}).has_value());
  auto r = check_membership_options({.suspect_after_ms = 1500, .failure_timeout_ms = 1500});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "the failure timeout (1500 ms) must be above the suspect time (1500 ms)");
  EXPECT_FALSE(check_membership_options({.heartbeat_interval_ms = 700}).has_value());
  EXPECT_FALSE(check_membership_options({.max_members = 0}).has_value());
  EXPECT_THROW(membership(state(1), {.failure_timeout_ms = 100}), std::invalid_argument);
  member_state nameless = state(1);
  nameless.identity.clear();
  EXPECT_THROW(membership{nameless}, std::invalid_argument);
}

TEST(cluster_membership, through_the_codec_forgeries_and_replays_change_nothing) {
  const std::string key = "an example cluster key of 32+ bytes";
  gossip_codec sender("dmz", cluster_key::from_bytes(key).value());
  gossip_codec receiver("dmz", cluster_key::from_bytes(key).value());
  gossip_codec forger("dmz", cluster_key::from_bytes("another key, also at least 32 bytes").value());
  membership sender_view(state(2));
  membership m(state(1));
  std::vector<member_event> events;
  std::vector<std::byte> wire(max_datagram_bytes);
  gossip_datagram scratch;
  int decode_failures = 0;

  auto deliver = [&](std::span<const std::byte> bytes, std::uint64_t now) -> std::optional<datagram_verdict> {
    if (!receiver.decode(bytes, scratch)) {
      ++decode_failures;
      return std::nullopt;
    }
    return m.on_datagram(scratch, now, events);
  };

  const std::size_t size = sender.encode(sender_view.self(), sender_view.next_sequence(), wire).value();
  const std::vector<std::byte> first(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(size));
  EXPECT_EQ(deliver(first, 0), datagram_verdict::applied);
  EXPECT_EQ(rows(events), (std::vector<event_row>{{kind::joined, id(2)}}));

  // A forger without the key: a goodbye for member 2 and a new member 9.
  member_state forged = state(2);
  forged.leaving = true;
  std::size_t n = forger.encode(forged, 1000, wire).value();
  EXPECT_EQ(deliver(std::span(wire).first(n), 10), std::nullopt);
  n = forger.encode(state(9), 1, wire).value();
  EXPECT_EQ(deliver(std::span(wire).first(n), 10), std::nullopt);
  EXPECT_EQ(decode_failures, 2);
  EXPECT_EQ(m.status_of(id(2)), member_status::alive);
  EXPECT_EQ(m.status_of(id(9)), std::nullopt);

  // The first datagram replayed later: dropped, and member 2 still fails on time.
  EXPECT_EQ(deliver(first, 1'000), datagram_verdict::replayed);
  events.clear();
  m.tick(1'500, events);
  EXPECT_EQ(rows(events), (std::vector<event_row>{{kind::failed, id(2)}}));
  EXPECT_EQ(deliver(first, 1'600), datagram_verdict::replayed);
  EXPECT_EQ(m.status_of(id(2)), std::nullopt);

  // Its real next heartbeat brings it back.
  events.clear();
  n = sender.encode(sender_view.self(), sender_view.next_sequence(), wire).value();
  EXPECT_EQ(deliver(std::span(wire).first(n), 1'700), datagram_verdict::applied);
  EXPECT_EQ(rows(events), (std::vector<event_row>{{kind::joined, id(2)}}));
}

}  // namespace
}  // namespace postern::cluster
