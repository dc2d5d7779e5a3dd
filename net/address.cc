#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace postern::net {

std::uint16_t socket_address::port() const noexcept {
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string socket_address::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(port());
  }
  if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(port());
  }
  return "-";
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

std::expected<socket_address, std::string> resolve_address(std::string_view host, std::uint16_t port) {
  socket_address out;
  if (host.empty() || host == "0.0.0.0" || host == "*") {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    out.length = sizeof(sockaddr_in);
    return out;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string service = std::to_string(port);
  int rc = getaddrinfo(h.c_str(), service.c_str(), &hints, &found);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    // AI_ADDRCONFIG hides loopback-only hosts on machines without other interfaces.
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(h.c_str(), service.c_str(), &hints, &found);
  }
  if (rc != 0) return std::unexpected("cannot resolve host '" + h + "': " + gai_strerror(rc));
  const addrinfo* pick = nullptr;
  for (const addrinfo* a = found; a; a = a->ai_next)
    if (a->ai_family == AF_INET) { pick = a; break; }
  if (!pick)
    for (const addrinfo* a = found; a; a = a->ai_next)
      if (a->ai_family == AF_INET6) { pick = a; break; }
  if (!pick) {
    freeaddrinfo(found);
    return std::unexpected("host '" + h + "' has no IPv4 or IPv6 address");
  }
  std::memcpy(&out.storage, pick->ai_addr, pick->ai_addrlen);
  out.length = pick->ai_addrlen;
  freeaddrinfo(found);
  return out;
}

socket_address peer_address_of(int fd) {
  socket_address out;
  out.length = sizeof out.storage;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&out.storage), &out.length) != 0) out = {};
  return out;
}

}  // namespace postern::net
