// config/loader: the document, its root and its services. Every error asserts the whole message,
// file:line:column included. (Options, defaults, security, cluster and reactor are in
// config_sections_test.cc; properties, values, the XML reader and the shared files have theirs.)
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace postern::config {
namespace {

using std::chrono::milliseconds;

const std::string ns = "http://xmlns.kaazing.org/2016/06/gateway";
const std::string head = "<gateway-config xmlns=\"" + ns + "\">\n";  // line 1
const std::string echo_service =
    "  <service><name>e</name><accept>ws://localhost:8000/</accept><type>echo</type></service>\n";

std::string wrap(const std::string& body) { return head + body + "</gateway-config>\n"; }

// A service whose children stand one per line at column 5: the first on the line after
// <service>, which itself stands at column 3.
std::string service(std::initializer_list<std::string> children) {
  std::string out = "  <service>\n";
  for (const std::string& child : children) out += "    " + child + "\n";
  return out + "  </service>\n";
}

std::string error_of(const std::string& text) {
  try {
    load_config_text(text, "t.xml", {});
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

std::shared_ptr<const gateway_config> load(const std::string& text) { return load_config_text(text, "t.xml", {}); }

// --- the document ---

TEST(Config, ErrorCarriesItsLocation) {
  try {
    load_config_text(wrap("  <reactor><threads>0</threads></reactor>\n" + echo_service), "dir/g.xml", {});
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.where().file, "dir/g.xml");
    EXPECT_EQ(e.where().line, 2u);
    EXPECT_EQ(e.where().column, 21u);
    EXPECT_STREQ(e.what(), "dir/g.xml:2:21: error: <threads>: '0' is not a whole number from 1 to 256");
  }
}

TEST(Config, NoNamespaceLoads) {
  const auto config = load("<gateway-config>\n" + echo_service + "</gateway-config>");
  EXPECT_EQ(config->services.size(), 1u);
}

TEST(Config, OlderKaazingNamespacesAreRefused) {
  for (const std::string old : {"http://xmlns.kaazing.com/2012/09/gateway", "http://xmlns.kaazing.org/2014/09/gateway",
                                "http://xmlns.kaazing.org/2015/11/gateway"}) {
    EXPECT_EQ(error_of("<gateway-config xmlns=\"" + old + "\">\n" + echo_service + "</gateway-config>"),
              "t.xml:1:1: error: <gateway-config> is in the namespace " + old +
                  ", an older KAAZING schema; postern reads the 2016/06 schema: update the xmlns to " + ns +
                  " (and the file to that schema)");
  }
}

TEST(Config, RootIsChecked) {
  EXPECT_EQ(error_of("<gateway-config xmlns=\"urn:other\">\n" + echo_service + "</gateway-config>"),
            "t.xml:1:1: error: <gateway-config> is in the namespace urn:other; expected " + ns + " or no namespace");
  EXPECT_EQ(error_of("<?xml version=\"1.0\"?>\n<gateway xmlns=\"" + ns + "\"/>"),
            "t.xml:2:1: error: the root element is <gateway>; expected <gateway-config xmlns=\"" + ns + "\">");
  EXPECT_EQ(error_of("<gateway-config xmlns=\"" + ns + "\" version=\"5\">\n" + echo_service + "</gateway-config>"),
            "t.xml:1:66: error: unknown attribute 'version' on <gateway-config>; it takes only xmlns and xsi: "
            "attributes");
  EXPECT_EQ(error_of(wrap("")), "t.xml:1:1: error: missing <service> in <gateway-config>");
  EXPECT_EQ(error_of(wrap(echo_service + "  stray\n")),
            "t.xml:3:3: error: <gateway-config> holds elements, not text: unexpected text 'stray'");
  EXPECT_EQ(error_of(wrap(echo_service + "  <x:service xmlns:x=\"urn:x\"/>\n")),
            "t.xml:3:3: error: element <service> is in the namespace urn:x; the elements of this document are "
            "in the namespace " +
                ns);
  EXPECT_EQ(error_of(wrap(echo_service + "  <management/>\n")),
            "t.xml:3:3: error: unknown element <management> in <gateway-config>; expected one of: properties, "
            "service, service-defaults, security, cluster, reactor");
  EXPECT_EQ(error_of(wrap(echo_service + "  <reactor/>\n  <reactor/>\n")),
            "t.xml:4:3: error: duplicate <reactor> in <gateway-config> (the first is at 3:3); <gateway-config> "
            "takes one");
}

TEST(Config, XsiAttributesOnTheRootAreAllowed) {
  const auto config = load("<gateway-config xmlns=\"" + ns +
                           "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                           "xsi:schemaLocation=\"" +
                           ns + " gateway-config.xsd\">\n" + echo_service + "</gateway-config>");
  EXPECT_EQ(config->services.size(), 1u);
}

TEST(Config, LoadConfigReadsFilesAndNamesThemInMessages) {
  EXPECT_EQ(
      [] {
        try {
          load_config("/nonexistent/gateway-config.xml", {});
        } catch (const config_error& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      "/nonexistent/gateway-config.xml: error: cannot open the file: No such file or directory");
  try {
    load_config("/tmp", {});
    FAIL() << "a directory loaded";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/tmp: error: not a regular file");
  }
  EXPECT_EQ(error_of(std::string(max_config_file_bytes + 1, ' ')),
            "t.xml: error: the file is 4194305 bytes; the limit for gateway-config.xml is 4194304 bytes (4 MiB)");
}

// --- services ---

TEST(Config, ServiceNeedsNameTypeAndAccept) {
  EXPECT_EQ(error_of(wrap(service({"<accept>ws://localhost:8000/</accept>", "<type>echo</type>"}))),
            "t.xml:2:3: error: missing <name> in <service>");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>ws://localhost:8000/</accept>"}))),
            "t.xml:2:3: error: missing <type> in <service>");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<type>echo</type>"}))),
            "t.xml:2:3: error: missing <accept> in <service>");
  EXPECT_EQ(error_of(wrap(service(
                {"<name>s</name>", "<name>t</name>", "<accept>ws://localhost:8000/</accept>", "<type>echo</type>"}))),
            "t.xml:4:5: error: duplicate <name> in <service> (the first is at 3:5); <service> takes one");
  EXPECT_EQ(error_of(wrap(service({"<name> </name>", "<accept>ws://localhost:8000/</accept>", "<type>echo</type>"}))),
            "t.xml:3:5: error: <name> is empty");
}

TEST(Config, ServiceStructureIsChecked) {
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<colour>red</colour>"}))),
            "t.xml:4:5: error: unknown element <colour> in <service>; expected one of: name, description, accept, "
            "connect, balance, type, properties, accept-options, connect-options, cross-site-constraint");
  EXPECT_EQ(error_of(wrap("  <service id=\"1\"><name>s</name></service>\n")),
            "t.xml:2:12: error: unknown attribute 'id' on <service>; it takes no attributes");
  EXPECT_EQ(error_of(wrap(service({"junk", "<name>s</name>"}))),
            "t.xml:3:5: error: <service> holds elements, not text: unexpected text 'junk'");
  EXPECT_EQ(
      error_of(wrap(service({"<name>s<b/></name>", "<accept>ws://localhost:8000/</accept>", "<type>echo</type>"}))),
      "t.xml:3:12: error: <name> holds text, not elements: unexpected element <b>");
  EXPECT_EQ(
      error_of(wrap(service({"<name a='1'>s</name>", "<accept>ws://localhost:8000/</accept>", "<type>echo</type>"}))),
      "t.xml:3:11: error: unknown attribute 'a' on <name>; it takes no attributes");
}

TEST(Config, KaazingServiceElementsAreRefusedByName) {
  const struct {
    std::string element;
    std::string reason;
  } table[] = {
      {"realm-name", "postern does not authenticate clients; authenticate at the backend"},
      {"authorization-constraint", "postern does not authenticate clients; authorize at the backend"},
      {"mime-mapping", "only KAAZING's directory service uses it"},
      {"notify", "undocumented in KAAZING and without effect on the services postern runs"},
  };
  for (const auto& row : table) {
    EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<" + row.element + "/>"}))),
              "t.xml:4:5: error: <" + row.element + "> in <service> is a KAAZING feature postern does not implement (" +
                  row.reason + ")");
  }
}

TEST(Config, KaazingServiceTypesAreRefusedByName) {
  EXPECT_EQ(
      error_of(wrap(service({"<name>s</name>", "<accept>ws://localhost:8000/</accept>", "<type>directory</type>"}))),
      "t.xml:5:11: error: <type> 'directory' is a KAAZING feature postern does not implement (it serves "
      "static files; put a web server beside postern)");
  for (const std::string type :
       {"http.proxy", "http.redirect", "broadcast", "amqp.proxy", "management.jmx", "management.snmp", "session",
        "kerberos5.proxy", "update.check", "turn.rest", "jms", "jms.proxy", "redis", "class:com.example.MyService"}) {
    const std::string message = error_of(
        wrap(service({"<name>s</name>", "<accept>ws://localhost:8000/</accept>", "<type>" + type + "</type>"})));
    const std::string prefix =
        "t.xml:5:11: error: <type> '" + type + "' is a KAAZING feature postern does not implement (";
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
    EXPECT_GT(message.size(), prefix.size() + 10) << "no reason given: " << message;
    EXPECT_EQ(message.back(), ')') << message;
  }
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>ws://localhost:8000/</accept>", "<type>chat</type>"}))),
            "t.xml:5:11: error: unknown service type 'chat'; expected one of: echo, proxy, balancer, management");
}

TEST(Config, EachTypeTakesWhatItNeeds) {
  const std::string accept = "<accept>ws://localhost:8000/</accept>";
  EXPECT_EQ(error_of(wrap(
                service({"<name>s</name>", accept, "<connect>tcp://localhost:9000</connect>", "<type>echo</type>"}))),
            "t.xml:5:5: error: an echo service takes no <connect>: it answers its clients itself");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", accept, "<type>echo</type>", "<connect-options/>"}))),
            "t.xml:6:5: error: an echo service takes no <connect-options>: it has no <connect>");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", accept, "<type>proxy</type>"}))),
            "t.xml:2:3: error: missing <connect> in <service>: a proxy service needs at least one");
  EXPECT_EQ(error_of(wrap(service(
                {"<name>s</name>", accept, "<connect>tcp://localhost:9000</connect>", "<type>balancer</type>"}))),
            "t.xml:5:5: error: a balancer service takes no <connect>: it sends each client to a service that names "
            "its accept URI in <balance>");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", accept, "<type>balancer</type>", "<connect-options/>"}))),
            "t.xml:6:5: error: a balancer service takes no <connect-options>: it has no <connect>");
  EXPECT_EQ(error_of(wrap(service(
                {"<name>s</name>", accept, "<balance>ws://localhost:8000/b</balance>", "<type>balancer</type>"}))),
            "t.xml:5:5: error: a balancer service takes no <balance>: a balancer's accept URI is what the balanced "
            "services name in their <balance>");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>http://localhost:8080/</accept>",
                                   "<connect>tcp://localhost:9000</connect>", "<type>management</type>"}))),
            "t.xml:5:5: error: a management service takes no <connect>: it answers its clients itself");

  const auto config = load(
      wrap(service({"<name>p</name>", "<accept>tcp://localhost:7000</accept>", "<accept>ssl://localhost:7001</accept>",
                    "<connect>tcp://localhost:9000</connect>", "<connect>ws://backend:80/x</connect>",
                    "<balance>ws://public:80/p</balance>", "<type>proxy</type>"}) +
           service({"<name>m</name>", "<description> Metrics. </description>",
                    "<accept>http://localhost:8080/</accept>", "<type>management</type>"}) +
           "  <security><keystore><file>k.pem</file></keystore></security>\n"));
  ASSERT_EQ(config->services.size(), 2u);
  const service_config& proxy = config->services[0];
  EXPECT_EQ(proxy.type, service_type::proxy);
  EXPECT_EQ(proxy.accepts.size(), 2u);
  EXPECT_EQ(proxy.connects.size(), 2u);
  EXPECT_EQ(proxy.connects[1].scheme, net::uri_scheme::ws);
  EXPECT_EQ(proxy.balances.at(0).host, "public");
  EXPECT_EQ(proxy.location.line, 2u);
  EXPECT_EQ(proxy.location.column, 3u);
  EXPECT_EQ(config->services[1].type, service_type::management);
  EXPECT_EQ(config->services[1].description, "Metrics.");
  EXPECT_EQ(to_string(service_type::management), "management");
}

TEST(Config, SchemesPerType) {
  auto with = [](const std::string& type, const std::string& accept, const std::string& extra = "") {
    return error_of(
        wrap(service({"<name>s</name>", "<accept>" + accept + "</accept>", extra, "<type>" + type + "</type>"})));
  };
  EXPECT_EQ(with("echo", "http://localhost:8080/"),
            "t.xml:4:13: error: <accept> 'http://localhost:8080/': an echo service accepts only ws://, wss://, "
            "tcp:// and ssl:// URIs");
  EXPECT_EQ(
      with("balancer", "tcp://localhost:8080"),
      "t.xml:4:13: error: <accept> 'tcp://localhost:8080': a balancer service accepts only ws:// and wss:// URIs");
  EXPECT_EQ(with("management", "tcp://localhost:8080"),
            "t.xml:4:13: error: <accept> 'tcp://localhost:8080': a management service accepts only http://, "
            "https://, ws:// and wss:// URIs");
  EXPECT_EQ(with("proxy", "tcp://localhost:8080", "<connect>udp://localhost:9000</connect>"),
            "t.xml:5:14: error: <connect> 'udp://localhost:9000': a proxy service connects only to tcp://, ssl://, "
            "ws:// and wss:// URIs");
  EXPECT_EQ(with("proxy", "tcp://localhost:8080", "<connect>http://localhost:9000/</connect>"),
            "t.xml:5:14: error: <connect> 'http://localhost:9000/': a proxy service connects only to tcp://, "
            "ssl://, ws:// and wss:// URIs");
  EXPECT_EQ(with("echo", "pipe://named"),
            "t.xml:4:13: error: <accept> 'pipe://named' is a KAAZING feature postern does not implement (in-process "
            "named pipes)");
  EXPECT_EQ(with("echo", "wsn+ssl://localhost:8000/x"),
            "t.xml:4:13: error: <accept> 'wsn+ssl://localhost:8000/x' is a KAAZING feature postern does not "
            "implement (use ws:// (RFC 6455))");
  EXPECT_EQ(with("echo", "sse://localhost:8000/x"),
            "t.xml:4:13: error: <accept> 'sse://localhost:8000/x' is a KAAZING feature postern does not implement "
            "(Server-Sent Events)");
  const std::string invalid = with("echo", "tcp://localhost");
  const std::string prefix = "t.xml:4:13: error: invalid <accept>: ";
  EXPECT_EQ(invalid.substr(0, prefix.size()), prefix) << invalid;
  EXPECT_NE(invalid.find("tcp://localhost"), std::string::npos) << invalid;
  EXPECT_EQ(with("echo", "ws://localhost:8000/", "<balance>tcp://localhost:1</balance>"),
            "t.xml:5:14: error: <balance> 'tcp://localhost:1' must be a ws:// or wss:// URI: the accept URI of a "
            "balancer service");
}

TEST(Config, SecureTransportsNeedCertificates) {
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>wss://localhost:8443/</accept>", "<type>echo</type>"}))),
            "t.xml:4:13: error: <accept> 'wss://localhost:8443/' is secure and needs a certificate: add "
            "<security><keystore> with <type>PEM</type> and the <file> that holds the certificate chain and key");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>tcp://localhost:7000</accept>",
                                   "<accept>ssl://localhost:7001</accept>", "<type>echo</type>"}))),
            "t.xml:5:13: error: <accept> 'ssl://localhost:7001' is secure and needs a certificate: add "
            "<security><keystore> with <type>PEM</type> and the <file> that holds the certificate chain and key");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>ws://a.example:80/</accept>",
                                   "<connect>tcp://localhost:9000</connect>", "<type>proxy</type>", "<accept-options>",
                                   "  <socks.mode>reverse</socks.mode>",
                                   "  <http.transport>socks+ssl://dmz:1443</http.transport>", "</accept-options>"}))),
            "t.xml:9:7: error: <http.transport> 'socks+ssl://dmz:1443' runs TLS and needs a certificate: add "
            "<security><keystore> with <type>PEM</type> and the <file> that holds the certificate chain and key");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>ws://a.example:80/</accept>",
                                   "<connect>ws://a.example:80/</connect>", "<type>proxy</type>",
                                   "<connect-options><tls.verify-client>optional</tls.verify-client>"
                                   "</connect-options>"}) +
                          "  <security><keystore><file>k.pem</file></keystore></security>\n")),
            "t.xml:7:22: error: <tls.verify-client> optional needs <security><truststore>: the PEM file of the CA "
            "certificates that sign client certificates");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>tcp://localhost:7000</accept>",
                                   "<connect>tcp://b:9000</connect>", "<type>proxy</type>",
                                   "<connect-options><tcp.transport>socks://dmz:1080</tcp.transport>"
                                   "<socks.ssl.verify-client>required</socks.ssl.verify-client></connect-options>"}))),
            "t.xml:7:69: error: <socks.ssl.verify-client> required needs <security><truststore>: the PEM file of "
            "the CA certificates that sign client certificates");
  // none asks for nothing; a wss connect is a TLS client and needs no keystore either.
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>ws://a:80/</accept>", "<connect>wss://b:443/</connect>",
                                   "<type>proxy</type>",
                                   "<connect-options><ssl.verify-client>none</ssl.verify-client></connect-options>"}))),
            "");
}

TEST(Config, NamesAndAcceptsAreUniqueAcrossServices) {
  EXPECT_EQ(
      error_of(wrap(echo_service +
                    "  <service><name>e</name><accept>ws://localhost:8001/</accept><type>echo</type></service>\n")),
      "t.xml:3:18: error: duplicate service name 'e' (the first is at 2:18); service names must be unique");
  EXPECT_EQ(
      error_of(wrap(echo_service +
                    "  <service><name>f</name><accept>WS://LOCALHOST:8000</accept><type>echo</type></service>\n")),
      "t.xml:3:34: error: <accept> 'WS://LOCALHOST:8000' is also an accept of service 'e' (at 2:34); an accept "
      "URI belongs to one service");
  EXPECT_EQ(error_of(wrap(service({"<name>s</name>", "<accept>tcp://localhost:7000</accept>",
                                   "<accept>tcp://localhost:7000</accept>", "<type>echo</type>"}))),
            "t.xml:5:13: error: duplicate <accept> 'tcp://localhost:7000' in this service (the first is at 4:13)");
  // A balancer's accept is what other services name in <balance>: that is no conflict.
  const auto config =
      load(wrap(service({"<name>b</name>", "<accept>ws://public:8000/app</accept>", "<type>balancer</type>"}) +
                service({"<name>a</name>", "<accept>ws://member1:8000/app</accept>",
                         "<balance>ws://public:8000/app</balance>", "<type>echo</type>"})));
  EXPECT_EQ(config->services[1].balances.at(0), config->services[0].accepts.at(0));
}

TEST(Config, ServiceProperties) {
  const auto config =
      load(wrap(service({"<name>p</name>", "<accept>tcp://localhost:7000</accept>", "<connect>tcp://b:9000</connect>",
                         "<type>proxy</type>",
                         "<properties><maximum.pending.bytes>64k</maximum.pending.bytes>"
                         "<maximum.recovery.interval>5</maximum.recovery.interval>"
                         "<prepared.connection.count> 0 </prepared.connection.count>"
                         "<send.timeout>30 seconds</send.timeout></properties>"}) +
                service({"<name>b</name>", "<accept>ws://localhost:8000/</accept>", "<type>balancer</type>",
                         "<properties><balancer.mode>redirect</balancer.mode>"
                         "<balancer.local.preference>1.5</balancer.local.preference></properties>"})));
  const service_config& proxy = config->services[0];
  EXPECT_EQ(proxy.maximum_pending_bytes, 65536u);
  EXPECT_EQ(proxy.maximum_recovery_interval, milliseconds(5000));
  EXPECT_EQ(proxy.prepared_connection_count, 0u);
  EXPECT_EQ(proxy.send_timeout, milliseconds(30000));
  EXPECT_EQ(proxy.properties, (std::map<std::string, std::string>{{"maximum.pending.bytes", "64k"},
                                                                  {"maximum.recovery.interval", "5"},
                                                                  {"prepared.connection.count", "0"},
                                                                  {"send.timeout", "30 seconds"}}));
  EXPECT_FALSE(config->services[1].send_timeout.has_value());
  EXPECT_EQ(config->services[1].balancer_mode, "redirect");
  EXPECT_EQ(config->services[1].balancer_local_preference, 1.5);
  EXPECT_FALSE(proxy.balancer_mode.has_value());
  EXPECT_FALSE(proxy.balancer_local_preference.has_value());
}

TEST(Config, ServicePropertyErrors) {
  auto proxy_with = [](const std::string& properties) {
    return error_of(
        wrap(service({"<name>p</name>", "<accept>tcp://localhost:7000</accept>", "<connect>tcp://b:9000</connect>",
                      "<type>proxy</type>", "<properties>" + properties + "</properties>"})));
  };
  EXPECT_EQ(proxy_with("<connect.strategy>deferred</connect.strategy>"),
            "t.xml:7:17: error: <connect.strategy> in the <properties> of a service is a KAAZING feature postern does "
            "not implement (postern connects when a client arrives and keeps prepared.connection.count links ready)");
  EXPECT_EQ(proxy_with("<colour>red</colour>"),
            "t.xml:7:17: error: unknown property <colour> in the <properties> of a service; expected one of: "
            "maximum.pending.bytes, maximum.recovery.interval, prepared.connection.count, balancer.mode, "
            "balancer.local.preference, send.timeout");
  EXPECT_EQ(proxy_with("<prepared.connection.count>-1</prepared.connection.count>"),
            "t.xml:7:44: error: <prepared.connection.count>: '-1' is not a whole number from 0 to 4096");
  EXPECT_EQ(proxy_with("<maximum.pending.bytes>lots</maximum.pending.bytes>"),
            "t.xml:7:40: error: <maximum.pending.bytes>: 'lots' is not a size; expected a whole number of bytes, "
            "optionally with k, m or g (binary multiples: 128k is 131072 bytes)");
  EXPECT_EQ(proxy_with("<maximum.recovery.interval>-1</maximum.recovery.interval>"),
            "t.xml:7:44: error: <maximum.recovery.interval>: '-1' is not a duration (it is negative); expected a "
            "number and a unit: ms, s (seconds), min (minutes) or h (hours), as in '500 ms', '2 seconds', '1.5 min'; "
            "a bare number is seconds");
  EXPECT_EQ(proxy_with("<send.timeout>soon</send.timeout>"),
            "t.xml:7:31: error: <send.timeout>: 'soon' is not a duration; expected a number and a unit: ms, s "
            "(seconds), min (minutes) or h (hours), as in '500 ms', '2 seconds', '1.5 min'; a bare number is seconds");
  EXPECT_EQ(proxy_with("<balancer.mode>redirect</balancer.mode>"),
            "t.xml:7:17: error: <balancer.mode> applies to balancer services only, not to a proxy service");
  EXPECT_EQ(proxy_with("<prepared.connection.count>1</prepared.connection.count>"
                       "<prepared.connection.count>2</prepared.connection.count>"),
            "t.xml:7:73: error: duplicate <prepared.connection.count> in the <properties> of a service (the first "
            "is at 7:17)");
  EXPECT_EQ(error_of(wrap(service({"<name>b</name>", "<accept>ws://localhost:8000/</accept>", "<type>balancer</type>",
                                   "<properties><balancer.mode>sideways</balancer.mode></properties>"}))),
            "t.xml:6:32: error: <balancer.mode> 'sideways' must be proxy or redirect");
  for (const char* bad : {"-1", "101", "lots", "1.5x", "nan", ""}) {
    const std::string text = bad;
    EXPECT_EQ(error_of(wrap(service({"<name>b</name>", "<accept>ws://localhost:8000/</accept>", "<type>balancer</type>",
                                     "<properties><balancer.local.preference>" + text +
                                         "</balancer.local.preference></properties>"}))),
              text.empty() ? "t.xml:6:17: error: <balancer.local.preference> is empty"
                           : "t.xml:6:44: error: <balancer.local.preference> '" + text +
                                 "' must be a number from 0 to 100: how many times the average load of the ready "
                                 "members the local member may carry and still take its own clients (0: never "
                                 "preferred)")
        << bad;
  }
  EXPECT_EQ(proxy_with("<balancer.local.preference>2</balancer.local.preference>"),
            "t.xml:7:17: error: <balancer.local.preference> applies to balancer services only, not to a proxy "
            "service");
  EXPECT_EQ(error_of(wrap(service({"<name>e</name>", "<accept>ws://localhost:8000/</accept>", "<type>echo</type>",
                                   "<properties><prepared.connection.count>1</prepared.connection.count>"
                                   "</properties>"}))),
            "t.xml:6:17: error: <prepared.connection.count> applies to proxy services only, not to an echo service");
}

// --- cross-site constraints ---

TEST(Config, CrossSiteConstraints) {
  const auto config = load(
      wrap(service({"<name>s</name>", "<accept>ws://localhost:8000/</accept>", "<type>echo</type>",
                    "<cross-site-constraint><allow-origin>http://Example.com</allow-origin></cross-site-constraint>",
                    "<cross-site-constraint><allow-origin>https://app.example:8443</allow-origin>"
                    "<allow-methods>GET, PUT</allow-methods><allow-headers>X-Custom,Authorization</allow-headers>"
                    "<maximum-age>1 hour</maximum-age></cross-site-constraint>"})));
  const auto& constraints = config->services.at(0).cross_site;
  ASSERT_EQ(constraints.size(), 2u);
  EXPECT_EQ(constraints[0].allow_origin, "http://example.com:80");
  EXPECT_EQ(constraints[0].allow_methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_TRUE(constraints[0].allow_headers.empty());
  EXPECT_FALSE(constraints[0].maximum_age.has_value());
  EXPECT_EQ(constraints[1].allow_origin, "https://app.example:8443");
  EXPECT_EQ(constraints[1].allow_methods, (std::vector<std::string>{"GET", "PUT"}));
  EXPECT_EQ(constraints[1].allow_headers, (std::vector<std::string>{"X-Custom", "Authorization"}));
  EXPECT_EQ(constraints[1].maximum_age, milliseconds(3'600'000));
}

TEST(Config, CrossSiteConstraintErrors) {
  auto with = [](std::initializer_list<std::string> constraints, const std::string& accept = "ws://localhost:8000/") {
    std::vector<std::string> children = {"<name>s</name>", "<accept>" + accept + "</accept>", "<type>echo</type>"};
    children.insert(children.end(), constraints);
    std::string body = "  <service>\n";
    for (const auto& child : children) body += "    " + child + "\n";
    return error_of(wrap(body + "  </service>\n"));
  };
  const std::string open = "<cross-site-constraint><allow-origin>";
  const std::string close = "</allow-origin></cross-site-constraint>";
  EXPECT_EQ(with({"<cross-site-constraint><allow-methods>GET</allow-methods></cross-site-constraint>"}),
            "t.xml:6:5: error: missing <allow-origin> in <cross-site-constraint>");
  const std::string shape = " must be * or http(s)://host[:port], with no path, query or fragment";
  EXPECT_EQ(with({open + "http://a.example/" + close}),
            "t.xml:6:42: error: <allow-origin> 'http://a.example/'" + shape);
  EXPECT_EQ(with({open + "ftp://a.example" + close}), "t.xml:6:42: error: <allow-origin> 'ftp://a.example'" + shape);
  EXPECT_EQ(with({open + "a.example" + close}), "t.xml:6:42: error: <allow-origin> 'a.example'" + shape);
  EXPECT_EQ(with({open + "http://a.example" + close, open + "http://A.example:80" + close}),
            "t.xml:7:42: error: duplicate <allow-origin> 'http://a.example:80' in this service (the first is at 6:42)");
  EXPECT_EQ(with({open + "http://a.example" + close, open + "*" + close}),
            "t.xml:7:42: error: <allow-origin> '*' must be the only cross-site constraint of a service (the other one "
            "is at 6:42)");
  EXPECT_EQ(with({open + "*" + close, open + "http://a.example" + close}),
            "t.xml:7:42: error: <allow-origin> '*' must be the only cross-site constraint of a service (the other one "
            "is at 6:42)");
  EXPECT_EQ(with({open + "*</allow-origin><allow-methods>GE T</allow-methods></cross-site-constraint>"}),
            "t.xml:6:73: error: <allow-methods> 'GE T' must be HTTP tokens separated by commas, as in 'GET, POST'");
  EXPECT_EQ(with({open + "*</allow-origin><allow-headers>a,,b</allow-headers></cross-site-constraint>"}),
            "t.xml:6:73: error: <allow-headers> 'a,,b' must be HTTP tokens separated by commas, as in 'GET, POST'");
  EXPECT_EQ(with({open + "*</allow-origin><maximum-age>forever</maximum-age></cross-site-constraint>"}),
            "t.xml:6:71: error: <maximum-age>: 'forever' is not a duration; expected a number and a unit: ms, s "
            "(seconds), min (minutes) or h (hours), as in '500 ms', '2 seconds', '1.5 min'; a bare number is seconds");
  EXPECT_EQ(with({open + "*" + close}, "tcp://localhost:7000"),
            "t.xml:6:5: error: <cross-site-constraint> applies to ws://, wss://, http:// and https:// accepts; this "
            "service has none");
}

}  // namespace
}  // namespace postern::config
