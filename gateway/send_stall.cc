#include "gateway/send_stall.h"

#include "core/log.h"

namespace postern::gateway {

void log_send_stall(const net::socket_address& client, std::string_view service, std::string_view peer,
                    std::size_t queued, std::uint64_t timeout_ms) {
  LOG_INFO("%s service '%.*s' closed: the %.*s read none of %zu queued bytes for %llu ms (send.timeout)",
           client.to_string().c_str(), static_cast<int>(service.size()), service.data(),
           static_cast<int>(peer.size()), peer.data(), queued, static_cast<unsigned long long>(timeout_ms));
}

}  // namespace postern::gateway
