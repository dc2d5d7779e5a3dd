// ws_handshake: the server side of the RFC 6455 opening handshake (§4.2). Pure: checks a
// parsed request head and builds the 101 response; SHA-1 and base64 come from OpenSSL.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "net/http_request.h"

namespace postern::net {

enum class ws_upgrade_error : std::uint8_t {
  not_get,              // 405: method is not GET
  not_http11,           // 400: HTTP/1.0
  not_upgrade,          // 426: no "Upgrade: websocket" / "Connection: Upgrade" (a plain request)
  bad_key,              // 400: Sec-WebSocket-Key missing or not 16 bytes in base64
  bad_version,          // 426 with "Sec-WebSocket-Version: 13": missing or other version
};

std::string_view to_string(ws_upgrade_error error);
int http_status_of(ws_upgrade_error error) noexcept;

struct ws_upgrade_request {
  std::string_view key;             // Sec-WebSocket-Key as sent
  std::string_view protocols;       // Sec-WebSocket-Protocol (all fields joined by the client), may be empty
  std::string_view extensions;      // Sec-WebSocket-Extensions, may be empty (none is accepted)
  std::string_view origin;          // Origin, may be empty
  std::string_view host;            // Host
};

// Checks that head is a valid RFC 6455 upgrade request.
std::expected<ws_upgrade_request, ws_upgrade_error> check_ws_upgrade(const http_request_head& head);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string ws_accept_key(std::string_view key);

// The first protocol the client offered (in its order) that the server supports, or empty.
// offered is the Sec-WebSocket-Protocol value (comma-separated tokens); supported lists the
// service's protocols.
std::string_view select_ws_subprotocol(std::string_view offered,
                                       std::span<const std::string> supported) noexcept;

// The 101 Switching Protocols response; subprotocol empty means no Sec-WebSocket-Protocol.
// No Sec-WebSocket-Extensions is ever sent: postern accepts no extension.
std::string build_ws_accept_response(std::string_view key, std::string_view subprotocol);

// The error response for a refused upgrade (426 carries Sec-WebSocket-Version: 13).
std::string build_ws_refusal(ws_upgrade_error error);

}  // namespace postern::net
