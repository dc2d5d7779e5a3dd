#include "config/sections.h"

#include <arpa/inet.h>

#include <algorithm>

#include "config/diagnostic.h"
#include "config/schema.h"
#include "config/unsupported.h"
#include "config/values.h"

namespace postern::config {

namespace {

std::string at_text(xml_position at) { return std::to_string(at.line) + ":" + std::to_string(at.column); }

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; });
  return out;
}

// --- security ---

constexpr child_rule security_rules[] = {{"keystore", 0, 1}, {"truststore", 0, 1}};
constexpr child_rule store_rules[] = {{"type", 0, 1}, {"file", 1, 1}};

std::string read_store(const xml_document& doc, const xml_element& store) {
  check_element(doc, store, store_rules);
  if (const xml_element* type = child_named(store, "type")) {
    const std::string_view text = required_text(doc, *type);
    const std::string word = upper(text);
    const bool keystore = store.name == "keystore";
    if (word == "JKS" || word == "JCEKS" || word == "PKCS12" || word == "P12") {
      fail(doc, type->text.start,
           "<type> " + quoted(text) + " in " + tag(store.name) + ": postern reads PEM only; convert it to PEM (" +
               (keystore ? "certificate chain and key in one file" : "the CA certificates in one file") + ")");
    }
    if (word != "PEM")
      fail(doc, type->text.start, "<type> " + quoted(text) + " in " + tag(store.name) + " must be PEM");
  }
  return std::string(required_text(doc, *child_named(store, "file")));
}

// --- cluster ---

constexpr child_rule cluster_rules[] = {
    {"name", 1, 1},      {"accept", 1, unbounded},       {"connect", 1, unbounded},
    {"key-file", 0, 1},  {"heartbeat-interval", 0, 1},   {"suspect-timeout", 0, 1},
    {"failure-timeout", 0, 1}};

bool is_ip_literal(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  const std::string copy(text);
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, copy.c_str(), buffer) == 1 || inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

// A bare address as net::uri keeps its host: lower-case, IPv6 without brackets.
std::string bare_host(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

bool is_multicast(const net::uri& uri) {
  unsigned char address[sizeof(in6_addr)] = {};
  if (inet_pton(AF_INET, uri.host.c_str(), address) == 1) return address[0] >= 224 && address[0] <= 239;
  if (inet_pton(AF_INET6, uri.host.c_str(), address) == 1) return address[0] == 0xff;
  return false;
}

std::expected<net::uri, std::string> parse_cluster_uri(std::string_view text, std::string_view element) {
  const std::size_t separator = text.find("://");
  if (separator != std::string_view::npos) {
    if (auto reason = unsupported_scheme(text.substr(0, separator))) {
      return std::unexpected(not_implemented(tag(element) + " " + quoted(text) + " in <cluster>", *reason));
    }
  }
  auto parsed = net::parse_uri(text);
  if (!parsed) return std::unexpected("invalid " + tag(element) + " in <cluster>: " + parsed.error());
  return parsed;
}

void read_cluster_connects(const xml_document& doc, const xml_element& element, cluster_config& out) {
  const xml_element* first_udp = nullptr;
  const xml_element* first_tcp = nullptr;
  for (const xml_element* connect : children_named(element, "connect")) {
    const std::string_view text = required_text(doc, *connect);
    auto uri = parse_cluster_uri(text, "connect");
    if (!uri) fail(doc, connect->text.start, uri.error());
    if (uri->scheme == net::uri_scheme::udp) {
      if (first_udp != nullptr) {
        fail(doc, connect->position,
             "a second multicast <connect> in <cluster> (the first is at " + at_text(first_udp->position) +
                 "); a cluster joins one multicast group");
      }
      if (!is_multicast(*uri)) {
        fail(doc, connect->text.start,
             "<connect> " + quoted(text) + " in <cluster> is not a multicast group (224.0.0.0/4 or ff00::/8)");
      }
      first_udp = connect;
    } else if (uri->scheme == net::uri_scheme::tcp) {
      if (first_tcp == nullptr) first_tcp = connect;
    } else {
      fail(doc, connect->text.start,
           "<connect> " + quoted(text) +
               " in <cluster> must be udp://group:port (multicast) or tcp://host:port "
               "(a seed member)");
    }
    if (first_udp != nullptr && first_tcp != nullptr) {
      fail(doc, connect->position,
           "<cluster> mixes udp:// and tcp:// <connect> URIs (" + at_text(first_udp->position) + " and " +
               at_text(first_tcp->position) + "); use one multicast group or tcp:// seeds");
    }
    out.connects.push_back(std::move(*uri));
  }
}

// --- reactor ---

constexpr child_rule reactor_rules[] = {{"threads", 0, 1},      {"cpus", 0, 1}, {"backend", 0, 1},
                                        {"ring-entries", 0, 1}, {"connection-limit", 0, 1}};
constexpr std::uint64_t max_connection_limit = 100'000'000;
constexpr unsigned max_reactor_threads = 256;
constexpr unsigned min_ring_entries = 64;
constexpr unsigned max_ring_entries = 32768;

// --- service-defaults ---

constexpr child_rule defaults_rules[] = {{"accept-options", 0, 1}, {"connect-options", 0, 1}};

}  // namespace

security_config parse_security(const xml_document& doc, const xml_element& element) {
  check_element(doc, element, security_rules);
  security_config out;
  if (const xml_element* keystore = child_named(element, "keystore")) out.keystore_file = read_store(doc, *keystore);
  if (const xml_element* truststore = child_named(element, "truststore")) {
    out.truststore_file = read_store(doc, *truststore);
  }
  return out;
}

// <heartbeat-interval>, <suspect-timeout>, <failure-timeout>: durations, each later than the one
// before, the heartbeat at least 10 ms (a busy loop of gossip otherwise) and the failure
// timeout at most 1 hour.
void read_cluster_timings(const xml_document& doc, const xml_element& element, cluster_config& out) {
  struct timing {
    const char* name;
    std::uint64_t* value;
    const xml_element* at = nullptr;
  };
  timing timings[] = {{"heartbeat-interval", &out.heartbeat_interval_ms},
                      {"suspect-timeout", &out.suspect_timeout_ms},
                      {"failure-timeout", &out.failure_timeout_ms}};
  for (timing& t : timings) {
    t.at = child_named(element, t.name);
    if (!t.at) continue;
    const auto value = parse_duration(required_text(doc, *t.at));
    if (!value) fail(doc, t.at->text.start, tag(t.name) + " in <cluster>: " + value.error());
    if (value->count() < 10 || value->count() > 3'600'000)
      fail(doc, t.at->text.start, tag(t.name) + " in <cluster> must be between 10 ms and 1 hour");
    *t.value = static_cast<std::uint64_t>(value->count());
  }
  // Where a broken order is reported: the later element if it was written, else the earlier.
  const auto at = [&](const timing& later, const timing& earlier) {
    return later.at ? later.at->text.start : earlier.at ? earlier.at->text.start : element.position;
  };
  if (out.suspect_timeout_ms < out.heartbeat_interval_ms)
    fail(doc, at(timings[1], timings[0]),
         "<suspect-timeout> (" + std::to_string(out.suspect_timeout_ms) + " ms) in <cluster> is shorter than "
             "<heartbeat-interval> (" + std::to_string(out.heartbeat_interval_ms) +
             " ms): every member would be suspected between two heartbeats");
  if (out.failure_timeout_ms <= out.suspect_timeout_ms)
    fail(doc, at(timings[2], timings[1]),
         "<failure-timeout> (" + std::to_string(out.failure_timeout_ms) + " ms) in <cluster> must be longer than "
             "<suspect-timeout> (" + std::to_string(out.suspect_timeout_ms) + " ms)");
}

cluster_config parse_cluster(const xml_document& doc, const xml_element& element, std::vector<std::string>& warnings) {
  check_element(doc, element, cluster_rules);
  cluster_config out;
  out.location = locate(doc.file, element.position);
  const xml_element& name_element = *child_named(element, "name");
  out.name = required_text(doc, name_element);
  if (const xml_element* key_file = child_named(element, "key-file")) out.key_file = required_text(doc, *key_file);

  const std::vector<const xml_element*> accepts = children_named(element, "accept");
  for (const xml_element* accept : accepts) {
    const std::string_view text = required_text(doc, *accept);
    if (is_ip_literal(text)) {
      // KAAZING's seed slip: <name>tcp://ip:port</name> and the same ip bare in <accept>.
      const auto name_uri = net::parse_uri(out.name);
      const bool slip = accepts.size() == 1 && name_uri && name_uri->scheme == net::uri_scheme::tcp &&
                        is_ip_literal(name_uri->host) && bare_host(text) == name_uri->host;
      if (!slip) {
        fail(doc, accept->text.start,
             "<accept> " + quoted(text) +
                 " in <cluster> is a bare address; expected tcp://ip:port, this member's "
                 "cluster address");
      }
      warnings.push_back(warning_text(
          doc, name_element.position,
          "<cluster><name> holds '" + out.name + "' and <accept> a bare address '" + std::string(text) +
              "': this is a known slip in KAAZING's Enterprise Shield HA walkthrough (the product reads "
              "<name>dmzCluster</name> and <accept>tcp://ip:port</accept>); postern takes the member address " +
              out.name + " from <name>"));
      out.accepts.push_back(*name_uri);
      continue;
    }
    auto uri = parse_cluster_uri(text, "accept");
    if (!uri) fail(doc, accept->text.start, uri.error());
    if (uri->scheme != net::uri_scheme::tcp) {
      fail(doc, accept->text.start,
           "<accept> " + quoted(text) + " in <cluster> must be tcp://ip:port, this member's cluster address" +
               (uri->scheme == net::uri_scheme::udp ? " (a udp:// multicast group belongs in <connect>)" : ""));
    }
    out.accepts.push_back(std::move(*uri));
  }
  read_cluster_connects(doc, element, out);
  read_cluster_timings(doc, element, out);
  return out;
}

reactor_config parse_reactor(const xml_document& doc, const xml_element& element) {
  check_element(doc, element, reactor_rules);
  reactor_config out;
  if (const xml_element* threads = child_named(element, "threads")) {
    const auto value = parse_unsigned(required_text(doc, *threads), 1, max_reactor_threads);
    if (!value) fail(doc, threads->text.start, "<threads>: " + value.error());
    out.threads = static_cast<unsigned>(*value);
  }
  if (const xml_element* cpus = child_named(element, "cpus")) {
    auto value = parse_cpu_list(required_text(doc, *cpus));
    if (!value) fail(doc, cpus->text.start, "<cpus>: " + value.error());
    out.cpus = std::move(*value);
  }
  if (const xml_element* backend = child_named(element, "backend")) {
    const std::string_view text = required_text(doc, *backend);
    if (text == "auto")
      out.backend = backend_choice::automatic;
    else if (text == "io_uring")
      out.backend = backend_choice::io_uring;
    else if (text == "epoll")
      out.backend = backend_choice::epoll;
    else
      fail(doc, backend->text.start, "<backend> " + quoted(text) + " must be auto, io_uring or epoll");
  }
  if (const xml_element* ring = child_named(element, "ring-entries")) {
    const std::string_view text = required_text(doc, *ring);
    const auto value = parse_unsigned(text, min_ring_entries, max_ring_entries);
    if (!value || (*value & (*value - 1)) != 0) {
      fail(doc, ring->text.start,
           "<ring-entries> " + quoted(text) + " must be a power of two from " + std::to_string(min_ring_entries) +
               " to " + std::to_string(max_ring_entries));
    }
    out.ring_entries = static_cast<unsigned>(*value);
  }
  if (const xml_element* limit = child_named(element, "connection-limit")) {
    const auto value = parse_unsigned(required_text(doc, *limit), 1, max_connection_limit);
    if (!value) fail(doc, limit->text.start, "<connection-limit>: " + value.error());
    out.connection_limit = *value;
  }
  return out;
}

service_defaults parse_service_defaults(const xml_document& doc, const xml_element& element) {
  check_element(doc, element, defaults_rules);
  service_defaults out;
  if (const xml_element* options = child_named(element, "accept-options")) {
    out.accept_options = parse_options(doc, *options);
  }
  if (const xml_element* options = child_named(element, "connect-options")) {
    out.connect_options = parse_options(doc, *options);
  }
  return out;
}

}  // namespace postern::config
