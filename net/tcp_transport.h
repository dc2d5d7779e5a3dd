// tcp_transport: net::transport over a plain core::stream (DESIGN §4: the `tcp` layer). Bytes
// go through as they are; writes are corked per loop iteration by the stream.
#pragma once

#include <memory>

#include "core/reactor.h"
#include "core/unique_fd.h"
#include "net/transport.h"

namespace postern::net {

// fd: an accepted, connected, non-blocking socket (then call start()), or empty for a transport
// that will connect(). Events go to handler until set_handler() names another.
//
// start() begins reading and calls on_transport_ready() from inside start(). connect() reports
// on_transport_ready() once connected and reads from then on (a later start() does nothing), or
// on_transport_error(errno, "connect to 127.0.0.1:9 failed: Connection refused"); connect
// timeouts belong to the caller. A socket error later gives on_transport_error(errno,
// "connection error: Connection reset by peer").
std::unique_ptr<transport> make_tcp_transport(core::reactor& reactor, core::unique_fd fd, transport_handler& handler);

}  // namespace postern::net
