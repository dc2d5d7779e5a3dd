// address: socket addresses for binding and connecting. Resolution may block (getaddrinfo), so
// it runs at start-up, never on a reactor's data path.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace postern::net {

struct socket_address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const noexcept { return storage.ss_family; }
  std::uint16_t port() const noexcept;
  // "127.0.0.1:8000", "[::1]:8000".
  std::string to_string() const;
  friend bool operator==(const socket_address& a, const socket_address& b) noexcept;
};

// Resolves host (a name or a literal; empty means the IPv4 wildcard 0.0.0.0) and port. The first
// IPv4 address is preferred, then the first IPv6 one. On failure: a sentence naming the host.
std::expected<socket_address, std::string> resolve_address(std::string_view host, std::uint16_t port);

// The address of a connected socket's peer (getpeername), or an empty address.
socket_address peer_address_of(int fd);

}  // namespace postern::net
