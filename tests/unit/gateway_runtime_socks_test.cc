// runtime, reverse connectivity (DESIGN §5): what build_runtime makes of socks transports in
// accept-options (internal side) and connect-options (DMZ side), in both modes, and the
// sentences it refuses bad combinations with. Plain socks:// only: no certificates needed.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "gateway/routes.h"
#include "gateway/runtime.h"

namespace postern::gateway {
namespace {

net::uri must_parse(std::string_view text) {
  auto u = net::parse_uri(text);
  EXPECT_TRUE(u) << text;
  return *u;
}

config::service_config proxy(std::string name, std::string_view accept, std::vector<std::string_view> connects) {
  config::service_config s;
  s.name = std::move(name);
  s.type = config::service_type::proxy;
  s.accepts.push_back(must_parse(accept));
  for (auto c : connects) s.connects.push_back(must_parse(c));
  return s;
}

void via(config::service_options& o, std::string_view transport, std::optional<config::socks_mode> mode) {
  o.http_transport = must_parse(transport);
  o.socks_mode = mode;
}

std::shared_ptr<const runtime> build(config::gateway_config c) {
  return build_runtime(std::make_shared<const config::gateway_config>(std::move(c)));
}

std::string build_error(config::gateway_config c) {
  try {
    build(std::move(c));
  } catch (const runtime_error& e) {
    return e.what();
  }
  return "(built)";
}

TEST(runtime_socks, dmz_reverse_service_parks_links_at_its_backplane) {
  config::gateway_config c;
  auto s = proxy("dmz", "ws://127.0.0.7:8000/app", {"wss://gateway.example.com:8443/app1"});
  via(s.connect_options, "socks://127.0.0.7:1443", config::socks_mode::reverse);
  s.connect_options.socks_timeout = config::milliseconds(2000);
  c.services.push_back(std::move(s));
  auto rt = build(std::move(c));
  ASSERT_EQ(rt->backplanes.size(), 1u);
  EXPECT_EQ(rt->backplanes[0].address.to_string(), "127.0.0.7:1443");
  EXPECT_EQ(rt->backplanes[0].tls, nullptr);
  ASSERT_EQ(rt->backplanes[0].logical_uris.size(), 1u);
  EXPECT_EQ(rt->backplanes[0].logical_uris[0], "wss://gateway.example.com:8443/app1");
  const proxy_plan* plan = rt->plan_of(rt->config->services[0]);
  ASSERT_NE(plan, nullptr);
  EXPECT_TRUE(plan->reverse);
  EXPECT_EQ(plan->logical_uri, "wss://gateway.example.com:8443/app1");
  EXPECT_EQ(plan->socks_timeout_ms, 2000u);
  ASSERT_EQ(plan->backends.size(), 1u);
  EXPECT_TRUE(plan->backends[0].websocket);
  EXPECT_EQ(plan->backends[0].tls, nullptr);  // the link's TLS is the only layer
  // gateway.example.com need not resolve: nothing dials it.
  EXPECT_EQ(rt->endpoints.size(), 1u);  // the client accept; the backplane is not an endpoint
}

TEST(runtime_socks, internal_reverse_service_listens_nowhere_and_dials_out) {
  config::gateway_config c;
  auto s = proxy("internal", "wss://gateway.example.com:8443/app1", {"tcp://127.0.0.7:3101"});
  via(s.accept_options, "socks://127.0.0.7:1443", config::socks_mode::reverse);
  s.prepared_connection_count = 4;
  s.accept_options.socks_retry_maximum_interval = config::milliseconds(1000);
  c.services.push_back(std::move(s));
  auto rt = build(std::move(c));
  EXPECT_TRUE(rt->endpoints.empty());
  ASSERT_EQ(rt->socks_accepts.size(), 1u);
  const socks_accept& a = rt->socks_accepts[0];
  EXPECT_EQ(a.mode, config::socks_mode::reverse);
  EXPECT_EQ(a.logical_uri, "wss://gateway.example.com:8443/app1");
  EXPECT_EQ(a.logical_port, 8443);
  EXPECT_EQ(a.link_address.to_string(), "127.0.0.7:1443");
  EXPECT_EQ(a.prepared, 4u);
  EXPECT_EQ(a.retry_max_ms, 1000u);
  EXPECT_EQ(a.ep.kind, endpoint_kind::http);  // plain HTTP over the link: its TLS replaces wss's
  ASSERT_EQ(a.ep.routes.size(), 1u);
  EXPECT_EQ(a.ep.routes[0].host, "gateway.example.com");
  EXPECT_EQ(a.ep.routes[0].path, "/app1");
  EXPECT_EQ(rt->server_tls_of(a.ep), nullptr);
}

TEST(runtime_socks, defaults_prepared_one_and_mode_forward) {
  config::gateway_config c;
  auto s = proxy("internal", "tcp://app.internal:9000", {"tcp://127.0.0.7:3101"});
  s.accept_options.tcp_transport = must_parse("socks://127.0.0.7:1444");  // no socks.mode: forward
  c.services.push_back(std::move(s));
  auto rt = build(std::move(c));
  ASSERT_EQ(rt->socks_accepts.size(), 1u);
  EXPECT_EQ(rt->socks_accepts[0].mode, config::socks_mode::forward);
  EXPECT_EQ(rt->socks_accepts[0].prepared, 1u);
  EXPECT_EQ(rt->socks_accepts[0].retry_max_ms, 30'000u);  // socks.retry.maximum.interval's default
  EXPECT_EQ(rt->socks_accepts[0].ep.kind, endpoint_kind::tcp);
  EXPECT_TRUE(rt->endpoints.empty());
}

TEST(runtime_socks, dmz_forward_service_dials_the_transport_and_connects) {
  config::gateway_config c;
  auto s = proxy("dmz", "ws://127.0.0.7:8000/app", {"ws://gateway.example.com:8443/app1"});
  via(s.connect_options, "socks://127.0.0.8:1444", config::socks_mode::forward);
  c.services.push_back(std::move(s));
  auto rt = build(std::move(c));
  EXPECT_TRUE(rt->backplanes.empty());
  const proxy_plan* plan = rt->plan_of(rt->config->services[0]);
  ASSERT_NE(plan, nullptr);
  EXPECT_FALSE(plan->reverse);
  ASSERT_EQ(plan->backends.size(), 1u);
  EXPECT_TRUE(plan->backends[0].socks_connect);
  EXPECT_EQ(plan->backends[0].address.to_string(), "127.0.0.8:1444");
  EXPECT_EQ(plan->backends[0].uri.to_string(), "ws://gateway.example.com:8443/app1");
}

TEST(runtime_socks, refusals_name_the_service_and_the_problem) {
  {
    config::gateway_config c;
    auto s = proxy("dmz", "ws://127.0.0.7:8000/app", {"ws://a.example:80/x", "ws://b.example:80/y"});
    via(s.connect_options, "socks://127.0.0.7:1443", config::socks_mode::reverse);
    c.services.push_back(std::move(s));
    EXPECT_EQ(build_error(std::move(c)),
              "service 'dmz': socks.mode reverse in connect-options takes exactly one <connect> (the logical URI the "
              "internal gateway binds), not 2");
  }
  {
    config::gateway_config c;
    auto s = proxy("dmz", "ws://127.0.0.7:1443/app", {"ws://a.example:80/x"});
    via(s.connect_options, "socks://127.0.0.7:1443", config::socks_mode::reverse);
    c.services.push_back(std::move(s));
    EXPECT_EQ(build_error(std::move(c)),
              "service 'dmz': backplane socks://127.0.0.7:1443 is also the listen address of service 'dmz'");
  }
  {
    config::gateway_config c;
    auto s = proxy("dmz", "ws://127.0.0.7:8000/app", {"ws://a.example:80/x"});
    via(s.connect_options, "socks+ssl://127.0.0.7:1443", config::socks_mode::reverse);
    c.services.push_back(std::move(s));
    EXPECT_EQ(build_error(std::move(c)), "service 'dmz': backplane socks+ssl://127.0.0.7:1443 needs <security><keystore>");
  }
  {
    config::gateway_config c;
    auto s = proxy("internal", "ws://gateway.example.com:80/app", {"tcp://127.0.0.7:3101"});
    via(s.accept_options, "socks+ssl://127.0.0.7:1443", config::socks_mode::reverse);
    c.services.push_back(std::move(s));
    EXPECT_EQ(build_error(std::move(c)),
              "service 'internal': transport socks+ssl://127.0.0.7:1443 needs <security><truststore> to verify the "
              "DMZ gateway's certificate");
  }
}

TEST(runtime_socks, other_transports_and_a_mode_without_transport_are_refused_by_name) {
  config::gateway_config c;
  auto a = proxy("a", "ws://127.0.0.7:8000/a", {"tcp://127.0.0.7:3101"});
  a.accept_options.http_transport = must_parse("tcp://127.0.0.7:9000");
  auto b = proxy("b", "ws://127.0.0.7:8000/b", {"tcp://127.0.0.7:3101"});
  b.connect_options.socks_mode = config::socks_mode::reverse;
  c.services.push_back(std::move(a));
  c.services.push_back(std::move(b));
  auto problems = unsupported_features(c);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0], "service 'a': accept-options transport tcp://127.0.0.7:9000 is not available in this build "
                         "(postern takes socks:// and socks+ssl:// transports)");
  EXPECT_EQ(problems[1], "service 'b': connect-options socks.mode needs http.transport or tcp.transport");
}

}  // namespace
}  // namespace postern::gateway
