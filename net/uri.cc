#include "net/uri.h"

#include <arpa/inet.h>

#include <array>
#include <optional>

namespace postern::net {
namespace {

constexpr std::string_view expected_schemes =
    "tcp, ssl, tls, ws, wss, http, https, udp, socks, socks+ssl or socks+tls";

// The longest name DNS can carry (RFC 1035 §3.1: 255 octets on the wire, 253 as text).
constexpr std::size_t max_host_name_bytes = 253;

constexpr char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 §2.3 unreserved and §2.2 sub-delims: the characters of a reg-name besides '%'.
constexpr bool is_unreserved_or_sub_delim(char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

// RFC 3986 §3.3 pchar without pct-encoded (check_chars handles '%').
constexpr bool is_pchar(char c) noexcept { return is_unreserved_or_sub_delim(c) || c == ':' || c == '@'; }

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = to_lower(c);
  return out;
}

std::optional<uri_scheme> scheme_from(std::string_view text) {
  const std::string name = lower(text);
  if (name == "tcp") return uri_scheme::tcp;
  if (name == "ssl" || name == "tls") return uri_scheme::ssl;
  if (name == "ws") return uri_scheme::ws;
  if (name == "wss") return uri_scheme::wss;
  if (name == "http") return uri_scheme::http;
  if (name == "https") return uri_scheme::https;
  if (name == "udp") return uri_scheme::udp;
  if (name == "socks") return uri_scheme::socks;
  if (name == "socks+ssl" || name == "socks+tls") return uri_scheme::socks_ssl;
  return std::nullopt;
}

// Checks every character of text with allowed, and each '%' for two hex digits after it
// (RFC 3986 §2.1); on failure names the first bad character and the part ("path", "query",
// "host") of input it belongs to.
template <typename Allowed>
std::optional<std::string> check_chars(std::string_view text, Allowed allowed, std::string_view part,
                                       std::string_view input) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 < text.size() && is_hex(text[i + 1]) && is_hex(text[i + 2])) {
        i += 2;
        continue;
      }
      return "bad percent-encoding in " + std::string(part) + " of " + quoted(input) +
             " (expected '%' and two hex digits)";
    }
    if (!allowed(c)) {
      const unsigned char u = static_cast<unsigned char>(c);
      std::string shown = u >= 0x20 && u < 0x7F ? quoted(std::string_view(&c, 1))
                                                : "byte " + std::to_string(u);
      return "invalid character " + shown + " in " + std::string(part) + " of " + quoted(input);
    }
  }
  return std::nullopt;
}

std::expected<std::uint16_t, std::string> parse_port(std::string_view text, std::string_view input) {
  if (text.empty()) return std::unexpected("empty port in " + quoted(input) + " (expected 1-65535)");
  std::uint32_t value = 0;
  for (char c : text) {
    if (!is_digit(c) || value > 65535) {
      return std::unexpected("invalid port " + quoted(text) + " in " + quoted(input) +
                             " (expected 1-65535)");
    }
    value = value * 10 + std::uint32_t(c - '0');
  }
  if (value == 0 || value > 65535) {
    return std::unexpected("port " + quoted(text) + " out of range in " + quoted(input) +
                           " (expected 1-65535)");
  }
  return static_cast<std::uint16_t>(value);
}

struct host_and_port {
  std::string host;  // lower-case, IPv6 without brackets
  bool is_ipv6 = false;
  std::optional<std::uint16_t> port;
};

// authority is host, host:port, [v6] or [v6]:port (no userinfo: the caller refused '@').
std::expected<host_and_port, std::string> parse_authority(std::string_view authority,
                                                          std::string_view input) {
  host_and_port out;
  std::string_view host_text;
  std::string_view after_host;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::unexpected("unterminated IPv6 literal in " + quoted(input) + " (expected '[v6]')");
    }
    host_text = authority.substr(1, close - 1);
    after_host = authority.substr(close + 1);
    if (!after_host.empty() && after_host.front() != ':') {
      return std::unexpected("unexpected " + quoted(after_host) + " after the IPv6 literal in " +
                             quoted(input) + " (expected ':port')");
    }
    const std::string v6(host_text);
    std::array<unsigned char, 16> scratch{};
    if (v6.empty() || inet_pton(AF_INET6, v6.c_str(), scratch.data()) != 1) {
      return std::unexpected("invalid IPv6 address " + quoted(host_text) + " in " + quoted(input));
    }
    out.is_ipv6 = true;
  } else {
    const std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return std::unexpected("an IPv6 address must be in brackets in " + quoted(input) +
                             " (expected '[v6]:port')");
    }
    host_text = authority.substr(0, colon);
    after_host = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
    if (host_text.empty()) return std::unexpected("missing host in " + quoted(input));
    if (host_text.size() > max_host_name_bytes) {
      return std::unexpected("host name longer than 253 bytes in " + quoted(input));
    }
    if (auto bad = check_chars(host_text, is_unreserved_or_sub_delim, "host", input)) {
      return std::unexpected(std::move(*bad));
    }
    bool digits_and_dots = true;
    for (char c : host_text) digits_and_dots = digits_and_dots && (is_digit(c) || c == '.');
    if (digits_and_dots) {
      // A name made only of digits and dots is read as an IPv4 address by the resolver
      // (inet_aton accepts "127.1"); only the dotted-quad form is allowed.
      const std::string v4(host_text);
      std::array<unsigned char, 4> scratch{};
      if (inet_pton(AF_INET, v4.c_str(), scratch.data()) != 1) {
        return std::unexpected("invalid IPv4 address " + quoted(host_text) + " in " + quoted(input) +
                               " (expected four numbers 0-255 separated by dots)");
      }
    }
  }
  out.host = lower(host_text);
  if (!after_host.empty()) {  // starts with ':'
    auto port = parse_port(after_host.substr(1), input);
    if (!port) return std::unexpected(std::move(port.error()));
    out.port = *port;
  }
  return out;
}

}  // namespace

std::string_view to_string(uri_scheme scheme) {
  switch (scheme) {
    case uri_scheme::tcp: return "tcp";
    case uri_scheme::ssl: return "ssl";
    case uri_scheme::ws: return "ws";
    case uri_scheme::wss: return "wss";
    case uri_scheme::http: return "http";
    case uri_scheme::https: return "https";
    case uri_scheme::udp: return "udp";
    case uri_scheme::socks: return "socks";
    case uri_scheme::socks_ssl: return "socks+ssl";
  }
  return "unknown";
}

bool is_secure(uri_scheme scheme) noexcept {
  return scheme == uri_scheme::ssl || scheme == uri_scheme::wss || scheme == uri_scheme::https ||
         scheme == uri_scheme::socks_ssl;
}

bool is_http_family(uri_scheme scheme) noexcept {
  return scheme == uri_scheme::ws || scheme == uri_scheme::wss || scheme == uri_scheme::http ||
         scheme == uri_scheme::https;
}

std::uint16_t default_port(uri_scheme scheme) noexcept {
  switch (scheme) {
    case uri_scheme::ws:
    case uri_scheme::http: return 80;
    case uri_scheme::wss:
    case uri_scheme::https: return 443;
    case uri_scheme::socks:
    case uri_scheme::socks_ssl: return 1080;
    case uri_scheme::tcp:
    case uri_scheme::ssl:
    case uri_scheme::udp: return 0;
  }
  return 0;
}

std::string uri::authority() const {
  std::string out = host_is_ipv6 ? "[" + host + "]" : host;
  if (port != default_port(scheme)) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

std::string uri::host_port() const {
  std::string out = host_is_ipv6 ? "[" + host + "]" : host;
  out += ':';
  out += std::to_string(port);
  return out;
}

std::string uri::to_string() const {
  std::string out(net::to_string(scheme));
  out += "://";
  out += host_is_ipv6 ? "[" + host + "]" : host;
  if (port_explicit) {
    out += ':';
    out += std::to_string(port);
  }
  out += path;
  if (!query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

std::expected<uri, std::string> parse_uri(std::string_view text) {
  const std::size_t separator = text.find("://");
  if (separator == std::string_view::npos) {
    return std::unexpected(quoted(text) + " is not a URI (expected scheme://host[:port][/path])");
  }
  const std::string_view scheme_text = text.substr(0, separator);
  const auto scheme = scheme_from(scheme_text);
  if (!scheme) {
    return std::unexpected("unknown scheme " + quoted(scheme_text) + " in " + quoted(text) +
                           " (expected " + std::string(expected_schemes) + ")");
  }
  const std::string_view rest = text.substr(separator + 3);
  if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
    return std::unexpected("fragment " + quoted(rest.substr(hash)) + " not allowed in " +
                           quoted(text) + " (a gateway URI has no fragment)");
  }
  const std::size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (const std::size_t at = authority.find('@'); at != std::string_view::npos) {
    if (at == 0) {
      return std::unexpected("network-interface host " + quoted(authority) + " not supported in " +
                             quoted(text) + " (expected a host name or an IP address)");
    }
    return std::unexpected("user information " + quoted(authority.substr(0, at + 1)) +
                           " not allowed in " + quoted(text) + " (expected scheme://host[:port])");
  }
  if (authority.empty()) return std::unexpected("missing host in " + quoted(text));

  auto host = parse_authority(authority, text);
  if (!host) return std::unexpected(std::move(host.error()));

  uri out;
  out.scheme = *scheme;
  out.host = std::move(host->host);
  out.host_is_ipv6 = host->is_ipv6;
  if (host->port) {
    out.port = *host->port;
    out.port_explicit = true;
  } else {
    out.port = default_port(*scheme);
    if (out.port == 0) {
      return std::unexpected("missing port in " + quoted(text) + " (" +
                             std::string(to_string(*scheme)) + " URIs need scheme://host:port)");
    }
  }

  const std::size_t question = tail.find('?');
  const std::string_view path = tail.substr(0, question);
  const bool has_query = question != std::string_view::npos;
  const std::string_view query = has_query ? tail.substr(question + 1) : std::string_view{};
  if (!is_http_family(*scheme)) {
    if (!path.empty()) {
      return std::unexpected("path " + quoted(path) + " not allowed in " + quoted(text) + " (" +
                             std::string(to_string(*scheme)) + " URIs are scheme://host:port)");
    }
    if (has_query) {
      return std::unexpected("query not allowed in " + quoted(text) + " (" +
                             std::string(to_string(*scheme)) + " URIs are scheme://host:port)");
    }
    return out;
  }
  if (auto bad = check_chars(path, [](char c) { return is_pchar(c) || c == '/'; }, "path", text)) {
    return std::unexpected(std::move(*bad));
  }
  if (auto bad = check_chars(query, [](char c) { return is_pchar(c) || c == '/' || c == '?'; },
                             "query", text)) {
    return std::unexpected(std::move(*bad));
  }
  out.path = path.empty() ? std::string("/") : std::string(path);
  out.query = std::string(query);
  return out;
}

std::expected<bind_address, std::string> parse_bind_address(std::string_view text) {
  constexpr std::string_view expected = " (expected port, host:port, [v6]:port or tcp://host:port)";
  if (text.find("://") != std::string_view::npos) {
    auto parsed = parse_uri(text);
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    if (parsed->scheme != uri_scheme::tcp) {
      return std::unexpected("bind address " + quoted(text) + " has scheme " +
                             quoted(to_string(parsed->scheme)) + std::string(expected));
    }
    return bind_address{std::move(parsed->host), parsed->port};
  }
  if (text.empty()) return std::unexpected("empty bind address" + std::string(expected));
  bool digits = true;
  for (char c : text) digits = digits && is_digit(c);
  if (digits) {
    auto port = parse_port(text, text);
    if (!port) return std::unexpected(std::move(port.error()));
    return bind_address{std::string(), *port};
  }
  if (text.find_first_of("/?#@") != std::string_view::npos) {
    return std::unexpected("invalid bind address " + quoted(text) + std::string(expected));
  }
  auto host = parse_authority(text, text);
  if (!host) return std::unexpected(std::move(host.error()));
  if (!host->port) return std::unexpected("missing port in bind address " + quoted(text) + std::string(expected));
  return bind_address{std::move(host->host), *host->port};
}

}  // namespace postern::net
