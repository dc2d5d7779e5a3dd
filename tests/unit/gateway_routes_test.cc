#include "gateway/routes.h"

#include <gtest/gtest.h>

#include "gateway/check_report.h"
#include "gateway/runtime.h"

namespace postern::gateway {
namespace {

net::uri must_parse(std::string_view text) {
  auto u = net::parse_uri(text);
  EXPECT_TRUE(u) << text;
  return *u;
}

config::service_config echo(std::string name, std::vector<std::string_view> accepts) {
  config::service_config s;
  s.name = std::move(name);
  s.type = config::service_type::echo;
  for (auto a : accepts) s.accepts.push_back(must_parse(a));
  return s;
}

TEST(routes, bind_option_per_scheme) {
  auto s = echo("e", {"ws://gw.example:8000/a", "wss://gw.example:8443/a", "tcp://gw.example:9000"});
  s.accept_options.tcp_bind = net::bind_address{"127.0.0.9", 7000};
  s.accept_options.ws_bind = net::bind_address{"127.0.0.8", 8000};
  EXPECT_EQ(bind_address_of(s, s.accepts[0]), (net::bind_address{"127.0.0.8", 8000}));
  EXPECT_EQ(bind_address_of(s, s.accepts[1]), (net::bind_address{"127.0.0.9", 7000}));
  EXPECT_EQ(bind_address_of(s, s.accepts[2]), (net::bind_address{"127.0.0.9", 7000}));
  auto plain = echo("p", {"ws://127.0.0.7:8000/a"});
  EXPECT_EQ(bind_address_of(plain, plain.accepts[0]), (net::bind_address{"127.0.0.7", 8000}));
}

TEST(routes, services_on_one_address_share_an_endpoint) {
  config::gateway_config c;
  c.services.push_back(echo("a", {"ws://127.0.0.7:8000/a"}));
  c.services.push_back(echo("b", {"ws://127.0.0.7:8000/b"}));
  c.services.push_back(echo("t", {"tcp://127.0.0.7:8001"}));
  auto eps = build_endpoints(c);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].address.to_string(), "127.0.0.7:8000");
  EXPECT_EQ(eps[0].kind, endpoint_kind::http);
  ASSERT_EQ(eps[0].routes.size(), 2u);
  EXPECT_EQ(eps[1].kind, endpoint_kind::tcp);
  EXPECT_EQ(eps[1].routes.front().service->name, "t");
}

TEST(routes, conflicts_are_refused_with_names) {
  config::gateway_config c;
  c.services.push_back(echo("a", {"ws://127.0.0.7:8000/a"}));
  c.services.push_back(echo("b", {"tcp://127.0.0.7:8000"}));
  try {
    build_endpoints(c);
    FAIL() << "no error";
  } catch (const route_error& e) {
    EXPECT_NE(std::string(e.what()).find("service 'b'"), std::string::npos) << e.what();
  }
  config::gateway_config d;
  d.services.push_back(echo("a", {"ws://127.0.0.7:8000/a"}));
  d.services.push_back(echo("b", {"ws://127.0.0.7:8000/a"}));
  EXPECT_THROW(build_endpoints(d), route_error);
  config::gateway_config t;
  t.services.push_back(echo("a", {"tcp://127.0.0.7:8001"}));
  t.services.push_back(echo("b", {"tcp://127.0.0.7:8001"}));
  EXPECT_THROW(build_endpoints(t), route_error);
}

TEST(routes, host_and_path_routing) {
  config::gateway_config c;
  auto one = echo("one", {"ws://one.example:8000/echo"});
  one.accept_options.tcp_bind = net::bind_address{"127.0.0.7", 8000};
  auto two = echo("two", {"ws://two.example:8000/echo"});
  two.accept_options.tcp_bind = net::bind_address{"127.0.0.7", 8000};
  c.services = {one, two};
  auto eps = build_endpoints(c);
  ASSERT_EQ(eps.size(), 1u);
  const endpoint& ep = eps[0];
  EXPECT_EQ(find_route(ep, "one.example:8000", "/echo").found->service->name, "one");
  EXPECT_EQ(find_route(ep, "TWO.example:8000", "/echo").found->service->name, "two");
  EXPECT_EQ(find_route(ep, "three.example:8000", "/echo").miss, route_miss::unknown_host);
  EXPECT_EQ(find_route(ep, "one.example:8001", "/echo").miss, route_miss::unknown_host);
  EXPECT_EQ(find_route(ep, "one.example", "/echo").miss, route_miss::unknown_host);  // port 80
  EXPECT_EQ(find_route(ep, "one.example:8000", "/echo/x").miss, route_miss::unknown_path);
  EXPECT_EQ(find_route(ep, "one.example:notaport", "/echo").miss, route_miss::unknown_host);
}

TEST(routes, single_authority_listener_routes_by_path) {
  config::gateway_config c;
  c.services.push_back(echo("a", {"ws://localhost:8000/a"}));
  c.services.push_back(echo("b", {"ws://localhost:8000/b"}));
  auto eps = build_endpoints(c);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(find_route(eps[0], "127.0.0.1:8000", "/b").found->service->name, "b");
  EXPECT_EQ(find_route(eps[0], "", "/a").found->service->name, "a");
  EXPECT_EQ(find_route(eps[0], "localhost:8000", "/c").miss, route_miss::unknown_path);
}

TEST(routes, default_ports_in_host_header) {
  config::gateway_config c;
  auto s = echo("a", {"ws://one.example/x", "ws://two.example/x"});
  s.accept_options.tcp_bind = net::bind_address{"127.0.0.7", 8080};
  c.services = {s};
  auto eps = build_endpoints(c);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_TRUE(find_route(eps[0], "one.example", "/x").found);
  EXPECT_TRUE(find_route(eps[0], "one.example:80", "/x").found);
  EXPECT_TRUE(find_route(eps[0], "two.example", "/x").found);
}

TEST(routes, reverse_mode_services_do_not_listen) {
  config::gateway_config c;
  config::service_config s;
  s.name = "Internal App1";
  s.type = config::service_type::proxy;
  s.accepts.push_back(must_parse("wss://gateway.example.com:8443/app1"));
  s.connects.push_back(must_parse("tcp://127.0.3.1:3101"));
  s.accept_options.http_transport = must_parse("socks+ssl://127.0.1.1:1443");
  s.accept_options.socks_mode = config::socks_mode::reverse;
  c.services = {s};
  EXPECT_FALSE(listens(s));
  EXPECT_TRUE(build_endpoints(c).empty());
  auto lines = effective_service_lines(c);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "Internal App1: wss://gateway.example.com:8443/app1 -> reverse via socks+ssl://127.0.1.1:1443 -> "
            "proxy -> tcp://127.0.3.1:3101");
}

TEST(check_report, lines_show_bind_type_and_connects) {
  config::gateway_config c;
  auto s = echo("WebSocket echo", {"ws://localhost:8000/echo"});
  c.services = {s};
  auto b = echo("Balancer", {"wss://gateway.example.com:8443/app1"});
  b.type = config::service_type::balancer;
  b.accept_options.tcp_bind = net::bind_address{"127.0.1.1", 8443};
  c.services.push_back(b);
  auto lines = effective_service_lines(c);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "WebSocket echo: ws://localhost:8000/echo -> localhost:8000 -> echo -> -");
  EXPECT_EQ(lines[1], "Balancer: wss://gateway.example.com:8443/app1 -> 127.0.1.1:8443 -> balancer -> -");
  auto missing = unsupported_features(c);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("type balancer"), std::string::npos);
  EXPECT_EQ(cluster_line(c), "");
}

TEST(check_report, the_cluster_line_shows_how_the_member_gossips) {
  config::gateway_config c;
  config::cluster_config cluster;
  cluster.name = "dmz";
  cluster.accepts = {*net::parse_uri("tcp://10.0.0.1:5941")};
  cluster.connects = {*net::parse_uri("tcp://10.0.0.2:5941"), *net::parse_uri("tcp://10.0.0.3:5941")};
  cluster.failure_timeout_ms = 3000;
  c.cluster = cluster;
  EXPECT_EQ(cluster_line(c),
            "cluster 'dmz': member tcp://10.0.0.1:5941 -> tcp://10.0.0.2:5941,tcp://10.0.0.3:5941, no key-file "
            "(unauthenticated), heartbeat 200 ms, suspect after 600 ms, failed after 3000 ms");
  c.cluster->key_file = "/etc/postern/cluster.key";
  EXPECT_NE(cluster_line(c).find(", key-file /etc/postern/cluster.key, heartbeat"), std::string::npos);
}

}  // namespace
}  // namespace postern::gateway
