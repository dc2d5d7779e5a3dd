#include "net/ws_client_handshake.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cassert>

#include "net/http_syntax.h"
#include "net/ws_handshake.h"

namespace postern::net {
namespace {

constexpr std::string_view switching_protocols = " instead of 101 Switching Protocols";

// Subprotocol names longer than this are not repeated in a log sentence.
constexpr std::size_t max_logged_protocol_bytes = 64;

// The only field named name; nullptr with repeated = false when there is none, nullptr with
// repeated = true when there are several.
const http_header* single_field(const http_response_head& head, std::string_view name,
                                bool& repeated) noexcept {
  const http_header* found = nullptr;
  repeated = false;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    if (!http_syntax::iequals(head.headers[i].name, name)) continue;
    if (found != nullptr) {
      repeated = true;
      return nullptr;
    }
    found = &head.headers[i];
  }
  return found;
}

bool is_token(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (char c : text) {
    if (!http_syntax::is(c, http_syntax::tchar)) return false;
  }
  return true;
}

// True when protocol is one element of the comma list offered (compared exactly, as the
// server side's select_ws_subprotocol does).
bool was_offered(std::string_view offered, std::string_view protocol) noexcept {
  while (!offered.empty()) {
    const std::size_t comma = offered.find(',');
    if (http_syntax::trim_ows(offered.substr(0, comma)) == protocol) return true;
    if (comma == std::string_view::npos) break;
    offered.remove_prefix(comma + 1);
  }
  return false;
}

std::string status_sentence(int status) {
  std::string out = "backend answered " + std::to_string(status);
  const std::string_view phrase = http_reason_phrase(status);
  if (!phrase.empty()) {
    out += ' ';
    out += phrase;
  }
  out += switching_protocols;
  return out;
}

// Asserted preconditions of build_ws_upgrade_request: no byte that could end a line early.
bool is_single_line(std::string_view text) noexcept {
  for (char c : text) {
    if (!http_syntax::is(c, http_syntax::value_char)) return false;
  }
  return true;
}

bool is_origin_form(std::string_view target) noexcept {
  if (target.empty() || target.front() != '/') return false;
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

}  // namespace

std::string make_ws_key() {
  std::array<unsigned char, 16> nonce{};
  if (RAND_bytes(nonce.data(), int(nonce.size())) != 1) return {};
  // EVP_EncodeBlock writes 4 characters per 3 bytes, padded (24 for 16) and a NUL.
  std::array<unsigned char, 25> encoded{};
  const int length = EVP_EncodeBlock(encoded.data(), nonce.data(), int(nonce.size()));
  return std::string(reinterpret_cast<const char*>(encoded.data()), std::size_t(length));
}

std::string forwarded_for_value(std::string_view existing, std::string_view client_ip) {
  existing = http_syntax::trim_ows(existing);
  if (existing.empty()) return std::string(client_ip);
  const std::size_t comma = existing.rfind(',');
  const std::string_view last = http_syntax::trim_ows(comma == std::string_view::npos ? existing : existing.substr(comma + 1));
  if (last == client_ip) return std::string(existing);
  return std::string(existing) + ", " + std::string(client_ip);
}

std::string build_ws_upgrade_request(std::string_view path_and_query, std::string_view host_authority,
                                     std::string_view key, std::string_view protocols,
                                     std::string_view extra_header_lines) {
  assert(is_origin_form(path_and_query));
  assert(is_single_line(host_authority) && is_single_line(key) && is_single_line(protocols));
  assert(extra_header_lines.empty() || extra_header_lines.ends_with("\r\n"));

  std::string out;
  out.reserve(160 + path_and_query.size() + host_authority.size() + key.size() +
              protocols.size() + extra_header_lines.size());
  out += "GET ";
  out += path_and_query;
  out += " HTTP/1.1\r\nHost: ";
  out += host_authority;
  out += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  out += key;
  out += "\r\nSec-WebSocket-Version: 13\r\n";
  if (!protocols.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    out += protocols;
    out += "\r\n";
  }
  out += extra_header_lines;
  out += "\r\n";
  return out;
}

// Each check fails the connection (RFC 6455 §4.1, "the client MUST _Fail the WebSocket
// Connection_"); a repeated Sec-WebSocket-Accept or Sec-WebSocket-Protocol is refused rather
// than guessed at. Only the status and a short, valid subprotocol token are quoted from the
// backend, so the sentence stays printable.
std::expected<std::string, std::string> check_ws_upgrade_response(const http_response_head& head,
                                                                  std::string_view key,
                                                                  std::string_view offered_protocols) {
  if (head.status != 101) return std::unexpected(status_sentence(head.status));
  if (!head.has_token("Upgrade", "websocket")) {
    return std::unexpected("backend's 101 lacks Upgrade: websocket");
  }
  if (!head.has_token("Connection", "upgrade")) {
    return std::unexpected("backend's 101 lacks Connection: Upgrade");
  }

  bool repeated = false;
  const http_header* accept = single_field(head, "Sec-WebSocket-Accept", repeated);
  if (repeated) return std::unexpected("backend's 101 repeats Sec-WebSocket-Accept");
  if (accept == nullptr || accept->value.empty()) {
    return std::unexpected("backend's 101 lacks Sec-WebSocket-Accept");
  }
  const std::string expected_accept = ws_accept_key(key);
  if (expected_accept.empty() || accept->value != expected_accept) {
    return std::unexpected("backend's Sec-WebSocket-Accept does not match the key sent");
  }

  if (head.find("Sec-WebSocket-Extensions") != nullptr) {
    return std::unexpected(
        "backend's 101 selects a WebSocket extension, but none was offered "
        "(Sec-WebSocket-Extensions)");
  }

  const http_header* protocol = single_field(head, "Sec-WebSocket-Protocol", repeated);
  if (repeated) return std::unexpected("backend selected more than one subprotocol");
  if (protocol == nullptr) return std::string{};
  const std::string_view selected = protocol->value;
  if (!is_token(selected)) {
    if (selected.find(',') != std::string_view::npos) {
      return std::unexpected("backend selected more than one subprotocol");
    }
    return std::unexpected("backend sent an invalid Sec-WebSocket-Protocol (expected one token)");
  }
  if (!was_offered(offered_protocols, selected)) {
    if (selected.size() > max_logged_protocol_bytes) {
      return std::unexpected("backend selected a subprotocol that was not offered");
    }
    return std::unexpected("backend selected subprotocol \"" + std::string(selected) +
                           "\", which was not offered");
  }
  return std::string(selected);
}

}  // namespace postern::net
