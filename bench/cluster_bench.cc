// cluster: the cost of one heartbeat (encode, decode with and without the HMAC tag, then the
// membership update) in a 3-member cluster, of a balancer pick among 256 members, and of
// rebuilding the 256-member balancer table.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <vector>

#include "cluster/balancer_choice.h"
#include "cluster/balancer_table.h"
#include "cluster/gossip_codec.h"
#include "cluster/membership.h"

namespace {

using namespace postern::cluster;

postern::net::socket_address v4(std::uint32_t ip, std::uint16_t port) {
  postern::net::socket_address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(ip);
  a.length = sizeof(sockaddr_in);
  return a;
}

// Member n (1..): 127.0.x.y, two balance URIs with two accepts each, like a DMZ member
// serving a ws:// and a wss:// service.
member_state member(int n, std::uint32_t load) {
  member_state s;
  const std::uint32_t ip = 0x7f000000u + static_cast<std::uint32_t>(n);
  s.identity = "tcp://" + v4(ip, 5941).to_string();
  s.address = v4(ip, 5941);
  s.incarnation = 1717171717171;
  s.start_time_ms = 1717171717000;
  s.load = load;
  const std::string node = "node" + std::to_string(n) + ".example.com";
  s.balances.push_back({"ws://balancer.example.com:8000/echo",
                        {"ws://" + node + ":8001/echo", "wss://" + node + ":9001/echo"}, v4(ip, 8001), true});
  s.balances.push_back({"ws://balancer.example.com:8000/chat",
                        {"ws://" + node + ":8001/chat", "wss://" + node + ":9001/chat"}, v4(ip, 8002), true});
  return s;
}

std::optional<cluster_key> key(bool keyed) {
  if (!keyed) return std::nullopt;
  return cluster_key::from_bytes("a benchmark key of at least 32 bytes").value();
}

// One heartbeat of each of the two other members of a 3-member cluster, as member 1 sees them:
// encode on the sender, decode and apply on the receiver.
void bm_cluster_heartbeats_3_members(benchmark::State& state) {
  const bool keyed = state.range(0) != 0;
  gossip_codec sender("dmz", key(keyed));
  gossip_codec receiver("dmz", key(keyed));
  membership self(member(1, 0));
  const std::array<member_state, 2> others = {member(2, 10), member(3, 20)};
  std::array<std::byte, max_datagram_bytes> wire;
  gossip_datagram scratch;
  std::vector<member_event> events;
  std::uint64_t sequence = 0;
  std::uint64_t now_ms = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    ++sequence;
    now_ms += 200;
    for (const member_state& other : others) {
      const std::size_t size = sender.encode(other, sequence, wire).value();
      if (!receiver.decode(std::span(wire).first(size), scratch)) state.SkipWithError("decode failed");
      benchmark::DoNotOptimize(self.on_datagram(scratch, now_ms, events));
      bytes += size;
    }
    events.clear();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * others.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

// Decode only, so the HMAC's share is visible next to the parsing.
void bm_cluster_decode(benchmark::State& state) {
  const bool keyed = state.range(0) != 0;
  gossip_codec codec("dmz", key(keyed));
  std::array<std::byte, max_datagram_bytes> wire;
  const std::size_t size = codec.encode(member(2, 10), 1, wire).value();
  gossip_datagram scratch;
  for (auto _ : state) {
    auto r = codec.decode(std::span(wire).first(size), scratch);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

std::vector<member_state> cluster_of(int n) {
  std::vector<member_state> states;
  for (int i = 1; i <= n; ++i) states.push_back(member(i, static_cast<std::uint32_t>(100 + (i * 37) % 50)));
  return states;
}

std::shared_ptr<const balancer_table> table_of(const std::vector<member_state>& states, int local) {
  std::vector<table_member> members;
  for (std::size_t i = 0; i < states.size(); ++i) members.push_back({&states[i], false, static_cast<int>(i) == local});
  return balancer_table::build(members);
}

// A pick among 256 ready members: range(0) 1 when the local member is preferred (idle), 0 for
// the two random choices (no local member).
void bm_cluster_pick_256(benchmark::State& state) {
  std::vector<member_state> states = cluster_of(256);
  const bool local = state.range(0) != 0;
  if (local) states[0].load = 0;
  const auto table = table_of(states, local ? 0 : -1);
  const balance_group* group = table->find("ws://balancer.example.com:8000/echo");
  choice_random random(42);
  const choice_options options;
  for (auto _ : state) benchmark::DoNotOptimize(choose_candidate(*group, options, random));
}

void bm_cluster_table_build_256(benchmark::State& state) {
  const std::vector<member_state> states = cluster_of(256);
  for (auto _ : state) benchmark::DoNotOptimize(table_of(states, 0));
}

}  // namespace

BENCHMARK(bm_cluster_heartbeats_3_members)->ArgName("keyed")->Arg(0)->Arg(1);
BENCHMARK(bm_cluster_decode)->ArgName("keyed")->Arg(0)->Arg(1);
BENCHMARK(bm_cluster_pick_256)->ArgName("local")->Arg(0)->Arg(1);
BENCHMARK(bm_cluster_table_build_256);
