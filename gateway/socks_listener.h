// socks_listener: the internal side of socks.mode forward (DESIGN §5, for trying a setup
// before the firewall is closed): the DMZ dials the transport's address and asks for a logical
// URI with a SOCKS5 CONNECT. Each link: TLS for socks+ssl:// (the DMZ's certificate checked as
// verify-client says, required by default), the greeting and a CONNECT naming one of the
// logical accepts served at this address → success reply, then the client's stream is served
// exactly like an accepted socket (serve_link_client). A CONNECT for anything else gets "not
// allowed", any other command "command not supported", each with a log line; the handshake has
// the handshake timeout.
#pragma once

#include <memory>
#include <vector>

#include "core/unique_fd.h"
#include "gateway/runtime.h"

namespace postern::gateway {

class worker;

// Serves one accepted socket; accepts: the forward-mode logical accepts listening at its address.
// Frees itself when done.
void serve_forward_link(worker& w, core::unique_fd fd, std::vector<const socks_accept*> accepts);

}  // namespace postern::gateway
