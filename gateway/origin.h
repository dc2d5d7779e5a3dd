// origin: the cross-site-constraint check of an HTTP request's Origin (KAAZING semantics, see
// shared/reference/kaazing-gateway.md §2.5). Pure.
//   - no Origin header (native clients): allowed;
//   - same origin as the accept URI (ws→http, wss→https, default ports normalised) or as one of
//     the service's balance URIs: allowed;
//   - otherwise the normalised origin must be listed in <allow-origin>, or "*" must be;
//     "Origin: null" passes only with "*". No constraint at all: cross-origin refused (403).
#pragma once

#include <string>
#include <string_view>

#include "config/gateway_config.h"
#include "net/uri.h"

namespace postern::gateway {

// "scheme://host:port" lower-case with the default port filled in, or empty when origin is not
// of the form scheme://host[:port] with scheme http or https.
std::string normalize_origin(std::string_view origin);

bool origin_allowed(const config::service_config& service, const net::uri& accept, std::string_view origin);

}  // namespace postern::gateway
