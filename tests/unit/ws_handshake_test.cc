#include "net/ws_handshake.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace postern::net {
namespace {

// A request head parsed by the real parser from text, which the fixture keeps alive.
class ws_handshake : public ::testing::Test {
 protected:
  const http_request_head& parse(std::string text) {
    _text = std::move(text);
    http_request_parser parser;
    const http_parse_result r = parser.parse(_text, _head);
    EXPECT_EQ(r.status, http_parse_status::complete) << r.error_reason;
    return _head;
  }

  // A valid upgrade request; fields are replaced or appended with extra (whole lines).
  static std::string request(std::string_view method = "GET", std::string_view version = "1.1",
                             std::string_view upgrade = "Upgrade: websocket\r\n",
                             std::string_view connection = "Connection: Upgrade\r\n",
                             std::string_view key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                             std::string_view ws_version = "Sec-WebSocket-Version: 13\r\n",
                             std::string_view extra = "") {
    std::string text(method);
    text += " /chat HTTP/";
    text += version;
    text += "\r\nHost: server.example.com\r\n";
    text += upgrade;
    text += connection;
    text += key;
    text += ws_version;
    text += extra;
    text += "\r\n";
    return text;
  }

  std::expected<ws_upgrade_request, ws_upgrade_error> check(std::string text) {
    return check_ws_upgrade(parse(std::move(text)));
  }

 private:
  std::string _text;
  http_request_head _head;
};

TEST_F(ws_handshake, accept_key_of_the_rfc_example) {
  EXPECT_EQ(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  EXPECT_EQ(ws_accept_key(""), "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
}

TEST_F(ws_handshake, accepts_the_rfc_example_request) {
  const auto r = check(request("GET", "1.1", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                               "Sec-WebSocket-Version: 13\r\n",
                               "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
                               "Sec-WebSocket-Extensions: permessage-deflate\r\n"));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(r->key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(r->protocols, "chat, superchat");
  EXPECT_EQ(r->extensions, "permessage-deflate");
  EXPECT_EQ(r->origin, "http://example.com");
  EXPECT_EQ(r->host, "server.example.com");
}

TEST_F(ws_handshake, accepts_tokens_in_any_case_and_in_lists) {
  const auto r = check(request("GET", "1.1", "upgrade: h2c, WebSocket\r\n",
                               "CONNECTION: keep-alive\r\nConnection: foo,  UPGRADE \r\n",
                               "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\n",
                               "SEC-WEBSOCKET-VERSION: 13\r\n"));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(r->key, "AAAAAAAAAAAAAAAAAAAAAA==");
  EXPECT_EQ(r->protocols, "");
  EXPECT_EQ(r->extensions, "");
  EXPECT_EQ(r->origin, "");
}

TEST_F(ws_handshake, refuses_each_fault_with_its_error) {
  const auto error_of = [&](std::string text) {
    const auto r = check(std::move(text));
    return r.has_value() ? std::string("accepted") : std::string(to_string(r.error()));
  };
  const std::string not_get(to_string(ws_upgrade_error::not_get));
  const std::string not_http11(to_string(ws_upgrade_error::not_http11));
  const std::string not_upgrade(to_string(ws_upgrade_error::not_upgrade));
  const std::string bad_key(to_string(ws_upgrade_error::bad_key));
  const std::string bad_version(to_string(ws_upgrade_error::bad_version));

  EXPECT_EQ(error_of(request("POST")), not_get);
  EXPECT_EQ(error_of(request("get")), not_get);
  EXPECT_EQ(error_of(request("GET", "1.0")), not_http11);
  EXPECT_EQ(error_of(request("GET", "1.1", "")), not_upgrade);
  EXPECT_EQ(error_of(request("GET", "1.1", "Upgrade: h2c\r\n")), not_upgrade);
  EXPECT_EQ(error_of(request("GET", "1.1", "Upgrade: websocket/13\r\n")), not_upgrade);
  EXPECT_EQ(error_of(request("GET", "1.1", "Upgrade: websocket\r\n", "")), not_upgrade);
  EXPECT_EQ(error_of(request("GET", "1.1", "Upgrade: websocket\r\n", "Connection: keep-alive\r\n")),
            not_upgrade);
  EXPECT_EQ(error_of(request("GET", "1.1", "Upgrade: websocket\r\n", "Connection: upgraded\r\n")),
            not_upgrade);

  const auto with_version = [&](std::string_view field) {
    return error_of(request("GET", "1.1", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n",
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", field));
  };
  EXPECT_EQ(with_version(""), bad_version);
  EXPECT_EQ(with_version("Sec-WebSocket-Version: 8\r\n"), bad_version);
  EXPECT_EQ(with_version("Sec-WebSocket-Version: 13, 8\r\n"), bad_version);
  EXPECT_EQ(with_version("Sec-WebSocket-Version: 013\r\n"), bad_version);
  EXPECT_EQ(with_version("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n"), bad_version);
  EXPECT_EQ(with_version("Sec-WebSocket-Version:   13 \r\n"), "accepted");  // OWS is not the value

  const auto with_key = [&](std::string_view field) {
    return error_of(request("GET", "1.1", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n", field));
  };
  EXPECT_EQ(with_key(""), bad_key);
  EXPECT_EQ(with_key("Sec-WebSocket-Key:\r\n"), bad_key);
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n"), bad_key);      // no padding
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n"), bad_key);     // 23 characters
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n"), bad_key);   // 25 characters
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n"), bad_key);    // 18 bytes
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j-Q==\r\n"), bad_key);    // base64url
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2 jZQ==\r\n"), bad_key);
  EXPECT_EQ(with_key("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n"), bad_key);
  EXPECT_EQ(with_key("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            bad_key);
  EXPECT_EQ(with_key("Sec-WebSocket-Key: ++//++//++//++//++//+w==\r\n"), "accepted");

  // The most basic fault is named first: version before key, upgrade before version.
  EXPECT_EQ(error_of(request("GET", "1.1", "Upgrade: websocket\r\n", "Connection: Upgrade\r\n", "", "")),
            bad_version);
  EXPECT_EQ(error_of(request("GET", "1.1", "", "", "", "")), not_upgrade);
  EXPECT_EQ(error_of(request("PUT", "1.0", "", "", "", "")), not_get);
}

TEST_F(ws_handshake, status_of_each_error) {
  EXPECT_EQ(http_status_of(ws_upgrade_error::not_get), 405);
  EXPECT_EQ(http_status_of(ws_upgrade_error::not_http11), 400);
  EXPECT_EQ(http_status_of(ws_upgrade_error::not_upgrade), 426);
  EXPECT_EQ(http_status_of(ws_upgrade_error::bad_key), 400);
  EXPECT_EQ(http_status_of(ws_upgrade_error::bad_version), 426);
}

TEST_F(ws_handshake, subprotocol_follows_the_client_order) {
  const std::vector<std::string> supported = {"mqtt", "chat", "superchat"};
  EXPECT_EQ(select_ws_subprotocol("superchat, chat", supported), "superchat");
  EXPECT_EQ(select_ws_subprotocol("chat,superchat", supported), "chat");
  EXPECT_EQ(select_ws_subprotocol(" \tv2.stomp ,  chat\t", supported), "chat");
  EXPECT_EQ(select_ws_subprotocol(",,chat", supported), "chat");
  EXPECT_EQ(select_ws_subprotocol("Chat, xmpp", supported), "");  // protocol names keep their case
  EXPECT_EQ(select_ws_subprotocol("cha, chatt", supported), "");
  EXPECT_EQ(select_ws_subprotocol("", supported), "");
  EXPECT_EQ(select_ws_subprotocol("chat", {}), "");
  const std::vector<std::string> with_empty = {""};
  EXPECT_EQ(select_ws_subprotocol(", ,", with_empty), "");
}

TEST_F(ws_handshake, accept_response_bytes) {
  EXPECT_EQ(build_ws_accept_response("dGhlIHNhbXBsZSBub25jZQ==", ""),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
  EXPECT_EQ(build_ws_accept_response("dGhlIHNhbXBsZSBub25jZQ==", "chat"),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "\r\n");
}

TEST_F(ws_handshake, refusal_bytes) {
  const std::string version_body = std::string("Upgrade Required: ") +
                                   std::string(to_string(ws_upgrade_error::bad_version)) + "\n";
  EXPECT_EQ(build_ws_refusal(ws_upgrade_error::bad_version),
            "HTTP/1.1 426 Upgrade Required\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: " + std::to_string(version_body.size()) + "\r\n"
            "Connection: close\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Upgrade: websocket\r\n"
            "\r\n" + version_body);

  const std::string get_body = "Method Not Allowed: a WebSocket upgrade must use GET\n";
  EXPECT_EQ(build_ws_refusal(ws_upgrade_error::not_get),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: " + std::to_string(get_body.size()) + "\r\n"
            "Connection: close\r\n"
            "Allow: GET\r\n"
            "\r\n" + get_body);

  const std::string upgrade = build_ws_refusal(ws_upgrade_error::not_upgrade);
  EXPECT_TRUE(upgrade.starts_with("HTTP/1.1 426 Upgrade Required\r\n")) << upgrade;
  EXPECT_NE(upgrade.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << upgrade;
  EXPECT_EQ(upgrade.find("Sec-WebSocket-Version"), std::string::npos) << upgrade;

  for (ws_upgrade_error e : {ws_upgrade_error::not_http11, ws_upgrade_error::bad_key}) {
    const std::string text = build_ws_refusal(e);
    EXPECT_TRUE(text.starts_with("HTTP/1.1 400 Bad Request\r\n")) << text;
    EXPECT_TRUE(text.ends_with("\r\n\r\nBad Request: " + std::string(to_string(e)) + "\n")) << text;
    EXPECT_EQ(text.find("Upgrade:"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace postern::net
