// The balancer service's decision (gateway/balancer.h) and the member's own state built from a
// config (gateway/local_member.h).
#include <gtest/gtest.h>

#include "cluster/balancer_table.h"
#include "config/loader.h"
#include "gateway/balancer.h"
#include "gateway/local_member.h"
#include "gateway/runtime.h"

namespace postern::gateway {
namespace {

using cluster::balance_entry;
using cluster::member_state;
using cluster::table_member;

constexpr std::string_view balance_uri = "ws://balance.example:8000/app";

net::socket_address addr(const char* ip, std::uint16_t port) { return *net::resolve_address(ip, port); }

member_state member(std::string identity, const char* ip, bool ready, std::uint32_t load,
                    std::string scheme = "ws") {
  member_state s;
  s.identity = std::move(identity);
  s.address = addr(ip, 5941);
  s.load = load;
  balance_entry e;
  e.balance_uri = std::string(balance_uri);
  e.accept_uris = {scheme + "://" + ip + ":8000/app"};
  e.backplane = addr(ip, 8000);
  e.ready = ready;
  s.balances.push_back(e);
  return s;
}

struct fixture {
  std::vector<member_state> states;
  std::vector<table_member> members;
  std::shared_ptr<const cluster::balancer_table> table;
  void build(std::size_t local_index) {
    members.clear();
    for (std::size_t i = 0; i < states.size(); ++i) members.push_back({&states[i], false, i == local_index});
    table = cluster::balancer_table::build(members);
  }
};

TEST(GatewayClusterBalancer, LocationMapsWsSchemesToHttp) {
  EXPECT_EQ(http_location_of("ws://h:8000/app"), "http://h:8000/app");
  EXPECT_EQ(http_location_of("wss://gateway.example.com:8443/app1"), "https://gateway.example.com:8443/app1");
  EXPECT_EQ(http_location_of("tcp://h:1"), "tcp://h:1");
}

TEST(GatewayClusterBalancer, NoTableOrUnknownUriIsUnavailable) {
  EXPECT_EQ(decide_balancer(nullptr, balance_uri, balancer_mode::proxy, {}, 1, 2).what,
            balancer_decision::kind::unavailable);
  fixture f;
  f.states = {member("tcp://127.0.0.1:5941", "127.0.0.1", true, 0)};
  f.build(0);
  EXPECT_EQ(decide_balancer(f.table.get(), "ws://other:8000/app", balancer_mode::proxy, {}, 1, 2).what,
            balancer_decision::kind::unavailable);
}

TEST(GatewayClusterBalancer, ReadyLocalMemberIsServedLocally) {
  fixture f;
  f.states = {member("tcp://127.0.0.1:5941", "127.0.0.1", true, 3), member("tcp://127.0.0.2:5941", "127.0.0.2", true, 3)};
  f.build(0);
  auto d = decide_balancer(f.table.get(), balance_uri, balancer_mode::proxy, {}, 7, 9);
  ASSERT_EQ(d.what, balancer_decision::kind::local);
  EXPECT_EQ(d.member->identity, "tcp://127.0.0.1:5941");
}

TEST(GatewayClusterBalancer, NotReadyLocalGoesToARemoteMemberByItsBackplane) {
  fixture f;
  f.states = {member("tcp://127.0.0.1:5941", "127.0.0.1", false, 0), member("tcp://127.0.0.2:5941", "127.0.0.2", true, 50)};
  f.build(0);
  for (std::uint64_t r = 0; r < 8; ++r) {
    auto d = decide_balancer(f.table.get(), balance_uri, balancer_mode::proxy, {}, r, r * 31 + 5);
    ASSERT_EQ(d.what, balancer_decision::kind::remote);
    EXPECT_EQ(d.member->identity, "tcp://127.0.0.2:5941");
    EXPECT_EQ(d.member->backplane.to_string(), "127.0.0.2:8000");
    EXPECT_EQ(member_accept_for(*d.member, balance_uri), "ws://127.0.0.2:8000/app");
  }
}

TEST(GatewayClusterBalancer, ARemoteChoiceListsTheOtherReadyMembersLeastLoadedFirst) {
  fixture f;
  // Local (0) is loaded far above the average: the two random choices pick among the others.
  f.states = {member("tcp://127.0.0.1:5941", "127.0.0.1", true, 90), member("tcp://127.0.0.2:5941", "127.0.0.2", true, 7),
              member("tcp://127.0.0.3:5941", "127.0.0.3", false, 0), member("tcp://127.0.0.4:5941", "127.0.0.4", true, 5)};
  f.build(0);
  for (std::uint64_t r = 0; r < 16; ++r) {
    auto d = decide_balancer(f.table.get(), balance_uri, balancer_mode::proxy, {}, r * 7919, r * 31 + 5);
    if (d.what != balancer_decision::kind::remote) continue;
    std::vector<std::string> fallbacks;
    for (const auto* c : d.fallbacks) fallbacks.push_back(c->identity);
    // Never the chosen one, never the one that is not ready; the local member last (most loaded).
    if (d.member->identity == "tcp://127.0.0.4:5941")
      EXPECT_EQ(fallbacks, (std::vector<std::string>{"tcp://127.0.0.2:5941", "tcp://127.0.0.1:5941"}));
    else
      EXPECT_EQ(fallbacks, (std::vector<std::string>{"tcp://127.0.0.4:5941", "tcp://127.0.0.1:5941"}));
  }
  // A plan tries them in that order: one ws backend per member, at its backplane address.
  auto config = config::load_config_text(R"(<gateway-config>
  <service><name>b</name><accept>ws://balance.example:8000/app</accept><type>balancer</type>
    <accept-options><tcp.bind>127.0.0.1:8000</tcp.bind></accept-options></service>
  <service><name>m</name><accept>ws://127.0.0.1:8000/app</accept><balance>ws://balance.example:8000/app</balance>
    <type>echo</type></service>
</gateway-config>)", "t.xml", {});
  auto rt = build_runtime(config);
  auto plan = build_balancing_plan(*rt);
  const cluster::balance_group* g = f.table->find(balance_uri);
  ASSERT_NE(g, nullptr);
  std::vector<const cluster::balance_candidate*> order{&g->candidates[1], &g->candidates[3], &g->candidates[0]};
  auto p = member_proxy_plan(order, balance_uri, config->services[0], *plan);
  ASSERT_TRUE(p.has_value()) << p.error();
  ASSERT_EQ((*p)->backends.size(), 3u);
  EXPECT_EQ((*p)->backends[0].address.to_string(), "127.0.0.2:8000");
  EXPECT_EQ((*p)->backends[1].address.to_string(), "127.0.0.4:8000");
  EXPECT_EQ((*p)->backends[2].address.to_string(), "127.0.0.1:8000");
  EXPECT_EQ((*p)->backends[0].uri.to_string(), "ws://127.0.0.2:8000/app");
  EXPECT_TRUE((*p)->backends[0].websocket);
}

TEST(GatewayClusterBalancer, RedirectModeRedirectsEvenToTheLocalMember) {
  fixture f;
  f.states = {member("tcp://127.0.0.1:5941", "127.0.0.1", true, 0, "wss")};
  f.build(0);
  auto d = decide_balancer(f.table.get(), balance_uri, balancer_mode::redirect, {}, 1, 2);
  ASSERT_EQ(d.what, balancer_decision::kind::redirect);
  EXPECT_EQ(d.location, "https://127.0.0.1:8000/app");
}

TEST(GatewayClusterBalancer, NoReadyMemberIsUnavailable) {
  fixture f;
  f.states = {member("tcp://127.0.0.1:5941", "127.0.0.1", false, 0), member("tcp://127.0.0.2:5941", "127.0.0.2", false, 0)};
  f.build(0);
  EXPECT_EQ(decide_balancer(f.table.get(), balance_uri, balancer_mode::proxy, {}, 1, 2).what,
            balancer_decision::kind::unavailable);
  EXPECT_EQ(decide_balancer(f.table.get(), balance_uri, balancer_mode::redirect, {}, 1, 2).what,
            balancer_decision::kind::unavailable);
}

TEST(GatewayClusterBalancer, RemoteWithoutBackplaneIsUnusableInProxyMode) {
  fixture f;
  f.states = {member("tcp://127.0.0.2:5941", "127.0.0.2", true, 0)};
  f.states[0].balances[0].backplane = {};
  f.build(99);
  EXPECT_EQ(decide_balancer(f.table.get(), balance_uri, balancer_mode::proxy, {}, 1, 2).what,
            balancer_decision::kind::unavailable);
  EXPECT_EQ(decide_balancer(f.table.get(), balance_uri, balancer_mode::redirect, {}, 1, 2).what,
            balancer_decision::kind::redirect);
}

constexpr const char* config_text = R"(<gateway-config xmlns="http://xmlns.kaazing.org/2016/06/gateway">
  <service>
    <name>Balancer</name>
    <accept>ws://balance.example:8000/app</accept>
    <type>balancer</type>
    <properties><balancer.mode>redirect</balancer.mode><balancer.local.preference>0</balancer.local.preference></properties>
    <accept-options><tcp.bind>127.0.31.1:8000</tcp.bind></accept-options>
  </service>
  <service>
    <name>Member</name>
    <accept>ws://127.0.31.1:8000/app</accept>
    <balance>ws://balance.example:8000/app</balance>
    <type>echo</type>
    <accept-options><tcp.bind>127.0.31.1:8000</tcp.bind></accept-options>
  </service>
  <service>
    <name>Plain</name>
    <accept>ws://127.0.31.1:8001/plain</accept>
    <type>echo</type>
  </service>
  <cluster>
    <name>c</name>
    <accept>tcp://127.0.31.1:5941</accept>
    <connect>udp://239.255.31.1:5940</connect>
  </cluster>
</gateway-config>
)";

TEST(GatewayClusterLocalMember, StateFromConfig) {
  auto config = config::load_config_text(config_text, "test.xml", {});
  auto rt = build_runtime(config);
  auto plan = build_balancing_plan(*rt);
  ASSERT_EQ(plan->locals.size(), 1u);
  EXPECT_EQ(plan->locals[0].balance_uri, "ws://balance.example:8000/app");
  EXPECT_EQ(plan->locals[0].service->name, "Member");
  ASSERT_NE(plan->locals[0].local_route, nullptr);
  EXPECT_EQ(plan->locals[0].local_route->service->name, "Member");
  EXPECT_EQ(plan->find("ws://balance.example:8000/app"), &plan->locals[0]);
  EXPECT_EQ(plan->find("ws://127.0.31.1:8000/app"), nullptr);

  int asked = 0;
  auto self = local_member_state(*rt, *plan, 1234, [&](const config::service_config& s) {
    ++asked;
    return s.name == "Member";
  });
  EXPECT_EQ(self.identity, "tcp://127.0.31.1:5941");
  EXPECT_EQ(self.address.to_string(), "127.0.31.1:5941");
  EXPECT_EQ(self.incarnation, 1234u);
  EXPECT_EQ(self.start_time_ms, 1234u);
  EXPECT_EQ(asked, 1);
  ASSERT_EQ(self.balances.size(), 1u);
  EXPECT_EQ(self.balances[0].balance_uri, "ws://balance.example:8000/app");
  EXPECT_EQ(self.balances[0].accept_uris, std::vector<std::string>{"ws://127.0.31.1:8000/app"});
  EXPECT_EQ(self.balances[0].backplane.to_string(), "127.0.31.1:8000");
  EXPECT_TRUE(self.balances[0].ready);
  EXPECT_EQ(balancer_mode_of(config->services[0]), balancer_mode::redirect);
  EXPECT_EQ(balancer_mode_of(config->services[1]), balancer_mode::proxy);
  EXPECT_EQ(choice_options_of(config->services[0]).local_preference_factor, 0.0);
  EXPECT_EQ(choice_options_of(config->services[1]).local_preference_factor, cluster::choice_options{}.local_preference_factor);
}

}  // namespace
}  // namespace postern::gateway
