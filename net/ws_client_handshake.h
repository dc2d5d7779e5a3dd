// ws_client_handshake: the client side of the RFC 6455 opening handshake (§4.1), used when
// postern connects to a ws:// or wss:// backend. Pure apart from the key's randomness: builds
// the upgrade request and checks the backend's parsed response head; SHA-1, base64 and the
// random bytes come from OpenSSL.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "net/http_response.h"

namespace postern::net {

// A fresh Sec-WebSocket-Key: base64 of 16 bytes from OpenSSL's RAND_bytes (24 characters).
// Empty only if the generator fails (not seeded, broken installation): never send that.
std::string make_ws_key();

// The GET upgrade request, ending with the empty line:
//   GET <path_and_query> HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade,
//   Sec-WebSocket-Key, Sec-WebSocket-Version: 13, Sec-WebSocket-Protocol (only when
//   protocols is not empty: a comma list, sent as it is), then extra_header_lines.
// The caller passes validated text (asserted): path_and_query in origin-form (starts with
// '/', visible ASCII only), host_authority, key and protocols without CR, LF or other
// control bytes, extra_header_lines empty or whole lines each ending in CRLF. No
// Sec-WebSocket-Extensions is sent: postern offers no extension.
std::string build_ws_upgrade_request(std::string_view path_and_query, std::string_view host_authority,
                                     std::string_view key, std::string_view protocols,
                                     std::string_view extra_header_lines);

// The X-Forwarded-For value a proxy sends on: the client's own header (empty when it sent
// none) with client_ip appended, unless the header's last address already is client_ip (a
// request that came over a reverse link: the DMZ gateway appended the client it accepted, and
// the internal gateway sees that same client as its peer).
std::string forwarded_for_value(std::string_view existing, std::string_view client_ip);

// Checks a backend's response head to the request built with key and offered_protocols (the
// same comma list, or empty), in the order of RFC 6455 §4.1: status 101, Upgrade: websocket,
// Connection: Upgrade, Sec-WebSocket-Accept equal to ws_accept_key(key), no
// Sec-WebSocket-Extensions, and at most one Sec-WebSocket-Protocol naming one offered
// protocol. The value is the selected subprotocol (empty when the backend selected none); the
// error is a sentence for the log, as "backend answered 502 Bad Gateway instead of 101
// Switching Protocols". An interim 1xx is refused like any other status: the caller skips
// those first (http_response_head::interim()).
std::expected<std::string, std::string> check_ws_upgrade_response(const http_response_head& head,
                                                                  std::string_view key,
                                                                  std::string_view offered_protocols);

}  // namespace postern::net
