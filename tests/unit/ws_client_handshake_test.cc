#include "net/ws_client_handshake.h"

#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <string>
#include <vector>

#include "net/ws_handshake.h"

namespace postern::net {
namespace {

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// Response heads parsed by the real parser from text that the fixture keeps alive.
class ws_client_handshake : public ::testing::Test {
 protected:
  const http_response_head& parse(std::string text) {
    _texts.push_back(std::move(text));
    _heads.emplace_back();
    http_response_parser parser;
    const http_response_parse_result r = parser.parse(_texts.back(), _heads.back());
    EXPECT_EQ(r.status, http_parse_status::complete) << r.error_reason;
    EXPECT_EQ(r.head_bytes, _texts.back().size());
    return _heads.back();
  }

  // The RFC 6455 §1.3 answer to rfc_key, its fields replaced by the arguments (whole lines).
  static std::string response(std::string_view status_line = "HTTP/1.1 101 Switching Protocols\r\n",
                              std::string_view upgrade = "Upgrade: websocket\r\n",
                              std::string_view connection = "Connection: Upgrade\r\n",
                              std::string_view accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                              std::string_view extra = "") {
    std::string text(status_line);
    text += upgrade;
    text += connection;
    text += accept;
    text += extra;
    text += "\r\n";
    return text;
  }

  std::expected<std::string, std::string> check(std::string text,
                                                std::string_view offered = "chat, superchat") {
    return check_ws_upgrade_response(parse(std::move(text)), rfc_key, offered);
  }

  void expect_refused(std::string text, std::string_view sentence,
                      std::string_view offered = "chat, superchat") {
    SCOPED_TRACE(text);
    const auto r = check(std::move(text), offered);
    ASSERT_FALSE(r.has_value()) << "accepted, subprotocol '" << *r << "'";
    EXPECT_EQ(r.error(), sentence);
  }

 private:
  std::deque<std::string> _texts;  // a deque never moves its strings: the heads' views stay valid
  std::deque<http_response_head> _heads;
};

TEST_F(ws_client_handshake, keys_are_16_random_bytes_in_base64) {
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const std::string key = make_ws_key();
    ASSERT_EQ(key.size(), 24u) << key;
    EXPECT_EQ(key.substr(22), "==");
    // The 22nd character carries 2 bits of the last byte and 4 zero bits (RFC 4648 §4).
    EXPECT_NE(std::string_view("AQgw").find(key[21]), std::string_view::npos) << key;
    for (char c : key.substr(0, 22)) {
      const bool base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                          c == '+' || c == '/';
      EXPECT_TRUE(base64) << key;
    }
    seen.insert(key);
  }
  EXPECT_EQ(seen.size(), 64u);  // a repeat among 64 random 128-bit keys means no randomness
}

TEST_F(ws_client_handshake, builds_the_exact_request_bytes) {
  EXPECT_EQ(build_ws_upgrade_request("/chat?room=7", "server.example.com:8443", rfc_key, "chat, superchat",
                                     "X-Forwarded-For: 1.2.3.4\r\nOrigin: http://example.com\r\n"),
            "GET /chat?room=7 HTTP/1.1\r\n"
            "Host: server.example.com:8443\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat, superchat\r\n"
            "X-Forwarded-For: 1.2.3.4\r\n"
            "Origin: http://example.com\r\n"
            "\r\n");
  EXPECT_EQ(build_ws_upgrade_request("/", "[::1]:80", rfc_key, "", ""),
            "GET / HTTP/1.1\r\n"
            "Host: [::1]:80\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n");
}

// Client builds, server parses and checks, server answers, client parses and checks.
TEST_F(ws_client_handshake, round_trip_against_the_server_side) {
  const std::vector<std::string> service_protocols = {"superchat", "v2.echo"};
  struct case_t {
    std::string_view offered;
    std::string_view selected;
  };
  for (const case_t c : {case_t{"chat, superchat", "superchat"}, case_t{"v2.echo,superchat", "v2.echo"},
                         case_t{"chat", ""}, case_t{"", ""}}) {
    SCOPED_TRACE(std::string(c.offered));
    const std::string key = make_ws_key();
    const std::string request =
        build_ws_upgrade_request("/echo?x=1", "backend.internal:8080", key, c.offered,
                                 "X-Forwarded-For: 192.0.2.7\r\n");
    http_request_parser request_parser;
    http_request_head request_head;
    const http_parse_result parsed = request_parser.parse(request, request_head);
    ASSERT_EQ(parsed.status, http_parse_status::complete) << parsed.error_reason;
    ASSERT_EQ(parsed.head_bytes, request.size());
    EXPECT_EQ(request_head.target, "/echo?x=1");
    ASSERT_NE(request_head.find("X-Forwarded-For"), nullptr);
    EXPECT_EQ(request_head.find("X-Forwarded-For")->value, "192.0.2.7");

    const auto upgrade = check_ws_upgrade(request_head);
    ASSERT_TRUE(upgrade.has_value()) << to_string(upgrade.error());
    EXPECT_EQ(upgrade->key, key);
    EXPECT_EQ(upgrade->host, "backend.internal:8080");
    EXPECT_EQ(upgrade->protocols, c.offered);
    EXPECT_EQ(upgrade->extensions, "");
    const std::string_view chosen = select_ws_subprotocol(upgrade->protocols, service_protocols);
    EXPECT_EQ(chosen, c.selected);

    const std::string answer = build_ws_accept_response(upgrade->key, chosen) + "\x82\x01z";
    http_response_parser response_parser;
    http_response_head response_head;
    const http_response_parse_result r = response_parser.parse(answer, response_head);
    ASSERT_EQ(r.status, http_parse_status::complete) << r.error_reason;
    EXPECT_EQ(answer.substr(r.head_bytes), "\x82\x01z");
    const auto accepted = check_ws_upgrade_response(response_head, key, c.offered);
    ASSERT_TRUE(accepted.has_value()) << accepted.error();
    EXPECT_EQ(*accepted, c.selected);

    // The same answer checked against another key is refused.
    const auto other = check_ws_upgrade_response(response_head, make_ws_key(), c.offered);
    ASSERT_FALSE(other.has_value());
    EXPECT_EQ(other.error(), "backend's Sec-WebSocket-Accept does not match the key sent");
  }
}

TEST_F(ws_client_handshake, accepts_the_rfc_example) {
  EXPECT_EQ(ws_accept_key(rfc_key), rfc_accept);
  auto r = check(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n",
                          "Connection: Upgrade\r\n", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                          "Sec-WebSocket-Protocol: chat\r\n"));
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(*r, "chat");
  r = check(response(), "");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(*r, "");
}

TEST_F(ws_client_handshake, accepts_tokens_in_any_case_and_in_lists) {
  const auto r = check(response("HTTP/1.1 101 OK\r\n", "upgrade: WebSocket\r\n",
                                "CONNECTION: keep-alive\r\nconnection: foo,  UPGRADE \r\n",
                                "sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n",
                                "sec-websocket-protocol: superchat\r\nServer: x\r\n"),
                       " chat ,\tsuperchat ");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(*r, "superchat");
  // The version of the status-line is not one of RFC 6455's checks.
  EXPECT_TRUE(check(response("HTTP/1.0 101 Switching Protocols\r\n")).has_value());
}

TEST_F(ws_client_handshake, refuses_any_status_but_101) {
  expect_refused(response("HTTP/1.1 502 Bad Gateway\r\n"),
                 "backend answered 502 Bad Gateway instead of 101 Switching Protocols");
  expect_refused("HTTP/1.1 200 Whatever\r\nContent-Length: 0\r\n\r\n",
                 "backend answered 200 OK instead of 101 Switching Protocols");
  expect_refused("HTTP/1.1 418 I'm a teapot\r\n\r\n", "backend answered 418 instead of 101 Switching Protocols");
  expect_refused(response("HTTP/1.1 100 Continue\r\n"),
                 "backend answered 100 instead of 101 Switching Protocols");
  // The server side's own refusals, parsed as a backend's answers.
  for (const auto& [error, sentence] :
       {std::pair{ws_upgrade_error::bad_version, "backend answered 426 Upgrade Required"},
        std::pair{ws_upgrade_error::not_get, "backend answered 405 Method Not Allowed"},
        std::pair{ws_upgrade_error::bad_key, "backend answered 400 Bad Request"}}) {
    const std::string refusal = build_ws_refusal(error);
    http_response_parser parser;
    http_response_head head;
    ASSERT_EQ(parser.parse(refusal, head).status, http_parse_status::complete);
    const auto r = check_ws_upgrade_response(head, rfc_key, "");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), std::string(sentence) + " instead of 101 Switching Protocols");
  }
}

TEST_F(ws_client_handshake, refuses_missing_upgrade_or_connection) {
  constexpr std::string_view no_upgrade = "backend's 101 lacks Upgrade: websocket";
  constexpr std::string_view no_connection = "backend's 101 lacks Connection: Upgrade";
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", ""), no_upgrade);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: h2c\r\n"), no_upgrade);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websockets\r\n"), no_upgrade);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "X-Upgrade: websocket\r\n"), no_upgrade);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n", ""),
                 no_connection);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n",
                          "Connection: keep-alive\r\n"),
                 no_connection);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n",
                          "Connection: upgraded\r\n"),
                 no_connection);
}

TEST_F(ws_client_handshake, refuses_a_wrong_accept) {
  const std::string_view status = "HTTP/1.1 101 Switching Protocols\r\n";
  const std::string_view upgrade = "Upgrade: websocket\r\n";
  const std::string_view connection = "Connection: Upgrade\r\n";
  constexpr std::string_view mismatch = "backend's Sec-WebSocket-Accept does not match the key sent";
  expect_refused(response(status, upgrade, connection, ""), "backend's 101 lacks Sec-WebSocket-Accept");
  expect_refused(response(status, upgrade, connection, "Sec-WebSocket-Accept:\r\n"),
                 "backend's 101 lacks Sec-WebSocket-Accept");
  expect_refused(response(status, upgrade, connection,
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                 "backend's 101 repeats Sec-WebSocket-Accept");
  // The accept of another key (the RFC's second example), the key itself, a changed case.
  expect_refused(response(status, upgrade, connection, "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n"),
                 mismatch);
  expect_refused(response(status, upgrade, connection, "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
                 mismatch);
  expect_refused(response(status, upgrade, connection, "Sec-WebSocket-Accept: S3PPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                 mismatch);
  expect_refused(response(status, upgrade, connection, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n"),
                 mismatch);
}

TEST_F(ws_client_handshake, refuses_extensions_since_none_are_offered) {
  constexpr std::string_view sentence =
      "backend's 101 selects a WebSocket extension, but none was offered (Sec-WebSocket-Extensions)";
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                          "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
                 sentence);
  expect_refused(response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n",
                          "Connection: Upgrade\r\n", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                          "sec-websocket-extensions:\r\n"),
                 sentence);
}

TEST_F(ws_client_handshake, refuses_a_subprotocol_that_was_not_offered) {
  const auto with_protocol = [](std::string_view lines) {
    return response("HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", lines);
  };
  expect_refused(with_protocol("Sec-WebSocket-Protocol: chat\r\n"),
                 "backend selected subprotocol \"chat\", which was not offered", "");
  expect_refused(with_protocol("Sec-WebSocket-Protocol: mqtt\r\n"),
                 "backend selected subprotocol \"mqtt\", which was not offered");
  expect_refused(with_protocol("Sec-WebSocket-Protocol: Chat\r\n"),  // names compare exactly
                 "backend selected subprotocol \"Chat\", which was not offered");
  expect_refused(with_protocol("Sec-WebSocket-Protocol: chat\r\n"),  // a prefix is not an element
                 "backend selected subprotocol \"chat\", which was not offered", "chatty, superchat");
  expect_refused(with_protocol("Sec-WebSocket-Protocol: " + std::string(65, 'p') + "\r\n"),
                 "backend selected a subprotocol that was not offered");
  EXPECT_EQ(*check(with_protocol("Sec-WebSocket-Protocol: " + std::string(65, 'p') + "\r\n"),
                   "x, " + std::string(65, 'p')),
            std::string(65, 'p'));
  expect_refused(with_protocol("Sec-WebSocket-Protocol: chat, superchat\r\n"),
                 "backend selected more than one subprotocol");
  expect_refused(with_protocol("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
                 "backend selected more than one subprotocol");
  for (std::string_view bad : {"", "chat superchat", "\"chat\"", "ch\xc3\xa4t", "chat;q=1"}) {
    expect_refused(with_protocol("Sec-WebSocket-Protocol: " + std::string(bad) + "\r\n"),
                   "backend sent an invalid Sec-WebSocket-Protocol (expected one token)");
  }
}

TEST_F(ws_client_handshake, checks_in_the_order_of_rfc_6455) {
  // Every fault at once: the status is named first, then each later check in turn.
  const std::string_view accept_line = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
  const std::string_view bad_extras = "Sec-WebSocket-Extensions: x\r\nSec-WebSocket-Protocol: mqtt\r\n";
  expect_refused(response("HTTP/1.1 200 OK\r\n", "", "", "", bad_extras),
                 "backend answered 200 OK instead of 101 Switching Protocols");
  expect_refused(response("HTTP/1.1 101 x\r\n", "", "", "", bad_extras), "backend's 101 lacks Upgrade: websocket");
  expect_refused(response("HTTP/1.1 101 x\r\n", "Upgrade: websocket\r\n", "", "", bad_extras),
                 "backend's 101 lacks Connection: Upgrade");
  expect_refused(response("HTTP/1.1 101 x\r\n", "Upgrade: websocket\r\n", "Connection: upgrade\r\n", "",
                          bad_extras),
                 "backend's 101 lacks Sec-WebSocket-Accept");
  expect_refused(response("HTTP/1.1 101 x\r\n", "Upgrade: websocket\r\n", "Connection: upgrade\r\n",
                          accept_line, bad_extras),
                 "backend's 101 selects a WebSocket extension, but none was offered (Sec-WebSocket-Extensions)");
}

TEST(forwarded_for, appends_the_client_unless_it_is_already_last) {
  EXPECT_EQ(forwarded_for_value("", "192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(forwarded_for_value("  ", "192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(forwarded_for_value("198.51.100.1", "192.0.2.7"), "198.51.100.1, 192.0.2.7");
  EXPECT_EQ(forwarded_for_value("198.51.100.1, 203.0.113.9", "192.0.2.7"), "198.51.100.1, 203.0.113.9, 192.0.2.7");
  // Over a reverse link the DMZ already appended the client the internal gateway sees.
  EXPECT_EQ(forwarded_for_value("192.0.2.7", "192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(forwarded_for_value("198.51.100.1,192.0.2.7 ", "192.0.2.7"), "198.51.100.1,192.0.2.7");
  // Only the last entry counts: a client that went through the chain twice is kept.
  EXPECT_EQ(forwarded_for_value("192.0.2.7, 198.51.100.1", "192.0.2.7"), "192.0.2.7, 198.51.100.1, 192.0.2.7");
  EXPECT_EQ(forwarded_for_value("2001:db8::1", "2001:db8::1"), "2001:db8::1");
}

}  // namespace
}  // namespace postern::net
