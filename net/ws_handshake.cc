#include "net/ws_handshake.h"

#include <openssl/evp.h>

#include <array>

namespace postern::net {
namespace {

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

constexpr bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// RFC 6455 §4.2.1 item 5: the key is base64 of 16 bytes, which is always 22 characters of the
// alphabet followed by "==" (RFC 4648 §4, padding required). Trailing bits of the 22nd
// character are not checked: any such key decodes to 16 bytes.
bool is_valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    if (!is_base64_char(c)) return false;
  }
  return true;
}

// The value of the only field named name, or nullptr when there is none or more than one.
const http_header* single_field(const http_request_head& head, std::string_view name) noexcept {
  const auto same_name = [name](std::string_view other) noexcept {
    if (other.size() != name.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
      if (lower(other[i]) != lower(name[i])) return false;
    }
    return true;
  };
  const http_header* found = nullptr;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    if (!same_name(head.headers[i].name)) continue;
    if (found != nullptr) return nullptr;
    found = &head.headers[i];
  }
  return found;
}

std::string_view value_of(const http_request_head& head, std::string_view name) noexcept {
  const http_header* field = head.find(name);
  return field == nullptr ? std::string_view{} : field->value;
}

std::string_view trim_ows(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string_view to_string(ws_upgrade_error error) {
  switch (error) {
    case ws_upgrade_error::not_get: return "a WebSocket upgrade must use GET";
    case ws_upgrade_error::not_http11: return "a WebSocket upgrade needs HTTP/1.1";
    case ws_upgrade_error::not_upgrade:
      return "not a WebSocket upgrade (expected Upgrade: websocket and Connection: Upgrade)";
    case ws_upgrade_error::bad_key:
      return "Sec-WebSocket-Key missing, repeated or not 16 bytes in base64";
    case ws_upgrade_error::bad_version:
      return "Sec-WebSocket-Version missing, repeated or not supported (expected 13)";
  }
  return "unknown WebSocket upgrade error";
}

int http_status_of(ws_upgrade_error error) noexcept {
  switch (error) {
    case ws_upgrade_error::not_get: return 405;
    case ws_upgrade_error::not_http11: return 400;
    case ws_upgrade_error::not_upgrade: return 426;
    case ws_upgrade_error::bad_key: return 400;
    case ws_upgrade_error::bad_version: return 426;
  }
  return 400;
}

// Checks in this order, so the answer names the most basic fault: method, version,
// Upgrade/Connection tokens, Sec-WebSocket-Version (before the key, so a client of another
// protocol version learns which one to retry with, RFC 6455 §4.2.2), Sec-WebSocket-Key.
// Sec-WebSocket-Protocol, -Extensions and Origin are taken from their first field: clients
// send each once (RFC 6455 §11.3.4 would allow several Protocol fields; only the first is read).
std::expected<ws_upgrade_request, ws_upgrade_error> check_ws_upgrade(const http_request_head& head) {
  if (head.method != "GET") return std::unexpected(ws_upgrade_error::not_get);
  if (head.version_minor != 1) return std::unexpected(ws_upgrade_error::not_http11);
  if (!head.has_token("Upgrade", "websocket") || !head.has_token("Connection", "upgrade")) {
    return std::unexpected(ws_upgrade_error::not_upgrade);
  }
  const http_header* version = single_field(head, "Sec-WebSocket-Version");
  if (version == nullptr || version->value != "13") {
    return std::unexpected(ws_upgrade_error::bad_version);
  }
  const http_header* key = single_field(head, "Sec-WebSocket-Key");
  if (key == nullptr || !is_valid_key(key->value)) return std::unexpected(ws_upgrade_error::bad_key);

  ws_upgrade_request out;
  out.key = key->value;
  out.protocols = value_of(head, "Sec-WebSocket-Protocol");
  out.extensions = value_of(head, "Sec-WebSocket-Extensions");
  out.origin = value_of(head, "Origin");
  out.host = value_of(head, "Host");
  return out;
}

// Returns an empty string only if OpenSSL cannot compute SHA-1 (a broken installation).
std::string ws_accept_key(std::string_view key) {
  std::string input;
  input.reserve(key.size() + ws_guid.size());
  input += key;
  input += ws_guid;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) != 1 ||
      digest_size != 20) {
    return {};
  }
  // EVP_EncodeBlock writes 4 characters per 3 bytes (28 for 20) and a terminating NUL.
  std::array<unsigned char, 29> encoded{};
  const int length = EVP_EncodeBlock(encoded.data(), digest.data(), int(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded.data()), std::size_t(length));
}

std::string_view select_ws_subprotocol(std::string_view offered,
                                       std::span<const std::string> supported) noexcept {
  while (!offered.empty()) {
    const std::size_t comma = offered.find(',');
    const std::string_view token = trim_ows(offered.substr(0, comma));
    if (!token.empty()) {
      for (const std::string& candidate : supported) {
        if (candidate == token) return token;
      }
    }
    if (comma == std::string_view::npos) break;
    offered.remove_prefix(comma + 1);
  }
  return {};
}

std::string build_ws_accept_response(std::string_view key, std::string_view subprotocol) {
  std::string out;
  out.reserve(160 + subprotocol.size());
  out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: ";
  out += ws_accept_key(key);
  out += "\r\n";
  if (!subprotocol.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    out += subprotocol;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

// 405 carries Allow (RFC 9110 §15.5.6); 426 carries Upgrade (RFC 9110 §15.5.22) and, for a
// version refusal, the version postern speaks (RFC 6455 §4.2.2).
std::string build_ws_refusal(ws_upgrade_error error) {
  std::string_view extra;
  switch (error) {
    case ws_upgrade_error::not_get: extra = "Allow: GET\r\n"; break;
    case ws_upgrade_error::not_upgrade: extra = "Upgrade: websocket\r\n"; break;
    case ws_upgrade_error::bad_version:
      extra = "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n";
      break;
    case ws_upgrade_error::not_http11:
    case ws_upgrade_error::bad_key: break;
  }
  return build_http_error_response(http_status_of(error), to_string(error), extra);
}

}  // namespace postern::net
