// transport: a byte stream as the protocol above sees it (STYLE 2): TCP (tcp_transport) or TLS
// over TCP (tls_transport), later the reverse link. HTTP and WebSocket code talks only to this
// interface and never includes OpenSSL or liburing headers. One transport belongs to one
// connection on one reactor; every call is made on that reactor's thread.
//
// Lifecycle: start() (accepted socket) or connect() (outgoing), then data both ways, then
// shutdown_write() and/or close(). on_closed() is the last call a handler receives, made when no
// operation refers to the transport any more; the handler may destroy the transport (and
// itself) inside it, and the transport touches nothing after calling it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "net/address.h"

namespace postern::net {

class transport_handler {
 public:
  // The transport can carry data: a connect completed and, for TLS, the handshake finished.
  // Accepted transports call it too once they are ready (TCP: from start(); TLS: after the
  // handshake).
  virtual void on_transport_ready() = 0;
  // Plaintext arrived; valid only during the call, mutable so parsers may unmask in place.
  virtual void on_transport_data(std::span<std::byte> bytes) = 0;
  // The peer finished sending (TCP FIN, or TLS close_notify). No more data follows.
  virtual void on_transport_eof() = 0;
  // The transport failed: connect refused or timed out, reset, TLS handshake or verification
  // failure. error is an errno value (0 when only `what` applies); what is a sentence for the
  // log ("certificate verify failed: unable to get local issuer certificate"). The handler
  // normally closes.
  virtual void on_transport_error(int error, std::string_view what) = 0;
  // Everything written so far has been handed to the kernel.
  virtual void on_transport_drained() {}
  virtual void on_transport_closed() = 0;

 protected:
  ~transport_handler() = default;
};

class transport {
 public:
  virtual ~transport() = default;

  // Accepted side: begin reading (TLS: the server handshake first).
  virtual void start() = 0;
  // Outgoing side: connect to addr (TLS: then the client handshake).
  virtual void connect(const socket_address& addr) = 0;

  virtual void write(std::span<const std::byte> bytes) = 0;
  void write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }
  // Bytes written but not yet handed to the kernel (for TLS: ciphertext), for backpressure.
  virtual std::size_t queued_bytes() const noexcept = 0;

  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  virtual bool reading_paused() const noexcept = 0;

  // After everything written has been sent: TLS close_notify (if TLS), then TCP FIN.
  virtual void shutdown_write() = 0;
  // Stops now; unsent bytes are dropped. on_transport_closed() follows, never from inside close().
  virtual void close() = 0;

  virtual int fd() const noexcept = 0;
  virtual bool secure() const noexcept = 0;

  // Hands the transport to another owner (the gateway moves an accepted client from the HTTP
  // request reader to the service that serves it). Later events go to handler; safe to call
  // from inside a callback.
  virtual void set_handler(transport_handler& handler) noexcept = 0;
};

}  // namespace postern::net
