// socks5: the reverse link's messages byte for byte, encoder/parser round trips for every message
// and address kind, every valid message split at every byte offset (need_more until the last
// byte, then done with the trailing bytes left alone), every error with its sentence and the
// byte count at which it is first reported, and a whole reverse-link conversation.
#include "net/socks5.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace postern::net::socks5 {
namespace {

using bytes = std::vector<std::byte>;

const std::string logical_uri = "wss://gateway.example.com:8443/app1";

bytes s(std::string_view text) {
  bytes out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

bytes cat(bytes a, const bytes& rest) {
  a.insert(a.end(), rest.begin(), rest.end());
  return a;
}

// What follows a message on the wire; the parsers must leave it unconsumed.
const bytes trailer = s(std::string("\x05\xFF\x00GET / HTTP/1.1\r\n", 19));

address ipv4(const char* text, std::uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, text, &in.sin_addr), 1);
  return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&in));
}

address ipv6(const char* text, std::uint16_t port) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
  return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6));
}

// Feeds every proper prefix of message (each in a buffer of its own size, so a sanitizer sees
// any read past it): need_more, consumed 0. Then message followed by trailer: done, consumed
// exactly message.size(). Returns the parsed value.
template <class Parser>
auto parse_split(Parser parse, const bytes& message) {
  for (std::size_t k = 0; k < message.size(); ++k) {
    const bytes prefix(message.begin(), message.begin() + static_cast<long>(k));
    const auto r = parse(prefix);
    EXPECT_EQ(r.what, status::need_more) << "after " << k << " of " << message.size() << " bytes: " << r.error;
    EXPECT_EQ(r.consumed, 0u) << "after " << k << " bytes";
  }
  const auto exact = parse(message);
  EXPECT_EQ(exact.what, status::done) << exact.error;
  EXPECT_EQ(exact.consumed, message.size());
  const auto r = parse(cat(message, trailer));
  EXPECT_EQ(r.what, status::done) << r.error;
  EXPECT_EQ(r.consumed, message.size());
  EXPECT_EQ(r.error, "");
  return r.value;
}

// The first `decided_by` bytes of input are what decide the error: fewer give need_more, that
// many or more (up to the whole input) give error with `sentence` and consume nothing.
template <class Parser>
void expect_error(Parser parse, const bytes& input, std::size_t decided_by, std::string_view sentence) {
  ASSERT_LE(decided_by, input.size());
  for (std::size_t k = 0; k <= input.size(); ++k) {
    const bytes prefix(input.begin(), input.begin() + static_cast<long>(k));
    const auto r = parse(prefix);
    if (k < decided_by) {
      EXPECT_EQ(r.what, status::need_more) << "after " << k << " bytes: " << r.error;
    } else {
      EXPECT_EQ(r.what, status::error) << "after " << k << " bytes";
      EXPECT_EQ(r.error, sentence) << "after " << k << " bytes";
    }
    EXPECT_EQ(r.consumed, 0u) << "after " << k << " bytes";
  }
}

std::string encoded_request(command cmd, const address& target) {
  std::string out;
  EXPECT_TRUE(encode_request(out, cmd, target));
  return out;
}

std::string encoded_reply(reply_code code, const address& bound) {
  std::string out;
  EXPECT_TRUE(encode_reply(out, code, bound));
  return out;
}

TEST(Socks5Greeting, EncodesNoAuthenticationOnlyAndParsesBack) {
  std::string out = "x";
  encode_greeting(out);
  EXPECT_EQ(out, std::string("x\x05\x01\x00", 4));
  const greeting g = parse_split(parse_greeting, s(out.substr(1)));
  EXPECT_TRUE(g.no_auth_offered);
  EXPECT_EQ(g.methods, std::vector<std::uint8_t>{0});
}

TEST(Socks5Greeting, SeveralMethodsKeepTheirOrder) {
  const std::vector<std::uint8_t> methods = {2, 0x80, 0};
  std::string out;
  ASSERT_TRUE(encode_greeting(out, methods));
  EXPECT_EQ(out, std::string("\x05\x03\x02\x80\x00", 5));
  const greeting g = parse_split(parse_greeting, s(out));
  EXPECT_TRUE(g.no_auth_offered);
  EXPECT_EQ(g.methods, methods);
}

TEST(Socks5Greeting, WithoutNoAuthenticationIsStillAGreeting) {
  const greeting g = parse_split(parse_greeting, s("\x05\x02\x01\x02"));
  EXPECT_FALSE(g.no_auth_offered);
  EXPECT_EQ(g.methods, (std::vector<std::uint8_t>{1, 2}));
}

TEST(Socks5Greeting, AllMethodsAtOnce) {
  std::vector<std::uint8_t> methods(255);
  for (std::size_t i = 0; i < methods.size(); ++i) methods[i] = static_cast<std::uint8_t>(254 - i);  // 254 down to 0
  std::string out;
  ASSERT_TRUE(encode_greeting(out, methods));
  EXPECT_EQ(out.size(), 257u);
  const greeting g = parse_split(parse_greeting, s(out));
  EXPECT_TRUE(g.no_auth_offered);
  EXPECT_EQ(g.methods, methods);
}

TEST(Socks5Greeting, EncoderRefusesNoMethodsAndTooMany) {
  std::string out = "kept";
  EXPECT_FALSE(encode_greeting(out, std::vector<std::uint8_t>{}));
  EXPECT_FALSE(encode_greeting(out, std::vector<std::uint8_t>(256, 0)));
  EXPECT_EQ(out, "kept");
}

TEST(Socks5Greeting, Errors) {
  expect_error(parse_greeting, s(std::string("\x04\x01\x00", 3)), 1, "SOCKS version 4, expected 5");
  expect_error(parse_greeting, s(std::string("\x00\x01\x00", 3)), 1, "SOCKS version 0, expected 5");
  expect_error(parse_greeting, s(std::string("\x05\x00\x00", 3)), 2, "greeting offers no methods");
}

TEST(Socks5MethodChoice, AcceptableAndNot) {
  std::string out;
  encode_method_choice(out, true);
  EXPECT_EQ(out, std::string("\x05\x00", 2));
  EXPECT_TRUE(parse_split(parse_method_choice, s(out)));
  out.clear();
  encode_method_choice(out, false);
  EXPECT_EQ(out, "\x05\xFF");
  EXPECT_FALSE(parse_split(parse_method_choice, s(out)));
}

TEST(Socks5MethodChoice, Errors) {
  expect_error(parse_method_choice, s("\x06\x00"), 1, "SOCKS version 6, expected 5");
  expect_error(parse_method_choice, s("\x05\x02"), 2, "method 0x02 chosen, expected 0x00 or 0xFF");
  expect_error(parse_method_choice, s("\x05\x01"), 2, "method 0x01 chosen, expected 0x00 or 0xFF");
  expect_error(parse_method_choice, s("\x05\xFE"), 2, "method 0xFE chosen, expected 0x00 or 0xFF");
}

TEST(Socks5Request, ReverseBindCarriesTheLogicalUri) {
  const std::string wire = encoded_request(command::bind, address::from_domain(logical_uri, 8443));
  EXPECT_EQ(wire, std::string("\x05\x02\x00\x03\x23", 5) + logical_uri + "\x20\xFB");
  const request r = parse_split(parse_request, s(wire));
  EXPECT_EQ(r.cmd, command::bind);
  EXPECT_EQ(r.target.type, address::kind::domain);
  EXPECT_EQ(r.target.domain, logical_uri);
  EXPECT_EQ(r.target.port, 8443);
  EXPECT_EQ(r.target, address::from_domain(logical_uri, 8443));
  EXPECT_EQ(r.target.to_string(), logical_uri + ":8443");
}

TEST(Socks5Request, EveryCommandAndAddressKindRoundTrips) {
  const address targets[] = {
      address::from_domain(logical_uri, 8443),
      address::from_domain("x", 0),
      ipv4("192.0.2.7", 65535),
      ipv6("2001:db8::1:2", 1),
  };
  for (command cmd : {command::connect, command::bind, command::udp_associate}) {
    for (const address& target : targets) {
      SCOPED_TRACE(std::string(to_string(cmd)) + " " + target.to_string());
      const std::string wire = encoded_request(cmd, target);
      EXPECT_EQ(static_cast<std::uint8_t>(wire[1]), static_cast<std::uint8_t>(cmd));
      const request r = parse_split(parse_request, s(wire));
      EXPECT_EQ(r.cmd, cmd);
      EXPECT_EQ(r.target, target);
    }
  }
}

TEST(Socks5Request, Ipv4AndIpv6Bytes) {
  EXPECT_EQ(encoded_request(command::connect, ipv4("10.1.2.3", 443)),
            std::string("\x05\x01\x00\x01\x0A\x01\x02\x03\x01\xBB", 10));
  EXPECT_EQ(encoded_request(command::connect, ipv6("::1", 80)),
            std::string("\x05\x01\x00\x04", 4) + std::string(15, '\0') + "\x01" + std::string("\x00\x50", 2));
}

TEST(Socks5Request, DomainLengthLimits) {
  const std::string longest(255, 'a');
  const std::string wire = encoded_request(command::bind, address::from_domain(longest, 1));
  EXPECT_EQ(wire.size(), max_request_bytes);
  EXPECT_EQ(static_cast<std::uint8_t>(wire[4]), 255);
  EXPECT_EQ(parse_split(parse_request, s(wire)).target.domain, longest);

  std::string out = "kept";
  EXPECT_FALSE(encode_request(out, command::bind, address::from_domain(std::string(256, 'a'), 1)));
  EXPECT_FALSE(encode_request(out, command::bind, address::from_domain("", 1)));
  EXPECT_FALSE(encode_reply(out, reply_code::succeeded, address::from_domain(std::string(256, 'a'), 1)));
  EXPECT_FALSE(encode_reply(out, reply_code::succeeded, address::from_domain("", 1)));
  EXPECT_EQ(out, "kept");
}

TEST(Socks5Request, Errors) {
  const std::string good = encoded_request(command::bind, address::from_domain("name", 1));
  expect_error(parse_request, s("\x04" + good.substr(1)), 1, "SOCKS version 4, expected 5");
  expect_error(parse_request, s(std::string("\x05\x00", 2) + good.substr(2)), 2, "unknown command 0x00");
  expect_error(parse_request, s("\x05\x04" + good.substr(2)), 2, "unknown command 0x04");
  expect_error(parse_request, s("\x05\xFF" + good.substr(2)), 2, "unknown command 0xFF");
  expect_error(parse_request, s("\x05\x02\x01" + good.substr(3)), 3, "reserved byte 0x01, expected 0");
  expect_error(parse_request, s(std::string("\x05\x02\x00\x05", 4) + good.substr(4)), 4, "unknown address type 0x05");
  expect_error(parse_request, s(std::string("\x05\x02\x00\x00", 4) + good.substr(4)), 4, "unknown address type 0x00");
  expect_error(parse_request, s(std::string("\x05\x02\x00\x02", 4) + good.substr(4)), 4, "unknown address type 0x02");
  expect_error(parse_request, s(std::string("\x05\x02\x00\x03\x00\x00\x01", 7)), 5, "domain name of length 0");
}

TEST(Socks5Reply, FirstAndSecondBindReplies) {
  const address backplane = ipv4("127.0.0.2", 1443);
  const std::string first = encoded_reply(reply_code::succeeded, backplane);
  EXPECT_EQ(first, std::string("\x05\x00\x00\x01\x7F\x00\x00\x02\x05\xA3", 10));
  const reply r1 = parse_split(parse_reply, s(first));
  EXPECT_EQ(r1.code, reply_code::succeeded);
  EXPECT_EQ(r1.bound, backplane);
  EXPECT_EQ(r1.bound.to_string(), "127.0.0.2:1443");

  const address client = ipv6("2001:db8::42", 40000);
  const reply r2 = parse_split(parse_reply, s(encoded_reply(reply_code::succeeded, client)));
  EXPECT_EQ(r2.code, reply_code::succeeded);
  EXPECT_EQ(r2.bound, client);
  EXPECT_EQ(r2.bound.to_string(), "[2001:db8::42]:40000");
}

TEST(Socks5Reply, EveryCodeAndAddressKindRoundTrips) {
  const address bounds[] = {ipv4("0.0.0.0", 0), ipv6("::", 0), address::from_domain("dmz.example", 1443)};
  for (int code = 0; code <= 255; ++code) {
    for (const address& bound : bounds) {
      SCOPED_TRACE(std::to_string(code) + " " + bound.to_string());
      const reply r = parse_split(parse_reply, s(encoded_reply(static_cast<reply_code>(code), bound)));
      EXPECT_EQ(static_cast<int>(r.code), code);
      EXPECT_EQ(r.bound, bound);
    }
  }
}

TEST(Socks5Reply, FailureIsDoneWithItsCode) {
  const reply r = parse_split(parse_reply, s(std::string("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10)));
  EXPECT_EQ(r.code, reply_code::connection_refused);
  EXPECT_EQ(to_string(r.code), "connection refused");
}

TEST(Socks5Reply, Errors) {
  const std::string good = encoded_reply(reply_code::succeeded, ipv4("127.0.0.1", 1));
  expect_error(parse_reply, s("\x04" + good.substr(1)), 1, "SOCKS version 4, expected 5");
  expect_error(parse_reply, s(std::string("\x05\x00\x7F", 3) + good.substr(3)), 3, "reserved byte 0x7F, expected 0");
  expect_error(parse_reply, s(std::string("\x05\x00\x00\x06", 4) + good.substr(4)), 4, "unknown address type 0x06");
  expect_error(parse_reply, s(std::string("\x05\x00\x00\x03\x00\x00\x01", 7)), 5, "domain name of length 0");
}

TEST(Socks5Names, ReplyCodesAndCommands) {
  EXPECT_EQ(to_string(reply_code::succeeded), "succeeded");
  EXPECT_EQ(to_string(reply_code::general_failure), "general SOCKS server failure");
  EXPECT_EQ(to_string(reply_code::not_allowed), "connection not allowed by ruleset");
  EXPECT_EQ(to_string(reply_code::network_unreachable), "network unreachable");
  EXPECT_EQ(to_string(reply_code::host_unreachable), "host unreachable");
  EXPECT_EQ(to_string(reply_code::connection_refused), "connection refused");
  EXPECT_EQ(to_string(reply_code::ttl_expired), "TTL expired");
  EXPECT_EQ(to_string(reply_code::command_not_supported), "command not supported");
  EXPECT_EQ(to_string(reply_code::address_type_not_supported), "address type not supported");
  EXPECT_EQ(to_string(static_cast<reply_code>(9)), "unassigned reply code");
  EXPECT_EQ(to_string(static_cast<reply_code>(255)), "unassigned reply code");
  EXPECT_EQ(to_string(command::connect), "connect");
  EXPECT_EQ(to_string(command::bind), "bind");
  EXPECT_EQ(to_string(command::udp_associate), "UDP associate");
  EXPECT_EQ(to_string(static_cast<command>(9)), "unknown command");
}

TEST(Socks5Address, Ipv6ThroughSockaddrAndBack) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(40000);
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8:0:1::abcd", &in6.sin6_addr), 1);
  const address a = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&in6));
  EXPECT_EQ(a.type, address::kind::ipv6);
  EXPECT_EQ(a.port, 40000);
  EXPECT_EQ(a.to_string(), "[2001:db8:0:1::abcd]:40000");

  sockaddr_storage storage;
  std::memset(&storage, 0xAA, sizeof storage);
  socklen_t len = 0;
  ASSERT_TRUE(a.to_sockaddr(storage, len));
  ASSERT_EQ(len, sizeof(sockaddr_in6));
  const auto* back = reinterpret_cast<const sockaddr_in6*>(&storage);
  EXPECT_EQ(back->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(back->sin6_port), 40000);
  EXPECT_EQ(std::memcmp(&back->sin6_addr, &in6.sin6_addr, 16), 0);
  EXPECT_EQ(back->sin6_flowinfo, 0u);
  EXPECT_EQ(back->sin6_scope_id, 0u);
  EXPECT_EQ(address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage)), a);

  const reply r = parse_split(parse_reply, s(encoded_reply(reply_code::succeeded, a)));
  EXPECT_EQ(r.bound, a);
}

TEST(Socks5Address, Ipv4ThroughSockaddrAndBack) {
  const address a = ipv4("127.0.0.1", 40000);
  EXPECT_EQ(a.type, address::kind::ipv4);
  EXPECT_EQ(a.to_string(), "127.0.0.1:40000");
  sockaddr_storage storage{};
  socklen_t len = 0;
  ASSERT_TRUE(a.to_sockaddr(storage, len));
  ASSERT_EQ(len, sizeof(sockaddr_in));
  const auto* back = reinterpret_cast<const sockaddr_in*>(&storage);
  EXPECT_EQ(back->sin_family, AF_INET);
  EXPECT_EQ(ntohs(back->sin_port), 40000);
  EXPECT_EQ(ntohl(back->sin_addr.s_addr), 0x7F000001u);
  EXPECT_EQ(address::from_sockaddr(reinterpret_cast<const sockaddr*>(&storage)), a);
}

TEST(Socks5Address, DomainAndOtherFamilies) {
  const address d = address::from_domain("dmz.example", 1443);
  EXPECT_EQ(d.to_string(), "dmz.example:1443");
  sockaddr_storage storage{};
  socklen_t len = 7;
  EXPECT_FALSE(d.to_sockaddr(storage, len));
  EXPECT_EQ(len, 7u);

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const address other = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&un));
  EXPECT_EQ(other, address{});
  EXPECT_EQ(other.to_string(), "0.0.0.0:0");
  EXPECT_EQ(address::from_sockaddr(nullptr).to_string(), "0.0.0.0:0");
}

// The whole reverse link as each side sees its input stream: each parser takes its message off
// the front and leaves the rest, down to the client's stream after the second reply.
// The server's handshake fed the greeting and a BIND split at every byte offset, accumulating as
// a connection does: the method choice goes out once the greeting is whole, the request comes
// once it is whole, and the bytes after it are left alone.
TEST(Socks5ServerHandshake, GreetingAndRequestAtEverySplit) {
  std::string wire;
  encode_greeting(wire);
  ASSERT_TRUE(encode_request(wire, command::bind, address::from_domain(logical_uri, 8443)));
  const std::string after = "GET /";
  const std::string all = wire + after;
  for (std::size_t split = 0; split < wire.size(); ++split) {  // the request ends in the second chunk
    SCOPED_TRACE("split at " + std::to_string(split));
    server_handshake h;
    std::string pending, out;
    std::size_t consumed = 0;
    server_handshake::step st = server_handshake::step::need_more;
    for (std::string_view chunk : {std::string_view(all).substr(0, split), std::string_view(all).substr(split)}) {
      pending.append(chunk);
      st = h.feed(std::as_bytes(std::span(pending.data(), pending.size())), out, consumed);
      pending.erase(0, consumed);
      if (st != server_handshake::step::need_more) break;
    }
    ASSERT_EQ(st, server_handshake::step::request);
    EXPECT_EQ(out, std::string("\x05\x00", 2));
    EXPECT_EQ(h.received().cmd, command::bind);
    EXPECT_EQ(h.received().target.domain, logical_uri);
    EXPECT_EQ(h.received().target.port, 8443);
    EXPECT_EQ(pending, after);
  }
}

TEST(Socks5ServerHandshake, RefusesAGreetingWithoutNoAuthentication) {
  server_handshake h;
  std::string out;
  std::size_t consumed = 0;
  const std::string greeting("\x05\x01\x02", 3);  // username/password only
  EXPECT_EQ(h.feed(std::as_bytes(std::span(greeting.data(), greeting.size())), out, consumed),
            server_handshake::step::error);
  EXPECT_EQ(out, std::string("\x05\xFF", 2));
  EXPECT_NE(h.error().find("no authentication"), std::string::npos) << h.error();
}

TEST(Socks5ServerHandshake, NamesABadRequest) {
  server_handshake h;
  std::string out;
  std::size_t consumed = 0;
  const std::string wire("\x05\x01\x00\x05\x09\x00", 6);  // greeting, then an unknown command
  EXPECT_EQ(h.feed(std::as_bytes(std::span(wire.data(), wire.size())), out, consumed), server_handshake::step::error);
  EXPECT_EQ(h.error(), "bad SOCKS5 request: unknown command 0x09");
}

TEST(Socks5Conversation, ReverseLinkHandsOverAClient) {
  std::string from_internal;
  encode_greeting(from_internal);
  ASSERT_TRUE(encode_request(from_internal, command::bind, address::from_domain(logical_uri, 8443)));
  bytes in = s(from_internal);
  std::span<const std::byte> rest(in);
  const auto g = parse_greeting(rest);
  ASSERT_EQ(g.what, status::done);
  EXPECT_TRUE(g.value.no_auth_offered);
  rest = rest.subspan(g.consumed);
  const auto req = parse_request(rest);
  ASSERT_EQ(req.what, status::done);
  EXPECT_EQ(req.value.cmd, command::bind);
  EXPECT_EQ(req.value.target.domain, logical_uri);
  EXPECT_EQ(req.consumed, rest.size());

  std::string from_dmz;
  encode_method_choice(from_dmz, g.value.no_auth_offered);
  ASSERT_TRUE(encode_reply(from_dmz, reply_code::succeeded, ipv4("127.0.0.2", 1443)));
  ASSERT_TRUE(encode_reply(from_dmz, reply_code::succeeded, ipv4("198.51.100.9", 51000)));
  from_dmz += "GET /app1 HTTP/1.1\r\n";
  in = s(from_dmz);
  rest = std::span<const std::byte>(in);
  const auto choice = parse_method_choice(rest);
  ASSERT_EQ(choice.what, status::done);
  EXPECT_TRUE(choice.value);
  rest = rest.subspan(choice.consumed);
  const auto parked = parse_reply(rest);
  ASSERT_EQ(parked.what, status::done);
  EXPECT_EQ(parked.value.bound.to_string(), "127.0.0.2:1443");
  rest = rest.subspan(parked.consumed);
  const auto handed_over = parse_reply(rest);
  ASSERT_EQ(handed_over.what, status::done);
  EXPECT_EQ(handed_over.value.code, reply_code::succeeded);
  EXPECT_EQ(handed_over.value.bound.to_string(), "198.51.100.9:51000");
  rest = rest.subspan(handed_over.consumed);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rest.data()), rest.size()), "GET /app1 HTTP/1.1\r\n");
}

}  // namespace
}  // namespace postern::net::socks5
