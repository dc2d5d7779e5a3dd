// tls_session: the TLS protocol state of one connection: one SSL* over two memory BIOs
// (STYLE 2, 3, 13). Pure: no socket, no logging, no clock. The owner moves bytes:
//
//   ciphertext from the peer --feed()--> [read BIO] --SSL--> read() --> plaintext
//   plaintext --write()--> SSL --> [write BIO] --take_ciphertext()--> ciphertext to send
//
// After every feed(), read(), write(), start_client() and shutdown() the owner sends what
// pending_ciphertext() says is waiting (handshake messages, records, alerts, close_notify).
// Nothing allocates per record once the BIOs and OpenSSL's record buffers have grown to their
// working size: the read BIO holds what one feed() brought plus a partial record, the write
// BIO what one write() (at most one record) or one handshake flight produced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct ssl_st;  // OpenSSL's SSL
struct bio_st;  // OpenSSL's BIO

namespace postern::net {

class tls_context;

class tls_session {
 public:
  // What one read() produced.
  enum class result : std::uint8_t {
    plaintext,       // out.first(bytes) holds plaintext
    handshake_done,  // the handshake finished just now (reported once); call read() again
    need_more,       // nothing more until more ciphertext is fed
    peer_closed,     // the peer's close_notify came: no plaintext follows (said on every later call)
    failed,          // fatal; error() says why; pending ciphertext may hold an alert for the peer
  };
  struct read_result {
    result what;
    std::size_t bytes = 0;
  };

  // Most plaintext one write() takes: one TLS record's worth.
  static constexpr std::size_t max_record_bytes = 16384;

  // A session of the context's side. A server waits for the ClientHello (read() drives its
  // handshake); a client waits for start_client(). Throws std::bad_alloc when OpenSSL cannot
  // allocate the session. The session holds its own reference to the context's SSL_CTX.
  explicit tls_session(const tls_context& context);
  tls_session(tls_session&& other) noexcept;
  tls_session& operator=(tls_session&& other) noexcept;
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;
  ~tls_session();

  // Client side, once, first: starts the handshake toward peer_name and queues the ClientHello.
  // A DNS name is sent as SNI and the server's certificate must match it (wildcards allowed);
  // an IPv4 or IPv6 literal is not sent as SNI (RFC 6066) and must be among the certificate's
  // IP addresses. Empty: no SNI and no name check (the chain is still verified). A name OpenSSL
  // refuses fails the session.
  void start_client(std::string_view peer_name);

  // Takes all of ciphertext (copied into the read BIO). Ignored once failed.
  void feed(std::span<const std::byte> ciphertext);

  // Advances the handshake, then decrypts into out (which must not be empty). Call until it says
  // need_more, peer_closed or failed; then send pending ciphertext.
  read_result read(std::span<std::byte> out);

  // Encrypts up to max_record_bytes of plaintext; returns how many bytes it took: all of them
  // (up to that limit) while writable(), else 0. A failure makes the session failed.
  std::size_t write(std::span<const std::byte> plaintext);

  // Queues close_notify once the handshake is done (idempotent); write() takes nothing after
  // it. Returns false (and does nothing) while handshaking or once failed.
  bool shutdown();

  // Ciphertext waiting to be sent.
  std::size_t pending_ciphertext() const noexcept;
  // Moves up to out.size() bytes of pending ciphertext into out; returns how many.
  std::size_t take_ciphertext(std::span<std::byte> out) noexcept;

  bool handshake_done() const noexcept { return _state == state::open; }
  bool failed() const noexcept { return _state == state::failed; }
  bool peer_closed() const noexcept { return _flags & flag_peer_closed; }
  bool shutdown_sent() const noexcept { return _flags & flag_shutdown_sent; }
  // write() takes bytes now: the handshake is done, nothing failed, shutdown() not called.
  bool writable() const noexcept { return _state == state::open && !(_flags & flag_shutdown_sent); }
  // The reason of a failure, a sentence for the log: "certificate verify failed: unable to get
  // local issuer certificate", "peer did not return a certificate", "tlsv1 alert unknown ca".
  // Empty unless failed().
  std::string_view error() const noexcept { return _error; }

  // Diagnostics (they allocate; not for the data path): the negotiated protocol ("TLSv1.3"),
  // the peer certificate's subject in RFC 2253 form ("CN=localhost,O=postern tests"; empty
  // when the peer sent none), and the SNI name a server received (empty when none).
  std::string protocol() const;
  std::string peer_subject() const;
  std::string server_name() const;

 private:
  enum class state : std::uint8_t {
    waiting,      // client before start_client(): nothing sent yet
    handshaking,  // SSL_do_handshake has not returned 1 yet
    open,         // the handshake is done: records flow (subject to the flags)
    failed,       // a fatal error; _error says why; only pending ciphertext may still leave
  };
  enum flag : std::uint8_t {
    flag_peer_closed = 1u << 0,    // the peer's close_notify was read
    flag_shutdown_sent = 1u << 1,  // our close_notify is queued
  };

  // Fails the session after an OpenSSL call failed with ssl_error (SSL_get_error); builds the
  // sentence from the error queue and the verify result, and empties the queue.
  void fail(int ssl_error);
  void fail(std::string_view why);
  void release() noexcept;

  ssl_st* _ssl = nullptr;
  bio_st* _in = nullptr;   // read BIO: ciphertext from the peer (owned by _ssl)
  bio_st* _out = nullptr;  // write BIO: ciphertext to send (owned by _ssl)
  state _state = state::handshaking;
  std::uint8_t _flags = 0;
  std::string _error;
};

}  // namespace postern::net
