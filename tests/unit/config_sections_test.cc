// config/options and config/sections: accept/connect options, <service-defaults>, <security>,
// <cluster> (with the seed's slip) and <reactor>. Every error asserts the whole message.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace postern::config {
namespace {

using std::chrono::milliseconds;

const std::string head = "<gateway-config xmlns=\"http://xmlns.kaazing.org/2016/06/gateway\">\n";  // line 1
const std::string echo_service =
    "  <service><name>e</name><accept>ws://localhost:8000/</accept><type>echo</type></service>\n";
const std::string security =
    "  <security><keystore><type>PEM</type><file>k.pem</file></keystore>"
    "<truststore><file>ca.pem</file></truststore></security>\n";

std::string wrap(const std::string& body) { return head + body + "</gateway-config>\n"; }

std::string error_of(const std::string& text) {
  try {
    load_config_text(text, "t.xml", {});
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

std::shared_ptr<const gateway_config> load(const std::string& text) { return load_config_text(text, "t.xml", {}); }

// A proxy service (line 2) whose accept-options and connect-options each stand on one line:
// lines 3 and 4, the options starting at column 21 and 22.
std::string proxy(const std::string& accept_options, const std::string& connect_options = "") {
  return "  <service><name>p</name><accept>ws://a:80/</accept><connect>ws://b:80/</connect><type>proxy</type>\n"
         "    <accept-options>" +
         accept_options +
         "</accept-options>\n"
         "    <connect-options>" +
         connect_options +
         "</connect-options>\n"
         "  </service>\n";
}

net::uri uri(std::string_view text) { return net::parse_uri(text).value(); }

// --- accept-options and connect-options ---

TEST(ConfigOptions, EveryOptionIsRead) {
  const auto config = load(wrap(
      proxy("<tcp.bind>127.0.0.1:8000</tcp.bind><tls.bind>8443</tls.bind><http.bind>[::1]:80</http.bind>"
            "<https.bind>0.0.0.0:443</https.bind><ws.bind>8001</ws.bind><wss.bind>tcp://10.0.0.1:9443</wss.bind>"
            "<http.transport>socks://dmz:1080</http.transport><socks.mode>forward</socks.mode>"
            "<socks.retry.maximum.interval>10 s</socks.retry.maximum.interval>"
            "<tls.ciphers>HIGH:!aNULL</tls.ciphers><ssl.protocols>TLSv1.3</ssl.protocols>"
            "<ssl.encryption>disabled</ssl.encryption><ssl.verify-client>optional</ssl.verify-client>"
            "<ws.inactivity.timeout>60 seconds</ws.inactivity.timeout>"
            "<ws.maximum.message.size>64k</ws.maximum.message.size><http.keepalive.timeout>30</http.keepalive.timeout>",
            "<tcp.bind>10.0.0.2:4000</tcp.bind><tcp.transport>socks+ssl://dmz:1443</tcp.transport>"
            "<socks.mode>reverse</socks.mode><socks.timeout>2500 ms</socks.timeout>"
            "<socks.ssl.ciphers>NULL</socks.ssl.ciphers><socks.tls.protocols>TLSv1.2</socks.tls.protocols>"
            "<socks.ssl.encryption>enabled</socks.ssl.encryption>"
            "<socks.tls.verify-client>required</socks.tls.verify-client>"
            "<tcp.connect.timeout>1.5 s</tcp.connect.timeout>") +
      security));
  const service_options& a = config->services.at(0).accept_options;
  EXPECT_EQ(a.tcp_bind, (net::bind_address{"127.0.0.1", 8000}));
  EXPECT_EQ(a.ssl_bind, (net::bind_address{"", 8443}));
  EXPECT_EQ(a.http_bind, (net::bind_address{"::1", 80}));
  EXPECT_EQ(a.https_bind, (net::bind_address{"0.0.0.0", 443}));
  EXPECT_EQ(a.ws_bind, (net::bind_address{"", 8001}));
  EXPECT_EQ(a.wss_bind, (net::bind_address{"10.0.0.1", 9443}));
  EXPECT_EQ(a.http_transport, uri("socks://dmz:1080"));
  EXPECT_EQ(a.socks_mode, socks_mode::forward);
  EXPECT_EQ(a.socks_retry_maximum_interval, milliseconds(10'000));
  EXPECT_EQ(a.ssl.ciphers, "HIGH:!aNULL");
  EXPECT_EQ(a.ssl.protocols, "TLSv1.3");
  EXPECT_EQ(a.ssl.encryption, false);
  EXPECT_EQ(a.ssl.verify_client, verify_client::optional);
  EXPECT_EQ(a.ws_inactivity_timeout, milliseconds(60'000));
  EXPECT_EQ(a.ws_maximum_message_size, 65536u);
  EXPECT_EQ(a.http_keepalive_timeout, milliseconds(30'000));
  EXPECT_FALSE(a.socks_timeout.has_value());
  EXPECT_FALSE(a.socks_ssl.ciphers.has_value());

  const service_options& c = config->services.at(0).connect_options;
  EXPECT_EQ(c.tcp_bind, (net::bind_address{"10.0.0.2", 4000}));
  EXPECT_EQ(c.tcp_transport, uri("socks+ssl://dmz:1443"));
  EXPECT_EQ(c.socks_mode, socks_mode::reverse);
  EXPECT_EQ(c.socks_timeout, milliseconds(2500));
  EXPECT_EQ(c.socks_ssl.ciphers, "NULL");
  EXPECT_EQ(c.socks_ssl.protocols, "TLSv1.2");
  EXPECT_EQ(c.socks_ssl.encryption, true);
  EXPECT_EQ(c.socks_ssl.verify_client, verify_client::required);
  EXPECT_EQ(c.connect_timeout, milliseconds(1500));
  EXPECT_FALSE(c.ssl.verify_client.has_value());
}

TEST(ConfigOptions, Protocols) {
  auto protocols = [](const std::string& text) {
    return load(wrap(proxy("<ssl.protocols>" + text + "</ssl.protocols>")))
        ->services.at(0)
        .accept_options.ssl.protocols;
  };
  EXPECT_EQ(protocols("TLSv1.2, tlsv1.3"), "TLSv1.2,TLSv1.3");
  EXPECT_EQ(protocols("TLSv1.3,TLSv1.2,TLSv1.3"), "TLSv1.3,TLSv1.2");
  EXPECT_EQ(error_of(wrap(proxy("<ssl.protocols>TLSv1.2,TLSv1.1</ssl.protocols>"))),
            "t.xml:3:36: error: <ssl.protocols>: 'TLSv1.1' is refused: TLS 1.1 and older are broken (RFC 8996); "
            "postern speaks TLSv1.2 and TLSv1.3");
  EXPECT_EQ(error_of(wrap(proxy("<tls.protocols>SSLv3</tls.protocols>"))),
            "t.xml:3:36: error: <ssl.protocols>: 'SSLv3' is refused: TLS 1.1 and older are broken (RFC 8996); "
            "postern speaks TLSv1.2 and TLSv1.3");
  EXPECT_EQ(error_of(wrap(proxy("<ssl.protocols>QUIC</ssl.protocols>"))),
            "t.xml:3:36: error: <ssl.protocols>: 'QUIC' is not a TLS protocol; expected TLSv1.2 and/or TLSv1.3, "
            "separated by a comma");
}

TEST(ConfigOptions, BadValues) {
  const struct {
    std::string option;
    std::string message;
  } table[] = {
      {"<socks.mode>sideways</socks.mode>", "t.xml:3:33: error: <socks.mode> 'sideways' must be forward or reverse"},
      {"<ssl.encryption>maybe</ssl.encryption>",
       "t.xml:3:37: error: <ssl.encryption> 'maybe' must be enabled or disabled"},
      {"<tls.verify-client>always</tls.verify-client>",
       "t.xml:3:40: error: <ssl.verify-client> 'always' must be none, optional or required"},
      {"<ws.maximum.message.size>huge</ws.maximum.message.size>",
       "t.xml:3:46: error: <ws.maximum.message.size>: 'huge' is not a size; expected a whole number of bytes, "
       "optionally with k, m or g (binary multiples: 128k is 131072 bytes)"},
      {"<socks.timeout>soon</socks.timeout>",
       "t.xml:3:36: error: <socks.timeout>: 'soon' is not a duration; expected a number and a unit: ms, s "
       "(seconds), min (minutes) or h (hours), as in '500 ms', '2 seconds', '1.5 min'; a bare number is seconds"},
      {"<http.transport>wss://dmz:443/</http.transport>",
       "t.xml:3:37: error: <http.transport> 'wss://dmz:443/' must be socks://, socks+ssl://, tcp:// or ssl://"},
      {"<tcp.transport>tcp://dmz:1080</tcp.transport>",
       "t.xml:3:36: error: <tcp.transport> 'tcp://dmz:1080' must be socks:// or socks+ssl://"},
      {"<http.transport>wsn+ssl://dmz:1080/shield</http.transport>",
       "t.xml:3:37: error: <http.transport> 'wsn+ssl://dmz:1080/shield' is a KAAZING feature postern does not "
       "implement (use ws:// (RFC 6455))"},
      {"<socks.mode/>", "t.xml:3:21: error: <socks.mode> is empty"},
      {"<socks.mode><x/></socks.mode>",
       "t.xml:3:33: error: <socks.mode> holds text, not elements: unexpected element <x>"},
  };
  for (const auto& row : table) EXPECT_EQ(error_of(wrap(proxy(row.option))), row.message) << row.option;
  const std::string bind = error_of(wrap(proxy("<tcp.bind>nowhere</tcp.bind>")));
  const std::string prefix = "t.xml:3:31: error: invalid <tcp.bind>: ";
  EXPECT_EQ(bind.substr(0, prefix.size()), prefix) << bind;
}

TEST(ConfigOptions, DuplicatesAndAliases) {
  EXPECT_EQ(error_of(wrap(proxy("<ssl.ciphers>A</ssl.ciphers><ssl.ciphers>B</ssl.ciphers>"))),
            "t.xml:3:49: error: duplicate <ssl.ciphers> in <accept-options> (the first is at 3:21)");
  EXPECT_EQ(error_of(wrap(proxy("<ssl.ciphers>A</ssl.ciphers><tls.ciphers>B</tls.ciphers>"))),
            "t.xml:3:49: error: duplicate <tls.ciphers> in <accept-options>: <ssl.ciphers> at 3:21 sets the same "
            "option (tls is an alias of ssl)");
  EXPECT_EQ(error_of(wrap(proxy("", "<tls.bind>1</tls.bind>"))),
            "t.xml:4:22: error: <tls.bind> in <connect-options>: it names a listening address and belongs in "
            "<accept-options> (in <connect-options> only tcp.bind, the local source address, applies)");
  EXPECT_EQ(error_of(wrap(proxy("", "<ws.bind>1</ws.bind>"))),
            "t.xml:4:22: error: <ws.bind> in <connect-options>: it names a listening address and belongs in "
            "<accept-options> (in <connect-options> only tcp.bind, the local source address, applies)");
}

TEST(ConfigOptions, KaazingOptionsAreRefusedByName) {
  for (const std::string name :
       {"socks.transport", "ws.version", "tcp.maximum.outbound.rate", "udp.interface", "udp.align",
        "http.keepalive.connections", "http.server.header", "http.maximum.redirects",
        "http.max.authentication.attempts", "http.realm", "http.keepalive", "ssl.transport", "pipe.transport"}) {
    const std::string message = error_of(wrap(proxy("<" + name + ">x</" + name + ">")));
    const std::string prefix =
        "t.xml:3:21: error: <" + name + "> in <accept-options> is a KAAZING feature postern does not implement (";
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
    EXPECT_GT(message.size(), prefix.size() + 10) << "no reason given: " << message;
  }
  EXPECT_EQ(error_of(wrap(proxy("", "<socks.transport>wsn+ssl://dmz:1080/shield</socks.transport>"))),
            "t.xml:4:22: error: <socks.transport> in <connect-options> is a KAAZING feature postern does not "
            "implement (SOCKS over a WebSocket transport; postern's reverse links carry their own keep-alives, so "
            "socks+ssl:// in http.transport or tcp.transport is enough)");
  EXPECT_EQ(error_of(wrap(proxy("<colour>red</colour>"))),
            "t.xml:3:21: error: unknown option <colour> in <accept-options>; expected one of: tcp.bind, ssl.bind, "
            "http.bind, https.bind, ws.bind, wss.bind, http.transport, tcp.transport, socks.mode, socks.timeout, "
            "socks.retry.maximum.interval, ssl.ciphers, ssl.protocols, ssl.encryption, ssl.verify-client, "
            "socks.ssl.ciphers, socks.ssl.protocols, socks.ssl.encryption, socks.ssl.verify-client, "
            "ws.inactivity.timeout, ws.maximum.message.size, tcp.connect.timeout, http.keepalive.timeout (every ssl. "
            "option may be spelled tls.)");
  EXPECT_EQ(error_of(wrap(proxy("stray"))),
            "t.xml:3:21: error: <accept-options> holds elements, not text: unexpected text 'stray'");
}

// --- service-defaults ---

TEST(ConfigDefaults, AServicesOwnValueWinsOptionByOption) {
  const auto config = load(wrap(
      "  <service-defaults>\n"
      "    <accept-options><ws.maximum.message.size>64k</ws.maximum.message.size>"
      "<ws.inactivity.timeout>30s</ws.inactivity.timeout><ssl.ciphers>DEFAULT</ssl.ciphers></accept-options>\n"
      "    <connect-options><tcp.connect.timeout>5s</tcp.connect.timeout></connect-options>\n"
      "  </service-defaults>\n" +
      proxy("<ws.inactivity.timeout>10s</ws.inactivity.timeout><ssl.protocols>TLSv1.3</ssl.protocols>",
            "<tcp.connect.timeout>1s</tcp.connect.timeout>") +
      echo_service +
      "  <service><name>q</name><accept>tcp://a:1</accept><connect>tcp://b:2</connect><type>proxy</type></service>\n"));
  const service_config& own = config->services.at(0);
  EXPECT_EQ(own.accept_options.ws_inactivity_timeout, milliseconds(10'000));
  EXPECT_EQ(own.accept_options.ws_maximum_message_size, 65536u);
  EXPECT_EQ(own.accept_options.ssl.ciphers, "DEFAULT");
  EXPECT_EQ(own.accept_options.ssl.protocols, "TLSv1.3");
  EXPECT_EQ(own.connect_options.connect_timeout, milliseconds(1000));
  const service_config& echo = config->services.at(1);
  EXPECT_EQ(echo.accept_options.ws_inactivity_timeout, milliseconds(30'000));
  EXPECT_EQ(echo.accept_options.ws_maximum_message_size, 65536u);
  EXPECT_FALSE(echo.connect_options.connect_timeout.has_value());  // an echo service connects nowhere
  const service_config& bare = config->services.at(2);
  EXPECT_EQ(bare.accept_options.ws_inactivity_timeout, milliseconds(30'000));
  EXPECT_EQ(bare.connect_options.connect_timeout, milliseconds(5000));
}

TEST(ConfigDefaults, Errors) {
  EXPECT_EQ(error_of(wrap("  <service-defaults><mime-mapping/></service-defaults>\n" + echo_service)),
            "t.xml:2:21: error: <mime-mapping> in <service-defaults> is a KAAZING feature postern does not implement "
            "(only KAAZING's directory service uses it)");
  EXPECT_EQ(error_of(wrap("  <service-defaults/>\n  <service-defaults/>\n" + echo_service)),
            "t.xml:3:3: error: duplicate <service-defaults> in <gateway-config> (the first is at 2:3); "
            "<gateway-config> takes one");
  // A requirement that comes from the defaults points at the defaults.
  EXPECT_EQ(error_of(wrap("  <service-defaults>\n"
                          "    <connect-options><ssl.verify-client>required</ssl.verify-client></connect-options>\n"
                          "  </service-defaults>\n" +
                          proxy(""))),
            "t.xml:3:22: error: <ssl.verify-client> required needs <security><truststore>: the PEM file of the CA "
            "certificates that sign client certificates");
}

// --- security ---

TEST(ConfigSecurity, PemFilesAreRecordedAsWritten) {
  const auto config =
      load(wrap(echo_service + "  <security><keystore><file> pki/gw.pem </file></keystore>"
                               "<truststore><type>pem</type><file>../ca.pem</file></truststore></security>\n"));
  EXPECT_EQ(config->security.keystore_file, "pki/gw.pem");
  EXPECT_EQ(config->security.truststore_file, "../ca.pem");
  EXPECT_FALSE(load(wrap(echo_service))->security.keystore_file.has_value());
}

TEST(ConfigSecurity, Errors) {
  auto with = [](const std::string& inside) {
    return error_of(wrap(echo_service + "  <security>" + inside + "</security>\n"));
  };
  EXPECT_EQ(with("<keystore><type>JKS</type><file>k.jks</file></keystore>"),
            "t.xml:3:29: error: <type> 'JKS' in <keystore>: postern reads PEM only; convert it to PEM (certificate "
            "chain and key in one file)");
  EXPECT_EQ(with("<truststore><type>PKCS12</type><file>t.p12</file></truststore>"),
            "t.xml:3:31: error: <type> 'PKCS12' in <truststore>: postern reads PEM only; convert it to PEM (the CA "
            "certificates in one file)");
  EXPECT_EQ(with("<keystore><type>JCEKS</type><file>k</file></keystore>"),
            "t.xml:3:29: error: <type> 'JCEKS' in <keystore>: postern reads PEM only; convert it to PEM (certificate "
            "chain and key in one file)");
  EXPECT_EQ(with("<keystore><type>DER</type><file>k</file></keystore>"),
            "t.xml:3:29: error: <type> 'DER' in <keystore> must be PEM");
  EXPECT_EQ(with("<keystore><file>k.pem</file><password-file>pw</password-file></keystore>"),
            "t.xml:3:41: error: <password-file> in <keystore> is a KAAZING feature postern does not implement "
            "(postern reads unencrypted PEM keys, so there is no password; keep the file readable by postern alone)");
  EXPECT_EQ(with("<keystore><type>PEM</type></keystore>"), "t.xml:3:13: error: missing <file> in <keystore>");
  EXPECT_EQ(with("<realm><name>demo</name></realm>"),
            "t.xml:3:13: error: <realm> in <security> is a KAAZING feature postern does not implement (JAAS login "
            "modules; postern does not authenticate clients)");
  EXPECT_EQ(error_of(wrap(echo_service + "  <security/>\n  <security/>\n")),
            "t.xml:4:3: error: duplicate <security> in <gateway-config> (the first is at 3:3); <gateway-config> "
            "takes one");
}

// --- cluster ---

std::string cluster(const std::string& inside) {
  return wrap(echo_service + "  <cluster>\n" + inside + "  </cluster>\n");
}

TEST(ConfigCluster, MulticastAndSeeds) {
  const auto config =
      load(cluster("    <name>dmzCluster</name>\n    <accept>tcp://10.0.0.1:5941</accept>\n"
                   "    <connect>udp://224.2.2.44:44444</connect>\n    <key-file>c.key</key-file>\n"));
  ASSERT_TRUE(config->cluster.has_value());
  EXPECT_EQ(config->cluster->name, "dmzCluster");
  EXPECT_EQ(config->cluster->accepts, (std::vector<net::uri>{uri("tcp://10.0.0.1:5941")}));
  EXPECT_EQ(config->cluster->connects, (std::vector<net::uri>{uri("udp://224.2.2.44:44444")}));
  EXPECT_EQ(config->cluster->key_file, "c.key");
  EXPECT_EQ(config->cluster->location.line, 3u);
  EXPECT_TRUE(config->warnings.empty());
  const auto seeds =
      load(cluster("    <name>c</name>\n    <accept>tcp://10.0.0.1:5941</accept>\n"
                   "    <connect>tcp://10.0.0.2:5941</connect>\n    <connect>tcp://10.0.0.3:5941</connect>\n"));
  EXPECT_EQ(seeds->cluster->connects.size(), 2u);
  EXPECT_FALSE(seeds->cluster->key_file.has_value());
}

TEST(ConfigCluster, FailureDetectionDurations) {
  const std::string head = "    <name>c</name>\n    <accept>tcp://10.0.0.1:5941</accept>\n"
                           "    <connect>udp://224.2.2.44:44444</connect>\n";
  const auto defaults = load(cluster(head));
  EXPECT_EQ(defaults->cluster->heartbeat_interval_ms, 200u);
  EXPECT_EQ(defaults->cluster->suspect_timeout_ms, 600u);
  EXPECT_EQ(defaults->cluster->failure_timeout_ms, 1500u);
  const auto set = load(cluster(head + "    <heartbeat-interval>1 second</heartbeat-interval>\n"
                                       "    <suspect-timeout>3 seconds</suspect-timeout>\n"
                                       "    <failure-timeout>10 seconds</failure-timeout>\n"));
  EXPECT_EQ(set->cluster->heartbeat_interval_ms, 1000u);
  EXPECT_EQ(set->cluster->suspect_timeout_ms, 3000u);
  EXPECT_EQ(set->cluster->failure_timeout_ms, 10000u);
  // Only the failure timeout, longer than the default suspicion: fine.
  EXPECT_EQ(load(cluster(head + "    <failure-timeout>5 seconds</failure-timeout>\n"))->cluster->failure_timeout_ms,
            5000u);
  EXPECT_EQ(error_of(cluster(head + "    <failure-timeout>500 ms</failure-timeout>\n")),
            "t.xml:7:22: error: <failure-timeout> (500 ms) in <cluster> must be longer than <suspect-timeout> "
            "(600 ms)");
  EXPECT_EQ(error_of(cluster(head + "    <heartbeat-interval>1 second</heartbeat-interval>\n")),
            "t.xml:7:25: error: <suspect-timeout> (600 ms) in <cluster> is shorter than <heartbeat-interval> "
            "(1000 ms): every member would be suspected between two heartbeats");
  EXPECT_EQ(error_of(cluster(head + "    <heartbeat-interval>5 ms</heartbeat-interval>\n")),
            "t.xml:7:25: error: <heartbeat-interval> in <cluster> must be between 10 ms and 1 hour");
  EXPECT_EQ(error_of(cluster(head + "    <suspect-timeout>soon</suspect-timeout>\n")),
            "t.xml:7:22: error: <suspect-timeout> in <cluster>: 'soon' is not a duration; expected a number and a "
            "unit: ms, s (seconds), min (minutes) or h (hours), as in '500 ms', '2 seconds', '1.5 min'; a bare "
            "number is seconds");
}

TEST(ConfigCluster, TheSeedSlipLoadsWithOneWarning) {
  const auto config =
      load(cluster("    <name>tcp://10.1.2.3:5941</name>\n    <accept>10.1.2.3</accept>\n"
                   "    <connect>udp://224.2.2.44:44444</connect>\n"));
  EXPECT_EQ(config->cluster->name, "tcp://10.1.2.3:5941");
  EXPECT_EQ(config->cluster->accepts, (std::vector<net::uri>{uri("tcp://10.1.2.3:5941")}));
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_EQ(config->warnings[0],
            "t.xml:4:5: warning: <cluster><name> holds 'tcp://10.1.2.3:5941' and <accept> a bare address '10.1.2.3': "
            "this is a known slip in KAAZING's Enterprise Shield HA walkthrough (the product reads "
            "<name>dmzCluster</name> and <accept>tcp://ip:port</accept>); postern takes the member address "
            "tcp://10.1.2.3:5941 from <name>");
}

TEST(ConfigCluster, Errors) {
  const std::string udp = "    <connect>udp://224.2.2.44:44444</connect>\n";
  const std::string accept = "    <accept>tcp://10.0.0.1:5941</accept>\n";
  EXPECT_EQ(error_of(cluster("    <name>dmzCluster</name>\n    <accept>10.0.0.1</accept>\n" + udp)),
            "t.xml:5:13: error: <accept> '10.0.0.1' in <cluster> is a bare address; expected tcp://ip:port, this "
            "member's cluster address");
  EXPECT_EQ(error_of(cluster("    <name>tcp://10.0.0.1:5941</name>\n    <accept>10.0.0.2</accept>\n" + udp)),
            "t.xml:5:13: error: <accept> '10.0.0.2' in <cluster> is a bare address; expected tcp://ip:port, this "
            "member's cluster address");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n    <accept>udp://224.2.2.44:44444</accept>\n" + udp)),
            "t.xml:5:13: error: <accept> 'udp://224.2.2.44:44444' in <cluster> must be tcp://ip:port, this member's "
            "cluster address (a udp:// multicast group belongs in <connect>)");
  EXPECT_EQ(
      error_of(cluster("    <name>c</name>\n" + accept + udp + "    <connect>udp://224.2.2.45:44444</connect>\n")),
      "t.xml:7:5: error: a second multicast <connect> in <cluster> (the first is at 6:5); a cluster joins one "
      "multicast group");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n" + accept + udp + "    <connect>tcp://10.0.0.2:5941</connect>\n")),
            "t.xml:7:5: error: <cluster> mixes udp:// and tcp:// <connect> URIs (6:5 and 7:5); use one multicast group "
            "or tcp:// seeds");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n" + accept + "    <connect>udp://10.0.0.9:44444</connect>\n")),
            "t.xml:6:14: error: <connect> 'udp://10.0.0.9:44444' in <cluster> is not a multicast group (224.0.0.0/4 "
            "or ff00::/8)");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n" + accept + "    <connect>aws://sg-1:5941/group</connect>\n")),
            "t.xml:6:14: error: <connect> 'aws://sg-1:5941/group' in <cluster> is a KAAZING feature postern does not "
            "implement (AWS security-group discovery; use udp:// multicast or tcp:// seeds)");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n" + accept + "    <connect>ws://a:80/</connect>\n")),
            "t.xml:6:14: error: <connect> 'ws://a:80/' in <cluster> must be udp://group:port (multicast) or "
            "tcp://host:port (a seed member)");
  EXPECT_EQ(error_of(cluster(accept + udp)), "t.xml:3:3: error: missing <name> in <cluster>");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n" + accept)), "t.xml:3:3: error: missing <connect> in <cluster>");
  EXPECT_EQ(error_of(cluster("    <name>c</name>\n" + accept + udp + "    <connect-options/>\n")),
            "t.xml:7:5: error: <connect-options> in <cluster> is a KAAZING feature postern does not implement (only "
            "KAAZING's AWS discovery used them; use udp:// multicast or tcp:// seeds)");
}

// --- reactor ---

TEST(ConfigReactor, ValuesAndDefaults) {
  const auto config = load(wrap(echo_service + "  <reactor><threads>2</threads><cpus>0-1</cpus><backend>auto</backend>"
                                               "<ring-entries>4096</ring-entries></reactor>\n"));
  EXPECT_EQ(config->reactor.threads, 2u);
  EXPECT_EQ(config->reactor.cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(config->reactor.backend, backend_choice::automatic);
  EXPECT_EQ(config->reactor.ring_entries, 4096u);
  const auto defaults = load(wrap(echo_service));
  EXPECT_EQ(defaults->reactor.threads, 0u);
  EXPECT_TRUE(defaults->reactor.cpus.empty());
  EXPECT_EQ(defaults->reactor.ring_entries, 4096u);
  auto reactor = [](const std::string& inside) {
    return load(wrap(echo_service + "  <reactor>" + inside + "</reactor>\n"))->reactor;
  };
  EXPECT_EQ(reactor("<backend>epoll</backend>").backend, backend_choice::epoll);
  EXPECT_EQ(reactor("<backend>io_uring</backend>").backend, backend_choice::io_uring);
  EXPECT_EQ(reactor("<ring-entries>64</ring-entries>").ring_entries, 64u);
  EXPECT_EQ(reactor("<ring-entries>32768</ring-entries>").ring_entries, 32768u);
  EXPECT_EQ(reactor("<threads>256</threads><cpus>0,2,5-6</cpus>").cpus, (std::vector<int>{0, 2, 5, 6}));
  EXPECT_EQ(defaults->reactor.connection_limit, 0u);
  EXPECT_EQ(reactor("<connection-limit>20000</connection-limit>").connection_limit, 20000u);
}

TEST(ConfigReactor, Errors) {
  auto with = [](const std::string& inside) {
    return error_of(wrap(echo_service + "  <reactor>" + inside + "</reactor>\n"));
  };
  EXPECT_EQ(with("<threads>257</threads>"), "t.xml:3:21: error: <threads>: '257' is not a whole number from 1 to 256");
  EXPECT_EQ(with("<cpus>0-1,1</cpus>"),
            "t.xml:3:18: error: <cpus>: '0-1,1' is not a CPU list (CPU 1 appears twice); expected CPU numbers from 0 "
            "to 1023 and ranges separated by commas, as in '0,2' or '0-3' or '0-1,4'");
  EXPECT_EQ(with("<backend>kqueue</backend>"), "t.xml:3:21: error: <backend> 'kqueue' must be auto, io_uring or epoll");
  for (const std::string entries : {"100", "32", "65536", "0", "many"}) {
    EXPECT_EQ(with("<ring-entries>" + entries + "</ring-entries>"),
              "t.xml:3:26: error: <ring-entries> '" + entries + "' must be a power of two from 64 to 32768");
  }
  EXPECT_EQ(with("<workers>2</workers>"),
            "t.xml:3:12: error: unknown element <workers> in <reactor>; expected one of: threads, cpus, backend, "
            "ring-entries, connection-limit");
  EXPECT_EQ(with("<connection-limit>0</connection-limit>"),
            "t.xml:3:30: error: <connection-limit>: '0' is not a whole number from 1 to 100000000");
}

}  // namespace
}  // namespace postern::config
