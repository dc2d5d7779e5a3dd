// tls_transport: net::transport for TLS over TCP (DESIGN §4: the `ssl`/`tls` layer over `tcp`):
// a tls_session over a core::stream. OpenSSL stays behind this header and tls_context.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/reactor.h"
#include "core/unique_fd.h"
#include "net/tls_context.h"
#include "net/transport.h"

namespace postern::net {

// fd: an accepted, connected, non-blocking socket (then call start()), or empty for a transport
// that will connect(). The session's side is the context's: a server context waits for the
// ClientHello, a client context sends it toward peer_name (the host name or IP literal to send
// as SNI and to verify the server's certificate against; empty for a server). The context must
// outlive the call only: the session keeps its own reference to the SSL_CTX.
//
// Events:
// - on_transport_ready() once the handshake is done (a connect() first connects, then shakes
//   hands; a later start() does nothing).
// - on_transport_error(ETIMEDOUT, "TLS handshake timed out") when the handshake has not finished
//   handshake_timeout_ms after it began (after the TCP connect, for connect()); connect
//   timeouts belong to the caller.
// - on_transport_error(errno, "connect to 127.0.0.1:9 failed: Connection refused"),
//   on_transport_error(errno, "connection error: Connection reset by peer") for socket errors.
// - on_transport_error(0, sentence) for TLS failures ("certificate verify failed: hostname
//   mismatch", "peer did not return a certificate", "tlsv1 alert unknown ca", "connection closed
//   by the peer during the TLS handshake"), one loop iteration after the failure so that the
//   alert for the peer leaves before the handler closes.
// - on_transport_eof() at the peer's close_notify, or at a TCP FIN after the handshake (a peer
//   that closes without close_notify is taken as done, as browsers and most servers do).
//
// Each read's ciphertext is decrypted and delivered before the next read is looked at; records
// written during one loop iteration leave in one send (the stream corks them). Plaintext written
// before the handshake finishes waits, and counts in queued_bytes() with the ciphertext queued on
// the stream. pause_reading() stops delivery at once (decrypted records wait inside the session; asked
// for during the handshake, it lets the handshake finish and then holds the data);
// resume_reading() delivers what waits from the next loop iteration. shutdown_write() sends
// close_notify after everything written, then the TCP FIN.
std::unique_ptr<transport> make_tls_transport(core::reactor& reactor, core::unique_fd fd, const tls_context& context,
                                              std::string peer_name, transport_handler& handler,
                                              std::uint64_t handshake_timeout_ms = 10000);

}  // namespace postern::net
