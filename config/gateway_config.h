// gateway_config: the typed, immutable, validated form of gateway-config.xml (DESIGN §7).
// Built once by load_config() (config/loader.h) before any reactor starts; reactors hold a
// std::shared_ptr<const gateway_config>. Nothing here knows about sockets or reactors.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/uri.h"

namespace postern::config {

using milliseconds = std::chrono::milliseconds;

// Where a value came from, for messages that point back into the file.
struct source_location {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
};

enum class service_type : std::uint8_t { echo, proxy, balancer, management };
std::string_view to_string(service_type type);

enum class socks_mode : std::uint8_t { forward, reverse };
enum class verify_client : std::uint8_t { none, optional, required };
enum class backend_choice : std::uint8_t { automatic, io_uring, epoll };

// TLS options (ssl.* and their tls.* aliases; socks.ssl.* for the layer under socks+ssl).
struct tls_options {
  std::optional<std::string> ciphers;          // OpenSSL cipher list
  std::optional<std::string> protocols;        // e.g. "TLSv1.2,TLSv1.3"
  std::optional<bool> encryption;              // ssl.encryption enabled|disabled
  std::optional<config::verify_client> verify_client;
};

// accept-options and connect-options. Every field is optional: unset means the default.
struct service_options {
  // *.bind: the physical listen address (accept) or local source address (connect tcp.bind).
  std::optional<net::bind_address> tcp_bind, ssl_bind, http_bind, https_bind, ws_bind, wss_bind;
  std::optional<net::uri> http_transport;      // the layer under http (socks://, socks+ssl://, tcp://, ssl://)
  std::optional<net::uri> tcp_transport;       // the layer under tcp
  std::optional<config::socks_mode> socks_mode;
  std::optional<milliseconds> socks_timeout;
  std::optional<milliseconds> socks_retry_maximum_interval;
  tls_options ssl;
  tls_options socks_ssl;
  std::optional<milliseconds> ws_inactivity_timeout;
  std::optional<std::uint64_t> ws_maximum_message_size;   // bytes
  std::optional<milliseconds> connect_timeout;             // tcp.connect.timeout (postern's)
  std::optional<milliseconds> http_keepalive_timeout;
};

struct cross_site_constraint {
  std::string allow_origin;                  // "*" or scheme://host:port (default port filled)
  std::vector<std::string> allow_methods;    // default GET, POST
  std::vector<std::string> allow_headers;
  std::optional<milliseconds> maximum_age;
};

struct service_config {
  // What the service is made of: the canonical text of its <service>, <service-defaults> and
  // <security>, after property substitution. Equal fingerprints: the same service (reload).
  std::string fingerprint;
  std::string name;
  std::string description;
  service_type type = service_type::echo;
  std::vector<net::uri> accepts;
  std::vector<net::uri> connects;
  std::vector<net::uri> balances;
  std::map<std::string, std::string> properties;   // <properties> of the service, raw
  // Typed service properties (proxy): unset means the default.
  std::optional<std::uint64_t> maximum_pending_bytes;
  std::optional<milliseconds> maximum_recovery_interval;
  std::optional<milliseconds> send_timeout;        // postern's: a peer that reads nothing this long is closed
  std::optional<unsigned> prepared_connection_count;
  std::optional<std::string> balancer_mode;        // "proxy" | "redirect"
  std::optional<double> balancer_local_preference; // postern's: 0 (off) to 100; cluster::choice_options
  service_options accept_options;
  service_options connect_options;
  std::vector<cross_site_constraint> cross_site;
  source_location location;                        // of the <service> element
};

struct security_config {
  std::optional<std::string> keystore_file;        // PEM: certificate chain and private key
  std::optional<std::string> truststore_file;      // PEM: CA bundle
};

struct cluster_config {
  std::string name;
  std::vector<net::uri> accepts;                   // tcp://ip:port: this member's identity
  std::vector<net::uri> connects;                  // udp://group:port or tcp:// seeds
  std::optional<std::string> key_file;
  // Failure detection (postern's own elements): a heartbeat every heartbeat_interval_ms; a
  // member not heard for suspect_timeout_ms is suspected, for failure_timeout_ms failed.
  // 0 < heartbeat <= suspect < failure, checked at load.
  std::uint64_t heartbeat_interval_ms = 200;
  std::uint64_t suspect_timeout_ms = 600;
  std::uint64_t failure_timeout_ms = 1500;
  source_location location;
};

struct reactor_config {
  unsigned threads = 0;                            // 0: one per CPU of the affinity mask
  std::vector<int> cpus;                           // empty: the affinity mask
  backend_choice backend = backend_choice::automatic;
  unsigned ring_entries = 4096;
  // <connection-limit>: open sockets (clients, backend connections, links) the process may
  // hold, shared by the reactors; 0: the most RLIMIT_NOFILE allows. Never above that.
  std::uint64_t connection_limit = 0;
};

struct gateway_config {
  std::string source_file;
  // What a reload cannot change without a restart: the canonical text of <cluster> and
  // <reactor> (config::canonical_text).
  std::string fixed_fingerprint;
  std::vector<service_config> services;
  security_config security;
  std::optional<cluster_config> cluster;
  reactor_config reactor;
  // Problems that do not stop loading, each "file:line:column: warning: text".
  std::vector<std::string> warnings;
};

}  // namespace postern::config
