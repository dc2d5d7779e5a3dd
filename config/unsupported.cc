#include "config/unsupported.h"

#include <string>

namespace postern::config {

namespace {

struct refusal {
  std::string_view name;
  std::string_view reason;
};

template <std::size_t N>
std::optional<std::string_view> find(const refusal (&table)[N], std::string_view name) {
  for (const refusal& r : table) {
    if (r.name == name) return r.reason;
  }
  return std::nullopt;
}

constexpr refusal service_types[] = {
    {"directory", "it serves static files; put a web server beside postern"},
    {"http.proxy", "postern proxies WebSocket and TCP, not plain HTTP requests"},
    {"http.redirect", "let a web server answer redirects"},
    {"broadcast", "one-to-many fan-out of a TCP feed"},
    {"amqp.proxy", "AMQP identity injection; type proxy carries AMQP over WebSocket unchanged"},
    {"management.jmx", "JMX is Java's; type management serves /metrics and /health"},
    {"management.snmp", "KAAZING itself no longer supports it; type management serves /metrics and /health"},
    {"session", "KAAZING itself no longer supports it"},
    {"kerberos5.proxy", "Kerberos ticket proxying, deprecated in KAAZING"},
    {"update.check", "postern never calls home"},
    {"turn.rest", "TURN credentials over REST"},
    {"jms", "the Enterprise Edition's JMS integration"},
    {"jms.proxy", "the Enterprise Edition's JMS integration"},
    {"redis", "the Enterprise Edition's Redis integration"},
};

constexpr refusal service_elements[] = {
    {"realm-name", "postern does not authenticate clients; authenticate at the backend"},
    {"authorization-constraint", "postern does not authenticate clients; authorize at the backend"},
    {"mime-mapping", "only KAAZING's directory service uses it"},
    {"notify", "undocumented in KAAZING and without effect on the services postern runs"},
};

constexpr refusal security_elements[] = {
    {"realm", "JAAS login modules; postern does not authenticate clients"},
};

constexpr refusal keystore_elements[] = {
    {"password-file",
     "postern reads unencrypted PEM keys, so there is no password; keep the file readable by "
     "postern alone"},
    {"password",
     "postern reads unencrypted PEM keys, so there is no password; keep the file readable by "
     "postern alone"},
};

constexpr refusal cluster_elements[] = {
    {"connect-options", "only KAAZING's AWS discovery used them; use udp:// multicast or tcp:// seeds"},
};

constexpr refusal options[] = {
    {"socks.transport",
     "SOCKS over a WebSocket transport; postern's reverse links carry their own keep-alives, "
     "so socks+ssl:// in http.transport or tcp.transport is enough"},
    {"ws.version", "deprecated in KAAZING; postern speaks RFC 6455 only"},
    {"tcp.maximum.outbound.rate", "outbound rate limiting of the Enterprise Edition"},
    {"udp.interface", "postern runs no udp:// services"},
    {"udp.align", "postern runs no udp:// services"},
    {"udp.transport", "postern runs no udp:// services"},
    {"pipe.transport", "postern has no in-process pipes"},
    {"ssl.transport", "the layer under TLS is always TCP in postern"},
    {"http.keepalive", "postern always keeps HTTP connections alive; http.keepalive.timeout bounds them"},
    {"http.keepalive.connections", "postern does not pool connections to HTTP backends"},
    {"http.server.header", "the Server header is not configurable"},
    {"http.maximum.redirects", "postern's connectors do not follow redirects"},
    {"http.max.authentication.attempts", "postern does not authenticate clients"},
    {"http.realm", "postern does not authenticate clients"},
};

constexpr refusal schemes[] = {
    {"pipe", "in-process named pipes"},
    {"sse", "Server-Sent Events"},
    {"wsn", "use ws:// (RFC 6455)"},
    {"wsx", "KAAZING's extended handshake; use ws:// (RFC 6455)"},
    {"wse", "KAAZING's HTTP emulation of WebSocket; use ws:// (RFC 6455)"},
    {"wsr", "KAAZING's RTMP emulation of WebSocket; use ws:// (RFC 6455)"},
    {"httpxe", "KAAZING's HTTP emulation of WebSocket; use ws:// (RFC 6455)"},
    {"aws", "AWS security-group discovery; use udp:// multicast or tcp:// seeds"},
};

}  // namespace

std::optional<std::string_view> unsupported_service_type(std::string_view type) {
  if (type.starts_with("class:")) return "a Java service class cannot run in postern";
  return find(service_types, type);
}

std::optional<std::string_view> unsupported_element(std::string_view parent, std::string_view name) {
  if (parent == "service") return find(service_elements, name);
  if (parent == "service-defaults" && name == "mime-mapping") return find(service_elements, name);
  if (parent == "security") return find(security_elements, name);
  if (parent == "keystore" || parent == "truststore") return find(keystore_elements, name);
  if (parent == "cluster") return find(cluster_elements, name);
  return std::nullopt;
}

std::optional<std::string_view> unsupported_option(std::string_view name) { return find(options, name); }

std::optional<std::string_view> unsupported_scheme(std::string_view scheme) {
  // "wsn+ssl" and the like: KAAZING's secure variants of the schemes above.
  return find(schemes, scheme.substr(0, scheme.find('+')));
}

std::string not_implemented(std::string_view what, std::string_view reason) {
  std::string out(what);
  out += " is a KAAZING feature postern does not implement (";
  out += reason;
  out += ')';
  return out;
}

}  // namespace postern::config
