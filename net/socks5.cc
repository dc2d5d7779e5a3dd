// socks5: RFC 1928 messages as bytes. The parsers walk the message field by field and stop at
// the first field whose bytes have not all arrived (need_more) or whose value is wrong (error),
// so a message is judged on the earliest byte that decides it, however the stream is split.
#include "net/socks5.h"

#include <arpa/inet.h>

#include <cstring>

namespace postern::net::socks5 {
namespace {

std::string hex_byte(std::uint8_t value) {
  static constexpr char digits[] = "0123456789ABCDEF";
  return std::string{'0', 'x', digits[value >> 4], digits[value & 0xF]};
}

std::uint8_t byte_at(std::span<const std::byte> in, std::size_t i) { return std::to_integer<std::uint8_t>(in[i]); }

template <class T>
parse_result<T> need_more() {
  return {};
}

template <class T>
parse_result<T> fail(std::string sentence) {
  parse_result<T> r;
  r.what = status::error;
  r.error = std::move(sentence);
  return r;
}

std::string bad_version(std::uint8_t v) { return "SOCKS version " + std::to_string(v) + ", expected 5"; }

std::string bad_reserved(std::uint8_t v) { return "reserved byte " + hex_byte(v) + ", expected 0"; }

// ATYP ADDR PORT starting at in[pos]. On done, out holds the address and end is the index just
// past PORT.
status parse_address(std::span<const std::byte> in, std::size_t pos, address& out, std::size_t& end,
                     std::string& error) {
  if (in.size() <= pos) return status::need_more;
  const std::uint8_t atyp = byte_at(in, pos);
  std::size_t addr_pos = pos + 1;
  std::size_t addr_bytes = 0;
  switch (atyp) {
    case static_cast<std::uint8_t>(address::kind::ipv4):
      addr_bytes = 4;
      break;
    case static_cast<std::uint8_t>(address::kind::ipv6):
      addr_bytes = 16;
      break;
    case static_cast<std::uint8_t>(address::kind::domain):
      if (in.size() <= addr_pos) return status::need_more;
      addr_bytes = byte_at(in, addr_pos);
      if (addr_bytes == 0) {
        error = "domain name of length 0";
        return status::error;
      }
      ++addr_pos;
      break;
    default:
      error = "unknown address type " + hex_byte(atyp);
      return status::error;
  }
  const std::size_t port_pos = addr_pos + addr_bytes;
  if (in.size() < port_pos + 2) return status::need_more;
  out = address{};
  out.type = static_cast<address::kind>(atyp);
  if (out.type == address::kind::domain) {
    out.domain.assign(reinterpret_cast<const char*>(in.data() + addr_pos), addr_bytes);
  } else {
    for (std::size_t i = 0; i < addr_bytes; ++i) out.ip[i] = byte_at(in, addr_pos + i);
  }
  out.port = static_cast<std::uint16_t>(byte_at(in, port_pos) << 8 | byte_at(in, port_pos + 1));
  end = port_pos + 2;
  return status::done;
}

// VER FIELD RSV ATYP ADDR PORT, the common shape of requests and replies. check_field judges
// the second byte (CMD or REP) and returns an error sentence, or "" when it is acceptable.
template <class CheckField>
status parse_message(std::span<const std::byte> in, CheckField check_field, std::uint8_t& field, address& out,
                     std::size_t& end, std::string& error) {
  if (in.empty()) return status::need_more;
  if (byte_at(in, 0) != version) {
    error = bad_version(byte_at(in, 0));
    return status::error;
  }
  if (in.size() < 2) return status::need_more;
  field = byte_at(in, 1);
  if (std::string e = check_field(field); !e.empty()) {
    error = std::move(e);
    return status::error;
  }
  if (in.size() < 3) return status::need_more;
  if (byte_at(in, 2) != 0) {
    error = bad_reserved(byte_at(in, 2));
    return status::error;
  }
  return parse_address(in, 3, out, end, error);
}

// Appends VER FIELD RSV ATYP ADDR PORT, or nothing (false) when a is not sendable.
bool encode_message(std::string& out, std::uint8_t field, const address& a) {
  std::size_t addr_bytes = 0;
  switch (a.type) {
    case address::kind::ipv4:
      addr_bytes = 4;
      break;
    case address::kind::ipv6:
      addr_bytes = 16;
      break;
    case address::kind::domain:
      if (a.domain.empty() || a.domain.size() > max_domain_bytes) return false;
      break;
    default:
      return false;
  }
  out.push_back(static_cast<char>(version));
  out.push_back(static_cast<char>(field));
  out.push_back('\0');
  out.push_back(static_cast<char>(a.type));
  if (a.type == address::kind::domain) {
    out.push_back(static_cast<char>(a.domain.size()));
    out += a.domain;
  } else {
    out.append(reinterpret_cast<const char*>(a.ip.data()), addr_bytes);
  }
  out.push_back(static_cast<char>(a.port >> 8));
  out.push_back(static_cast<char>(a.port & 0xFF));
  return true;
}

}  // namespace

std::string_view to_string(reply_code code) noexcept {
  switch (code) {
    case reply_code::succeeded: return "succeeded";
    case reply_code::general_failure: return "general SOCKS server failure";
    case reply_code::not_allowed: return "connection not allowed by ruleset";
    case reply_code::network_unreachable: return "network unreachable";
    case reply_code::host_unreachable: return "host unreachable";
    case reply_code::connection_refused: return "connection refused";
    case reply_code::ttl_expired: return "TTL expired";
    case reply_code::command_not_supported: return "command not supported";
    case reply_code::address_type_not_supported: return "address type not supported";
  }
  return "unassigned reply code";
}

std::string_view to_string(command cmd) noexcept {
  switch (cmd) {
    case command::connect: return "connect";
    case command::bind: return "bind";
    case command::udp_associate: return "UDP associate";
  }
  return "unknown command";
}

address address::from_sockaddr(const sockaddr* sa) {
  address a;
  if (sa == nullptr) return a;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    std::memcpy(a.ip.data(), &in.sin_addr, 4);
    a.port = ntohs(in.sin_port);
  } else if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    a.type = kind::ipv6;
    std::memcpy(a.ip.data(), &in6.sin6_addr, 16);
    a.port = ntohs(in6.sin6_port);
  }
  return a;
}

address address::from_domain(std::string_view name, std::uint16_t port) {
  address a;
  a.type = kind::domain;
  a.domain = name;
  a.port = port;
  return a;
}

bool address::to_sockaddr(sockaddr_storage& storage, socklen_t& len) const {
  if (type == kind::ipv4) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, ip.data(), 4);
    storage = sockaddr_storage{};
    std::memcpy(&storage, &in, sizeof in);
    len = sizeof in;
    return true;
  }
  if (type == kind::ipv6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&in6.sin6_addr, ip.data(), 16);
    storage = sockaddr_storage{};
    std::memcpy(&storage, &in6, sizeof in6);
    len = sizeof in6;
    return true;
  }
  return false;
}

std::string address::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  switch (type) {
    case kind::ipv4:
      inet_ntop(AF_INET, ip.data(), text, sizeof text);
      return std::string(text) + ":" + std::to_string(port);
    case kind::ipv6:
      inet_ntop(AF_INET6, ip.data(), text, sizeof text);
      return "[" + std::string(text) + "]:" + std::to_string(port);
    case kind::domain:
      return domain + ":" + std::to_string(port);
  }
  return "?:" + std::to_string(port);
}

void encode_greeting(std::string& out) {
  const std::uint8_t no_auth[] = {method_no_auth};
  encode_greeting(out, no_auth);
}

bool encode_greeting(std::string& out, std::span<const std::uint8_t> methods) {
  if (methods.empty() || methods.size() > 255) return false;
  out.push_back(static_cast<char>(version));
  out.push_back(static_cast<char>(methods.size()));
  out.append(reinterpret_cast<const char*>(methods.data()), methods.size());
  return true;
}

void encode_method_choice(std::string& out, bool acceptable) {
  out.push_back(static_cast<char>(version));
  out.push_back(static_cast<char>(acceptable ? method_no_auth : method_none_acceptable));
}

bool encode_request(std::string& out, command cmd, const address& target) {
  return encode_message(out, static_cast<std::uint8_t>(cmd), target);
}

bool encode_reply(std::string& out, reply_code code, const address& bound) {
  return encode_message(out, static_cast<std::uint8_t>(code), bound);
}

parse_result<greeting> parse_greeting(std::span<const std::byte> in) {
  if (in.empty()) return need_more<greeting>();
  if (byte_at(in, 0) != version) return fail<greeting>(bad_version(byte_at(in, 0)));
  if (in.size() < 2) return need_more<greeting>();
  const std::size_t n = byte_at(in, 1);
  if (n == 0) return fail<greeting>("greeting offers no methods");
  if (in.size() < 2 + n) return need_more<greeting>();
  parse_result<greeting> r;
  r.what = status::done;
  r.consumed = 2 + n;
  r.value.methods.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t m = byte_at(in, 2 + i);
    r.value.methods.push_back(m);
    if (m == method_no_auth) r.value.no_auth_offered = true;
  }
  return r;
}

parse_result<bool> parse_method_choice(std::span<const std::byte> in) {
  if (in.empty()) return need_more<bool>();
  if (byte_at(in, 0) != version) return fail<bool>(bad_version(byte_at(in, 0)));
  if (in.size() < 2) return need_more<bool>();
  const std::uint8_t m = byte_at(in, 1);
  if (m != method_no_auth && m != method_none_acceptable) {
    return fail<bool>("method " + hex_byte(m) + " chosen, expected 0x00 or 0xFF");
  }
  parse_result<bool> r;
  r.what = status::done;
  r.consumed = 2;
  r.value = m == method_no_auth;
  return r;
}

parse_result<request> parse_request(std::span<const std::byte> in) {
  parse_result<request> r;
  std::uint8_t cmd = 0;
  const auto check_cmd = [](std::uint8_t c) {
    return c >= 1 && c <= 3 ? std::string() : "unknown command " + hex_byte(c);
  };
  r.what = parse_message(in, check_cmd, cmd, r.value.target, r.consumed, r.error);
  if (r.what != status::done) return r.what == status::error ? fail<request>(std::move(r.error)) : need_more<request>();
  r.value.cmd = static_cast<command>(cmd);
  return r;
}

parse_result<reply> parse_reply(std::span<const std::byte> in) {
  parse_result<reply> r;
  std::uint8_t rep = 0;
  const auto any_code = [](std::uint8_t) { return std::string(); };
  r.what = parse_message(in, any_code, rep, r.value.bound, r.consumed, r.error);
  if (r.what != status::done) return r.what == status::error ? fail<reply>(std::move(r.error)) : need_more<reply>();
  r.value.code = static_cast<reply_code>(rep);
  return r;
}

server_handshake::step server_handshake::feed(std::span<const std::byte> in, std::string& out, std::size_t& consumed) {
  consumed = 0;
  if (!_greeted) {
    parse_result<greeting> g = parse_greeting(in);
    if (g.what == status::need_more) return step::need_more;
    if (g.what == status::error) {
      _error = "bad SOCKS5 greeting: " + g.error;
      return step::error;
    }
    encode_method_choice(out, g.value.no_auth_offered);
    consumed = g.consumed;
    if (!g.value.no_auth_offered) {
      _error = "the SOCKS5 greeting does not offer \"no authentication\" (the link's TLS authenticates)";
      return step::error;
    }
    _greeted = true;
    in = in.subspan(g.consumed);
  }
  parse_result<request> r = parse_request(in);
  if (r.what == status::need_more) return step::need_more;
  if (r.what == status::error) {
    _error = "bad SOCKS5 request: " + r.error;
    return step::error;
  }
  consumed += r.consumed;
  _request = std::move(r.value);
  return step::request;
}

server_handshake::step server_handshake::feed(std::string& pending, std::string& out) {
  std::size_t consumed = 0;
  const step st = feed(std::as_bytes(std::span(pending.data(), pending.size())), out, consumed);
  pending.erase(0, consumed);  // need_more leaves less than a greeting or a request: bounded
  return st;
}

}  // namespace postern::net::socks5
