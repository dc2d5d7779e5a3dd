#include "config/service.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>

#include "config/cross_site.h"
#include "config/diagnostic.h"
#include "config/schema.h"
#include "config/unsupported.h"
#include "config/values.h"

namespace postern::config {

namespace {

using net::uri_scheme;

constexpr child_rule service_rules[] = {
    {"name", 1, 1},
    {"description", 0, 1},
    {"accept", 1, unbounded},
    {"connect", 0, unbounded},
    {"balance", 0, unbounded},
    {"type", 1, 1},
    {"properties", 0, 1},
    {"accept-options", 0, 1},
    {"connect-options", 0, 1},
    {"cross-site-constraint", 0, unbounded},
};

constexpr std::string_view known_properties[] = {"maximum.pending.bytes", "maximum.recovery.interval",
                                                 "prepared.connection.count", "balancer.mode", "send.timeout",
                                                 "balancer.local.preference"};

std::string_view article(service_type type) { return type == service_type::echo ? "an" : "a"; }

std::string service_words(service_type type) {
  return std::string(article(type)) + " " + std::string(to_string(type)) + " service";
}

std::string scheme_list(std::initializer_list<uri_scheme> schemes) {
  std::string out;
  std::size_t i = 0;
  for (uri_scheme s : schemes) {
    if (i > 0) out += (i + 1 == schemes.size()) ? " and " : ", ";
    out += to_string(s);
    out += "://";
    ++i;
  }
  return out;
}

net::uri read_uri(const xml_document& doc, const xml_element& element) {
  const std::string_view text = required_text(doc, element);
  const std::size_t separator = text.find("://");
  if (separator != std::string_view::npos) {
    std::string scheme(text.substr(0, separator));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    if (auto reason = unsupported_scheme(scheme)) {
      fail(doc, element.text.start, not_implemented(tag(element.name) + " " + quoted(text), *reason));
    }
  }
  auto parsed = net::parse_uri(text);
  if (!parsed) fail(doc, element.text.start, "invalid " + tag(element.name) + ": " + parsed.error());
  return std::move(*parsed);
}

// Refuses a URI whose scheme is not among allowed.
void check_scheme(const xml_document& doc, const xml_element& element, const net::uri& uri, service_type type,
                  std::initializer_list<uri_scheme> allowed) {
  if (std::find(allowed.begin(), allowed.end(), uri.scheme) != allowed.end()) return;
  const std::string verb = element.name == "accept" ? " accepts only " : " connects only to ";
  fail(doc, element.text.start,
       tag(element.name) + " " + quoted(element.text.trimmed()) + ": " + service_words(type) + verb +
           scheme_list(allowed) + " URIs");
}

service_type read_type(const xml_document& doc, const xml_element& element) {
  const std::string_view text = required_text(doc, element);
  if (text == "echo") return service_type::echo;
  if (text == "proxy") return service_type::proxy;
  if (text == "balancer") return service_type::balancer;
  if (text == "management") return service_type::management;
  if (auto reason = unsupported_service_type(text)) {
    fail(doc, element.text.start, not_implemented("<type> " + quoted(text), *reason));
  }
  fail(doc, element.text.start,
       "unknown service type " + quoted(text) + "; expected one of: echo, proxy, balancer, management");
}

// Refuses element (a child the type does not take) with the reason.
void refuse_for_type(const xml_document& doc, const xml_element* element, service_type type, std::string_view reason) {
  if (element == nullptr) return;
  fail(doc, element->position, service_words(type) + " takes no " + tag(element->name) + ": " + std::string(reason));
}

void read_properties(const xml_document& doc, const xml_element& block, service_config& config) {
  refuse_attributes(doc, block);
  refuse_text(doc, block);
  std::map<std::string_view, xml_position> first_at;
  for (const xml_element& property : block.children) {
    check_namespace(doc, property);
    const std::string_view name = property.name;
    const std::string where = tag(name) + " in the <properties> of a service";
    if (name == "connect.strategy") {
      fail(doc, property.position,
           not_implemented(where,
                           "postern connects when a client arrives and keeps prepared.connection.count "
                           "links ready"));
    }
    if (std::find(std::begin(known_properties), std::end(known_properties), name) == std::end(known_properties)) {
      fail(doc, property.position,
           "unknown property " + where +
               "; expected one of: maximum.pending.bytes, maximum.recovery.interval, prepared.connection.count, "
               "balancer.mode, balancer.local.preference, send.timeout");
    }
    if (const auto seen = first_at.find(name); seen != first_at.end()) {
      fail(doc, property.position,
           "duplicate " + where + " (the first is at " + std::to_string(seen->second.line) + ":" +
               std::to_string(seen->second.column) + ")");
    }
    first_at.emplace(name, property.position);
    const std::string_view text = required_text(doc, property);
    config.properties.emplace(std::string(name), std::string(text));
    const xml_position at = property.text.start;
    const service_type type = config.type;
    auto only_for = [&](std::initializer_list<service_type> types) {
      if (std::find(types.begin(), types.end(), type) != types.end()) return;
      std::string which;
      for (service_type t : types) which += (which.empty() ? "" : " and ") + std::string(to_string(t));
      fail(doc, property.position,
           tag(name) + " applies to " + which + " services only, not to " + service_words(type));
    };
    if (name == "maximum.pending.bytes") {
      only_for({service_type::proxy, service_type::balancer});
      const auto value = parse_size(text);
      if (!value) fail(doc, at, tag(name) + ": " + value.error());
      config.maximum_pending_bytes = *value;
    } else if (name == "maximum.recovery.interval") {
      only_for({service_type::proxy});
      const auto value = parse_duration(text);
      if (!value) fail(doc, at, tag(name) + ": " + value.error());
      config.maximum_recovery_interval = *value;
    } else if (name == "send.timeout") {
      const auto value = parse_duration(text);
      if (!value) fail(doc, at, tag(name) + ": " + value.error());
      config.send_timeout = *value;
    } else if (name == "prepared.connection.count") {
      only_for({service_type::proxy});
      const auto value = parse_unsigned(text, 0, max_prepared_connection_count);
      if (!value) fail(doc, at, tag(name) + ": " + value.error());
      config.prepared_connection_count = static_cast<unsigned>(*value);
    } else if (name == "balancer.local.preference") {
      only_for({service_type::balancer});
      double value = -1;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc{} || end != text.data() + text.size() || !(value >= 0 && value <= 100))
        fail(doc, at,
             tag(name) + " " + quoted(text) +
                 " must be a number from 0 to 100: how many times the average load of the ready members "
                 "the local member may carry and still take its own clients (0: never preferred)");
      config.balancer_local_preference = value;
    } else {  // balancer.mode
      only_for({service_type::balancer});
      if (text != "proxy" && text != "redirect") {
        fail(doc, at, tag(name) + " " + quoted(text) + " must be proxy or redirect");
      }
      config.balancer_mode = std::string(text);
    }
  }
}

void check_type_rules(const xml_document& doc, const xml_element& element, const service_config& config) {
  const service_type type = config.type;
  const xml_element* connect = child_named(element, "connect");
  const xml_element* connect_options = child_named(element, "connect-options");
  switch (type) {
    case service_type::echo:
      refuse_for_type(doc, connect, type, "it answers its clients itself");
      refuse_for_type(doc, connect_options, type, "it has no <connect>");
      break;
    case service_type::management:
      refuse_for_type(doc, connect, type, "it answers its clients itself");
      refuse_for_type(doc, connect_options, type, "it has no <connect>");
      break;
    case service_type::balancer:
      refuse_for_type(doc, connect, type, "it sends each client to a service that names its accept URI in <balance>");
      refuse_for_type(doc, connect_options, type, "it has no <connect>");
      refuse_for_type(doc, child_named(element, "balance"), type,
                      "a balancer's accept URI is what the balanced services name in their <balance>");
      break;
    case service_type::proxy:
      if (connect == nullptr) {
        fail(doc, element.position, "missing <connect> in <service>: a proxy service needs at least one");
      }
      break;
  }
}

bool needs_truststore(const tls_options& tls) {
  return tls.verify_client == verify_client::optional || tls.verify_client == verify_client::required;
}

}  // namespace

parsed_service parse_service(const xml_document& doc, const xml_element& element) {
  check_element(doc, element, service_rules);
  parsed_service out;
  service_config& config = out.config;
  config.location = locate(doc.file, element.position);
  const xml_element& name = *child_named(element, "name");
  config.name = required_text(doc, name);
  out.name_position = name.text.start;
  if (const xml_element* description = child_named(element, "description")) {
    config.description = text_of(doc, *description);
  }
  config.type = read_type(doc, *child_named(element, "type"));
  check_type_rules(doc, element, config);

  const service_type type = config.type;
  for (const xml_element* accept : children_named(element, "accept")) {
    net::uri uri = read_uri(doc, *accept);
    switch (type) {
      case service_type::echo:
      case service_type::proxy:
        check_scheme(doc, *accept, uri, type, {uri_scheme::ws, uri_scheme::wss, uri_scheme::tcp, uri_scheme::ssl});
        break;
      case service_type::balancer:
        check_scheme(doc, *accept, uri, type, {uri_scheme::ws, uri_scheme::wss});
        break;
      case service_type::management:
        check_scheme(doc, *accept, uri, type, {uri_scheme::http, uri_scheme::https, uri_scheme::ws, uri_scheme::wss});
        break;
    }
    for (std::size_t i = 0; i < config.accepts.size(); ++i) {
      if (config.accepts[i] == uri) {
        fail(doc, accept->text.start,
             "duplicate <accept> " + quoted(accept->text.trimmed()) + " in this service (the first is at " +
                 std::to_string(out.accept_positions[i].line) + ":" + std::to_string(out.accept_positions[i].column) +
                 ")");
      }
    }
    config.accepts.push_back(std::move(uri));
    out.accept_positions.push_back(accept->text.start);
    out.accept_texts.emplace_back(accept->text.trimmed());
  }
  for (const xml_element* connect : children_named(element, "connect")) {
    net::uri uri = read_uri(doc, *connect);
    check_scheme(doc, *connect, uri, type, {uri_scheme::tcp, uri_scheme::ssl, uri_scheme::ws, uri_scheme::wss});
    config.connects.push_back(std::move(uri));
  }
  for (const xml_element* balance : children_named(element, "balance")) {
    net::uri uri = read_uri(doc, *balance);
    if (uri.scheme != uri_scheme::ws && uri.scheme != uri_scheme::wss) {
      fail(doc, balance->text.start,
           "<balance> " + quoted(balance->text.trimmed()) +
               " must be a ws:// or wss:// URI: the accept URI of a balancer service");
    }
    config.balances.push_back(std::move(uri));
  }
  if (const xml_element* properties = child_named(element, "properties")) read_properties(doc, *properties, config);
  if (const xml_element* options = child_named(element, "accept-options")) {
    out.accept_options = parse_options(doc, *options);
  }
  if (const xml_element* options = child_named(element, "connect-options")) {
    out.connect_options = parse_options(doc, *options);
  }
  config.cross_site = parse_cross_sites(doc, element);
  if (!config.cross_site.empty() && std::none_of(config.accepts.begin(), config.accepts.end(),
                                                 [](const net::uri& u) { return net::is_http_family(u.scheme); })) {
    fail(doc, child_named(element, "cross-site-constraint")->position,
         "<cross-site-constraint> applies to ws://, wss://, http:// and https:// accepts; this service has none");
  }
  return out;
}

void complete_service(const xml_document& doc, parsed_service& service, const parsed_options& accept_defaults,
                      const parsed_options& connect_defaults, const security_config& security) {
  service_config& config = service.config;
  merge_defaults(service.accept_options, accept_defaults);
  if (config.type == service_type::proxy) merge_defaults(service.connect_options, connect_defaults);
  config.accept_options = service.accept_options.values;
  config.connect_options = service.connect_options.values;

  if (!security.keystore_file) {
    for (std::size_t i = 0; i < config.accepts.size(); ++i) {
      if (!net::is_secure(config.accepts[i].scheme)) continue;
      fail(doc, service.accept_positions[i],
           "<accept> " + quoted(service.accept_texts[i]) +
               " is secure and needs a certificate: add "
               "<security><keystore> with <type>PEM</type> and the <file> that holds the certificate chain and key");
    }
    for (const parsed_options* options : {&service.accept_options, &service.connect_options}) {
      for (const auto& [name, transport] : {std::pair{"http.transport", &options->values.http_transport},
                                            std::pair{"tcp.transport", &options->values.tcp_transport}}) {
        if (!*transport || (*transport)->scheme != uri_scheme::socks_ssl) continue;
        const auto* written = options->find(name);
        fail(doc, written->position,
             tag(written->name) + " " + quoted(written->text) +
                 " runs TLS and needs a certificate: add "
                 "<security><keystore> with <type>PEM</type> and the <file> that holds the certificate chain and key");
      }
    }
  }
  if (!security.truststore_file) {
    for (const parsed_options* options : {&service.accept_options, &service.connect_options}) {
      for (const auto& [name, tls] : {std::pair{"ssl.verify-client", &options->values.ssl},
                                      std::pair{"socks.ssl.verify-client", &options->values.socks_ssl}}) {
        if (!needs_truststore(*tls)) continue;
        const auto* written = options->find(name);
        fail(doc, written->position,
             tag(written->name) + " " + written->text +
                 " needs <security><truststore>: the PEM file of the CA certificates that sign client "
                 "certificates");
      }
    }
  }
}

}  // namespace postern::config
