// socks5: the reverse link's wire format (DESIGN §5), SOCKS5 as RFC 1928 defines it, limited to
// what postern speaks: the no-authentication method (the link's mutual TLS authenticates) and
// requests whose address may be IPv4, a DOMAINNAME (the logical URI, e.g.
// "wss://gateway.example.com:8443/app1") or IPv6. Pure encoders and pull-style parsers (STYLE 3):
// they touch nothing but the bytes they are given; no socket, no logging, no allocation beyond
// the std::string/std::vector of the values they return.
//
// Conversation on a reverse link (internal side dials the DMZ):
//   internal -> DMZ   greeting 05 01 00, then request 05 02(BIND) 00 03 LEN URI PORT
//   DMZ -> internal   method choice 05 00 (05 FF: nothing acceptable), first reply 05 00 00 ..
//                     (link parked; bound address = the DMZ's backplane address), later the
//                     second reply 05 00 00 .. carrying the client's address; then the client's
//                     stream follows on the same bytes.
// In forward mode the DMZ sends CONNECT (1) with the same DOMAINNAME and gets one reply.
//
// Deliberately free of <expected> and net/address.h: the fuzz build uses clang 14, whose
// libstdc++ lacks <expected>.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postern::net::socks5 {

inline constexpr std::uint8_t version = 5;
inline constexpr std::uint8_t method_no_auth = 0x00;
inline constexpr std::uint8_t method_none_acceptable = 0xFF;
inline constexpr std::size_t max_domain_bytes = 255;
// The longest request or reply: VER CMD RSV ATYP, length byte, 255 name bytes, PORT.
inline constexpr std::size_t max_request_bytes = 4 + 1 + max_domain_bytes + 2;

enum class command : std::uint8_t { connect = 1, bind = 2, udp_associate = 3 };

// RFC 1928 §6. Any other byte may arrive in a reply; to_string names it "unassigned reply code".
enum class reply_code : std::uint8_t {
  succeeded = 0,
  general_failure = 1,
  not_allowed = 2,
  network_unreachable = 3,
  host_unreachable = 4,
  connection_refused = 5,
  ttl_expired = 6,
  command_not_supported = 7,
  address_type_not_supported = 8,
};

// RFC 1928's wording, lower case: "succeeded", "general SOCKS server failure", "connection not
// allowed by ruleset", ...; "unassigned reply code" for 9..255.
std::string_view to_string(reply_code code) noexcept;
// "connect", "bind", "UDP associate"; "unknown command" for anything else.
std::string_view to_string(command cmd) noexcept;

// What ATYP/ADDR/PORT carry. Only the fields of `type` are meaningful; the others stay at their
// defaults (zero ip bytes, empty domain) so that == compares parsed and built values exactly.
struct address {
  enum class kind : std::uint8_t { ipv4 = 1, domain = 3, ipv6 = 4 };
  kind type = kind::ipv4;
  std::array<std::uint8_t, 16> ip{};  // network byte order; ipv4 in the first 4 bytes
  std::string domain;                 // kind::domain: 1..255 bytes on the wire
  std::uint16_t port = 0;             // host byte order

  // AF_INET or AF_INET6 (the IPv6 scope id and flow info are not carried); anything else,
  // nullptr included: 0.0.0.0:0.
  static address from_sockaddr(const sockaddr* sa);
  // No length check here: the encoders refuse an empty or over-long name.
  static address from_domain(std::string_view name, std::uint16_t port);
  // For ip kinds: fills storage and len (sizeof sockaddr_in or sockaddr_in6), returns true.
  // For a domain (or an unknown kind): false, storage and len untouched.
  bool to_sockaddr(sockaddr_storage& storage, socklen_t& len) const;
  // "127.0.0.1:40000", "[::1]:40000", "name:port".
  std::string to_string() const;
  friend bool operator==(const address&, const address&) = default;
};

// Encoders append to out.
void encode_greeting(std::string& out);  // 05 01 00
// 05 N methods; false, appending nothing, unless 1 <= N <= 255.
bool encode_greeting(std::string& out, std::span<const std::uint8_t> methods);
void encode_method_choice(std::string& out, bool acceptable);  // 05 00 | 05 FF
// False, appending nothing, when the address cannot be sent: a domain that is empty or longer
// than 255 bytes, or a kind outside ipv4/domain/ipv6.
bool encode_request(std::string& out, command cmd, const address& target);
bool encode_reply(std::string& out, reply_code code, const address& bound);

// Parsers. Each looks at the bytes received so far (the caller accumulates them) and returns
//   need_more  the message is not complete; consumed 0; call again with more bytes
//   done       consumed = the message's length; bytes past it belong to what follows
//   error      consumed 0; error = a sentence naming the problem, e.g. "SOCKS version 4,
//              expected 5", "reserved byte 0x01, expected 0", "unknown address type 0x05"
// Every check is made as soon as the byte it needs has arrived, so a bad version is an error
// after one byte, whatever follows. value is meaningful only with done.
enum class status : std::uint8_t { need_more, done, error };

struct greeting {  // the server reads it
  bool no_auth_offered = false;
  std::vector<std::uint8_t> methods;  // as offered, in order, 1..255 of them
};
struct request {  // the server reads it
  command cmd = command::connect;
  address target;
};
struct reply {  // the client reads it
  reply_code code = reply_code::succeeded;
  address bound;
};

template <class T>
struct parse_result {
  status what = status::need_more;
  std::size_t consumed = 0;
  T value{};
  std::string error;
};

// NMETHODS 0 is an error ("greeting offers no methods"); unknown methods are not (they are
// simply not chosen).
parse_result<greeting> parse_greeting(std::span<const std::byte> in);
// value: true when 00 (no authentication) was chosen, false for FF; any other method: error.
parse_result<bool> parse_method_choice(std::span<const std::byte> in);
// CMD 1, 2, 3: done; any other: error "unknown command 0x..".
parse_result<request> parse_request(std::span<const std::byte> in);
// Any REP is done with that code, unassigned ones included: the caller decides what it means.
parse_result<reply> parse_reply(std::span<const std::byte> in);

// The server's side of the handshake up to the request, for one connection: the greeting (only
// "no authentication" is accepted: the link's TLS authenticates), then the request. feed() looks
// at the bytes received and not yet consumed (the caller accumulates them and erases `consumed`
// after each call) and appends to out what the server must send:
//   need_more  more bytes are needed (out may hold the method choice already, consumed its greeting)
//   request    the request arrived (received()); the caller answers it with encode_reply
//   error      error() names the problem; out may hold a method refusal (05 FF) to send before closing
class server_handshake {
 public:
  enum class step : std::uint8_t { need_more, request, error };
  step feed(std::span<const std::byte> in, std::string& out, std::size_t& consumed);
  // The same on the caller's accumulated bytes, erasing what was consumed.
  step feed(std::string& pending, std::string& out);
  const request& received() const noexcept { return _request; }
  const std::string& error() const noexcept { return _error; }

 private:
  bool _greeted = false;
  request _request;
  std::string _error;
};

}  // namespace postern::net::socks5
