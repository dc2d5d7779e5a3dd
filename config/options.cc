#include "config/options.h"

#include <algorithm>
#include <optional>

#include "config/diagnostic.h"
#include "config/schema.h"
#include "config/unsupported.h"
#include "config/values.h"

namespace postern::config {

namespace {

constexpr std::string_view known_options[] = {
    "tcp.bind",
    "ssl.bind",
    "http.bind",
    "https.bind",
    "ws.bind",
    "wss.bind",
    "http.transport",
    "tcp.transport",
    "socks.mode",
    "socks.timeout",
    "socks.retry.maximum.interval",
    "ssl.ciphers",
    "ssl.protocols",
    "ssl.encryption",
    "ssl.verify-client",
    "socks.ssl.ciphers",
    "socks.ssl.protocols",
    "socks.ssl.encryption",
    "socks.ssl.verify-client",
    "ws.inactivity.timeout",
    "ws.maximum.message.size",
    "tcp.connect.timeout",
    "http.keepalive.timeout",
};

std::string known_list() {
  std::string out;
  for (std::string_view name : known_options) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out + " (every ssl. option may be spelled tls.)";
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "TLSv1.2,TLSv1.3" from a comma list written in any case; the reason otherwise.
std::expected<std::string, std::string> parse_protocols(std::string_view text) {
  std::string out;
  std::string_view rest = text;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const std::string word = lower(item);
    std::string_view canonical;
    if (word == "tlsv1.2")
      canonical = "TLSv1.2";
    else if (word == "tlsv1.3")
      canonical = "TLSv1.3";
    else if (word == "sslv2" || word == "sslv3" || word == "tlsv1" || word == "tlsv1.1")
      return std::unexpected(quoted(item) +
                             " is refused: TLS 1.1 and older are broken (RFC 8996); "
                             "postern speaks TLSv1.2 and TLSv1.3");
    else
      return std::unexpected(quoted(item) +
                             " is not a TLS protocol; expected TLSv1.2 and/or TLSv1.3, "
                             "separated by a comma");
    if (out.find(canonical) == std::string::npos) {
      if (!out.empty()) out += ',';
      out += canonical;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::expected<net::uri, std::string> parse_transport(std::string_view name, std::string_view text) {
  const std::size_t colon = text.find("://");
  if (colon != std::string_view::npos) {
    const std::string scheme = lower(text.substr(0, colon));
    if (auto reason = unsupported_scheme(scheme)) {
      return std::unexpected(not_implemented(tag(name) + " " + quoted(text), *reason));
    }
  }
  auto parsed = net::parse_uri(text);
  if (!parsed) return std::unexpected("invalid " + tag(name) + ": " + parsed.error());
  using net::uri_scheme;
  const uri_scheme s = parsed->scheme;
  const bool socks = s == uri_scheme::socks || s == uri_scheme::socks_ssl;
  if (name == "http.transport" && !socks && s != uri_scheme::tcp && s != uri_scheme::ssl) {
    return std::unexpected(tag(name) + " " + quoted(text) + " must be socks://, socks+ssl://, tcp:// or ssl://");
  }
  if (name == "tcp.transport" && !socks) {
    return std::unexpected(tag(name) + " " + quoted(text) + " must be socks:// or socks+ssl://");
  }
  return parsed;
}

template <typename T>
std::optional<std::string> store(std::optional<T>& field, std::expected<T, std::string> value, std::string_view name) {
  if (!value) return name.empty() ? value.error() : tag(name) + ": " + value.error();
  field = std::move(*value);
  return std::nullopt;
}

// Sets the option canonical to text; the message when the value is wrong.
std::optional<std::string> set_option(service_options& o, const std::string& canonical, std::string_view text) {
  auto bind = [&](std::optional<net::bind_address>& field) -> std::optional<std::string> {
    auto parsed = net::parse_bind_address(text);
    if (!parsed) return "invalid " + tag(canonical) + ": " + parsed.error();
    field = *parsed;
    return std::nullopt;
  };
  auto tls = [&](tls_options& t, std::string_view leaf) -> std::optional<std::string> {
    if (leaf == "ciphers") {
      t.ciphers = std::string(text);
      return std::nullopt;
    }
    if (leaf == "protocols") return store(t.protocols, parse_protocols(text), canonical);
    if (leaf == "encryption") {
      if (text == "enabled")
        t.encryption = true;
      else if (text == "disabled")
        t.encryption = false;
      else
        return tag(canonical) + " " + quoted(text) + " must be enabled or disabled";
      return std::nullopt;
    }
    if (text == "none")
      t.verify_client = verify_client::none;
    else if (text == "optional")
      t.verify_client = verify_client::optional;
    else if (text == "required")
      t.verify_client = verify_client::required;
    else
      return tag(canonical) + " " + quoted(text) + " must be none, optional or required";
    return std::nullopt;
  };
  if (canonical == "tcp.bind") return bind(o.tcp_bind);
  if (canonical == "ssl.bind") return bind(o.ssl_bind);
  if (canonical == "http.bind") return bind(o.http_bind);
  if (canonical == "https.bind") return bind(o.https_bind);
  if (canonical == "ws.bind") return bind(o.ws_bind);
  if (canonical == "wss.bind") return bind(o.wss_bind);
  if (canonical == "http.transport") return store(o.http_transport, parse_transport(canonical, text), "");
  if (canonical == "tcp.transport") return store(o.tcp_transport, parse_transport(canonical, text), "");
  if (canonical == "socks.mode") {
    if (text == "forward")
      o.socks_mode = socks_mode::forward;
    else if (text == "reverse")
      o.socks_mode = socks_mode::reverse;
    else
      return tag(canonical) + " " + quoted(text) + " must be forward or reverse";
    return std::nullopt;
  }
  if (canonical == "socks.timeout") return store(o.socks_timeout, parse_duration(text), canonical);
  if (canonical == "socks.retry.maximum.interval") {
    return store(o.socks_retry_maximum_interval, parse_duration(text), canonical);
  }
  if (canonical.starts_with("ssl.")) return tls(o.ssl, std::string_view(canonical).substr(4));
  if (canonical.starts_with("socks.ssl.")) return tls(o.socks_ssl, std::string_view(canonical).substr(10));
  if (canonical == "ws.inactivity.timeout") return store(o.ws_inactivity_timeout, parse_duration(text), canonical);
  if (canonical == "ws.maximum.message.size") return store(o.ws_maximum_message_size, parse_size(text), canonical);
  if (canonical == "tcp.connect.timeout") return store(o.connect_timeout, parse_duration(text), canonical);
  return store(o.http_keepalive_timeout, parse_duration(text), canonical);  // http.keepalive.timeout
}

template <typename T>
void fill(std::optional<T>& own, const std::optional<T>& defaults) {
  if (!own && defaults) own = defaults;
}

void fill_tls(tls_options& own, const tls_options& defaults) {
  fill(own.ciphers, defaults.ciphers);
  fill(own.protocols, defaults.protocols);
  fill(own.encryption, defaults.encryption);
  fill(own.verify_client, defaults.verify_client);
}

}  // namespace

const parsed_options::written_option* parsed_options::find(std::string_view canonical_name) const {
  const auto it = written.find(canonical_name);
  return it == written.end() ? nullptr : &it->second;
}

std::string canonical_option_name(std::string_view name) {
  if (name.starts_with("tls.")) return "ssl." + std::string(name.substr(4));
  if (name.starts_with("socks.tls.")) return "socks.ssl." + std::string(name.substr(10));
  return std::string(name);
}

parsed_options parse_options(const xml_document& doc, const xml_element& block) {
  using written_option = parsed_options::written_option;
  refuse_attributes(doc, block);
  refuse_text(doc, block);
  const bool connect = block.name == "connect-options";
  parsed_options out;
  std::map<std::string, const xml_element*, std::less<>> first_of;
  for (const xml_element& option : block.children) {
    check_namespace(doc, option);
    const std::string canonical = canonical_option_name(option.name);
    const std::string where = tag(option.name) + " in " + tag(block.name);
    if (std::find(std::begin(known_options), std::end(known_options), canonical) == std::end(known_options)) {
      if (auto reason = unsupported_option(canonical)) fail(doc, option.position, not_implemented(where, *reason));
      fail(doc, option.position, "unknown option " + where + "; expected one of: " + known_list());
    }
    if (connect && canonical.ends_with(".bind") && canonical != "tcp.bind") {
      fail(doc, option.position,
           where +
               ": it names a listening address and belongs in <accept-options> "
               "(in <connect-options> only tcp.bind, the local source address, applies)");
    }
    if (const auto seen = first_of.find(canonical); seen != first_of.end()) {
      const xml_element& first = *seen->second;
      const std::string first_at = std::to_string(first.position.line) + ":" + std::to_string(first.position.column);
      if (first.name == option.name)
        fail(doc, option.position, "duplicate " + where + " (the first is at " + first_at + ")");
      fail(doc, option.position,
           "duplicate " + where + ": " + tag(first.name) + " at " + first_at +
               " sets the same option (tls is an alias of ssl)");
    }
    first_of.emplace(canonical, &option);
    const std::string_view text = required_text(doc, option);
    if (auto problem = set_option(out.values, canonical, text)) fail(doc, option.text.start, *problem);
    out.written.emplace(canonical, written_option{option.position, option.name, std::string(text)});
  }
  return out;
}

void merge_defaults(parsed_options& own, const parsed_options& defaults) {
  service_options& o = own.values;
  const service_options& d = defaults.values;
  fill(o.tcp_bind, d.tcp_bind);
  fill(o.ssl_bind, d.ssl_bind);
  fill(o.http_bind, d.http_bind);
  fill(o.https_bind, d.https_bind);
  fill(o.ws_bind, d.ws_bind);
  fill(o.wss_bind, d.wss_bind);
  fill(o.http_transport, d.http_transport);
  fill(o.tcp_transport, d.tcp_transport);
  fill(o.socks_mode, d.socks_mode);
  fill(o.socks_timeout, d.socks_timeout);
  fill(o.socks_retry_maximum_interval, d.socks_retry_maximum_interval);
  fill_tls(o.ssl, d.ssl);
  fill_tls(o.socks_ssl, d.socks_ssl);
  fill(o.ws_inactivity_timeout, d.ws_inactivity_timeout);
  fill(o.ws_maximum_message_size, d.ws_maximum_message_size);
  fill(o.connect_timeout, d.connect_timeout);
  fill(o.http_keepalive_timeout, d.http_keepalive_timeout);
  for (const auto& [name, option] : defaults.written) own.written.emplace(name, option);
}

}  // namespace postern::config
