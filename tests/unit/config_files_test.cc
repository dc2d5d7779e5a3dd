// Every file under shared/configs/ loads unmodified and yields the values it was written for.
// The folder is $POSTERN_SHARED_DIR/configs, else <repo>/../shared/configs (the repo found from
// this source file's path, relative to the working directory when the compiler saw a relative
// path, as the Makefile does).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "config/loader.h"

namespace postern::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

fs::path configs_dir() {
  if (const char* shared = std::getenv("POSTERN_SHARED_DIR"); shared != nullptr && *shared != '\0') {
    return fs::path(shared) / "configs";
  }
  const fs::path repo = fs::path(__FILE__).parent_path().parent_path().parent_path();
  return (repo.empty() ? fs::path(".") : repo) / ".." / "shared" / "configs";
}

#define REQUIRE_CONFIGS()                                                                                         \
  if (!fs::is_directory(configs_dir())) {                                                                         \
    GTEST_SKIP() << "no shared configs at " << configs_dir() << " (set POSTERN_SHARED_DIR to the shared folder)"; \
  }

std::shared_ptr<const gateway_config> load(const std::string& relative, const load_options& options = {}) {
  return load_config((configs_dir() / relative).string(), options);
}

net::uri uri(std::string_view text) { return net::parse_uri(text).value(); }

TEST(ConfigFiles, EveryFileLoadsUnmodified) {
  REQUIRE_CONFIGS();
  unsigned loaded = 0;
  for (const auto& entry : fs::recursive_directory_iterator(configs_dir())) {
    if (entry.path().extension() != ".xml") continue;
    SCOPED_TRACE(entry.path().string());
    std::shared_ptr<const gateway_config> config;
    EXPECT_NO_THROW(config = load_config(entry.path().string(), {}));
    if (config) {
      EXPECT_FALSE(config->services.empty());
    }
    ++loaded;
  }
  EXPECT_GE(loaded, 7u);  // echo, five ha-loopback files, seed-literal
}

TEST(ConfigFiles, Echo) {
  REQUIRE_CONFIGS();
  const auto config = load("echo.xml");
  ASSERT_EQ(config->services.size(), 2u);
  const service_config& ws = config->services[0];
  EXPECT_EQ(ws.name, "WebSocket echo");
  EXPECT_EQ(ws.type, service_type::echo);
  ASSERT_EQ(ws.accepts.size(), 1u);
  EXPECT_EQ(ws.accepts[0].scheme, net::uri_scheme::ws);
  EXPECT_EQ(ws.accepts[0].host, "localhost");
  EXPECT_EQ(ws.accepts[0].port, 8000);
  EXPECT_EQ(ws.accepts[0].path, "/echo");
  ASSERT_EQ(ws.cross_site.size(), 1u);
  EXPECT_EQ(ws.cross_site[0].allow_origin, "*");
  EXPECT_EQ(ws.cross_site[0].allow_methods, (std::vector<std::string>{"GET", "POST"}));
  const service_config& tcp = config->services[1];
  EXPECT_EQ(tcp.name, "TCP echo");
  EXPECT_EQ(tcp.type, service_type::echo);
  EXPECT_EQ(tcp.accepts, (std::vector<net::uri>{uri("tcp://localhost:8001")}));
  EXPECT_TRUE(tcp.cross_site.empty());
  EXPECT_FALSE(config->cluster.has_value());
  EXPECT_TRUE(config->warnings.empty());
  EXPECT_EQ(config->source_file, (configs_dir() / "echo.xml").string());
}

TEST(ConfigFiles, DmzMember1) {
  REQUIRE_CONFIGS();
  const auto config = load("ha-loopback/dmz1.xml");
  ASSERT_EQ(config->services.size(), 2u);
  const service_config& balancer = config->services[0];
  EXPECT_EQ(balancer.name, "Balancer for DMZ App1");
  EXPECT_EQ(balancer.type, service_type::balancer);
  EXPECT_EQ(balancer.accepts, (std::vector<net::uri>{uri("wss://gateway.example.com:8443/app1")}));
  ASSERT_TRUE(balancer.accept_options.tcp_bind.has_value());
  EXPECT_EQ(*balancer.accept_options.tcp_bind, (net::bind_address{"127.0.1.1", 8443}));
  EXPECT_FALSE(balancer.balancer_mode.has_value());

  const service_config& app = config->services[1];
  EXPECT_EQ(app.name, "DMZ App1");
  EXPECT_EQ(app.type, service_type::proxy);
  EXPECT_EQ(app.accepts, (std::vector<net::uri>{uri("wss://127.0.1.1:8443/app1")}));
  EXPECT_EQ(app.connects, (std::vector<net::uri>{uri("wss://gateway.example.com:8443/app1")}));
  EXPECT_EQ(app.balances, (std::vector<net::uri>{uri("wss://gateway.example.com:8443/app1")}));
  const service_options& connect = app.connect_options;
  ASSERT_TRUE(connect.http_transport.has_value());
  EXPECT_EQ(connect.http_transport->scheme, net::uri_scheme::socks_ssl);
  EXPECT_EQ(connect.http_transport->host, "127.0.1.1");
  EXPECT_EQ(connect.http_transport->port, 1443);
  EXPECT_EQ(connect.socks_mode, socks_mode::reverse);
  EXPECT_EQ(connect.socks_timeout, milliseconds(2000));
  EXPECT_EQ(connect.ssl.verify_client, verify_client::required);
  EXPECT_FALSE(app.accept_options.http_transport.has_value());

  EXPECT_EQ(config->security.keystore_file, "pki/dmz1.pem");
  EXPECT_EQ(config->security.truststore_file, "pki/ca.pem");
  ASSERT_TRUE(config->cluster.has_value());
  EXPECT_EQ(config->cluster->name, "dmzCluster");
  EXPECT_EQ(config->cluster->accepts, (std::vector<net::uri>{uri("tcp://127.0.1.1:5941")}));
  EXPECT_EQ(config->cluster->connects, (std::vector<net::uri>{uri("udp://224.2.2.44:44444")}));
  EXPECT_EQ(config->cluster->key_file, "pki/cluster.key");
  EXPECT_EQ(config->cluster->location.line, 75u);
  EXPECT_TRUE(config->warnings.empty());
}

TEST(ConfigFiles, DmzMember2AndADefineOnTheCommandLine) {
  REQUIRE_CONFIGS();
  load_options options;
  options.defines = {{"pki.dir", "/etc/postern/pki"}};
  const auto config = load("ha-loopback/dmz2.xml", options);
  ASSERT_EQ(config->services.size(), 2u);
  EXPECT_EQ(*config->services[0].accept_options.tcp_bind, (net::bind_address{"127.0.1.2", 8443}));
  EXPECT_EQ(config->services[1].connect_options.http_transport, uri("socks+ssl://127.0.1.2:1443"));
  EXPECT_EQ(config->cluster->accepts, (std::vector<net::uri>{uri("tcp://127.0.1.2:5942")}));
  EXPECT_EQ(config->security.keystore_file, "/etc/postern/pki/dmz2.pem");
  EXPECT_EQ(config->cluster->key_file, "/etc/postern/pki/cluster.key");
}

TEST(ConfigFiles, InternalGateway1) {
  REQUIRE_CONFIGS();
  const auto config = load("ha-loopback/internal1.xml");
  ASSERT_EQ(config->services.size(), 1u);
  const service_config& app = config->services[0];
  EXPECT_EQ(app.name, "Internal App1");
  EXPECT_EQ(app.type, service_type::proxy);
  EXPECT_EQ(app.accepts, (std::vector<net::uri>{uri("wss://gateway.example.com:8443/app1")}));
  EXPECT_EQ(app.connects, (std::vector<net::uri>{uri("tcp://127.0.3.1:3101")}));
  EXPECT_EQ(app.prepared_connection_count, 4u);
  EXPECT_EQ(app.properties, (std::map<std::string, std::string>{{"prepared.connection.count", "4"}}));
  const service_options& accept = app.accept_options;
  EXPECT_EQ(accept.http_transport, uri("socks+ssl://127.0.1.1:1443"));
  EXPECT_EQ(accept.socks_mode, socks_mode::reverse);
  EXPECT_EQ(accept.socks_retry_maximum_interval, milliseconds(1000));
  EXPECT_FALSE(app.connect_options.http_transport.has_value());
  EXPECT_EQ(config->security.keystore_file, "pki/internal1.pem");
  EXPECT_FALSE(config->cluster.has_value());
}

TEST(ConfigFiles, InternalGateway2AndBackend) {
  REQUIRE_CONFIGS();
  const auto internal = load("ha-loopback/internal2.xml");
  EXPECT_EQ(internal->services.at(0).accept_options.http_transport, uri("socks+ssl://127.0.1.2:1443"));
  EXPECT_EQ(internal->security.keystore_file, "pki/internal2.pem");
  const auto backend = load("ha-loopback/backend.xml");
  ASSERT_EQ(backend->services.size(), 1u);
  EXPECT_EQ(backend->services[0].type, service_type::echo);
  EXPECT_EQ(backend->services[0].accepts, (std::vector<net::uri>{uri("tcp://127.0.3.1:3101")}));
}

TEST(ConfigFiles, SeedLiteralLoadsWithOneWarningAboutTheSlip) {
  REQUIRE_CONFIGS();
  const std::string path = (configs_dir() / "seed-literal/dmz-member.xml").string();
  const auto config = load_config(path, {});
  ASSERT_EQ(config->services.size(), 4u);
  EXPECT_EQ(config->services[2].name, "DMZ App1");
  EXPECT_EQ(config->services[2].accepts, (std::vector<net::uri>{uri("wss://gateway1.example.com:8443/app1")}));
  EXPECT_EQ(config->services[3].connect_options.http_transport, uri("socks+ssl://gateway1.example.dmz.net:1443"));
  ASSERT_TRUE(config->cluster.has_value());
  EXPECT_EQ(config->cluster->accepts, (std::vector<net::uri>{uri("tcp://172.19.20.1:5941")}));
  EXPECT_EQ(config->cluster->connects, (std::vector<net::uri>{uri("udp://224.2.2.44:44444")}));
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_EQ(config->warnings[0],
            path +
                ":95:5: warning: <cluster><name> holds 'tcp://172.19.20.1:5941' and <accept> a bare address "
                "'172.19.20.1': this is a known slip in KAAZING's Enterprise Shield HA walkthrough (the product "
                "reads <name>dmzCluster</name> and <accept>tcp://ip:port</accept>); postern takes the member "
                "address tcp://172.19.20.1:5941 from <name>");
}

}  // namespace
}  // namespace postern::config
