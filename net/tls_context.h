// tls_context: one OpenSSL SSL_CTX built from tls_settings (STYLE 13: RAII, move-only). Built at
// start-up, shared read-only by every reactor's TLS sessions. net/ knows nothing of config/:
// the gateway maps its ssl.* options onto tls_settings.
//
// Defaults: TLS 1.2 and 1.3 only, Mozilla "intermediate" TLS 1.2 ciphers, server cipher
// preference, no renegotiation, no compression, session tickets on (the server keeps no
// session cache: tickets resume without a cache shared across reactors). Trust comes from
// trust_file only, never from the system store. A client always verifies the server's chain.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX, so that this header does not pull OpenSSL in

namespace postern::net {

struct tls_settings {
  enum class side_kind : std::uint8_t { server, client };
  side_kind side = side_kind::server;
  // PEM file with one or more groups "certificate chain, then its private key". A server picks
  // the group whose certificate matches the SNI name (X509_check_host), else the first; a client
  // presents the first as its client certificate. Required for a server; may be empty for a
  // client. Refused when group or others may read it.
  std::string identity_file;
  // PEM CA bundle: the ONLY trust anchors. Required for a client and for a server that verifies
  // clients.
  std::string trust_file;
  enum class verify_kind : std::uint8_t { none, optional, required };
  // Server side: whether to ask for a client certificate (optional: verified when given;
  // required: the handshake fails without one). Ignored for a client.
  verify_kind verify_client = verify_kind::none;
  // TLS 1.2 cipher list in OpenSSL's syntax; empty = Mozilla "intermediate". TLS 1.3 suites
  // keep OpenSSL's defaults.
  std::string ciphers;
  // "TLSv1.2,TLSv1.3" form (comma or space separated); empty = both.
  std::string protocols;
};

// Start-up failure of a tls_context. The message names the file (or setting) and the problem.
class tls_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class tls_context {
 public:
  // Builds a context; throws tls_error on any problem with the settings or their files (an
  // unreadable file, no certificate, a key that does not match its certificate, a key file that
  // others may read, client verification without a trust file, an unknown protocol, a cipher
  // list that selects nothing).
  static tls_context make(const tls_settings& settings);

  tls_context(tls_context&& other) noexcept;
  tls_context& operator=(tls_context&& other) noexcept;
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;
  ~tls_context();

  tls_settings::side_kind side() const noexcept { return _side; }
  // The SSL_CTX, for tls_session. Sessions hold their own reference: a session may outlive the
  // tls_context it was made from (SNI identities included).
  ssl_ctx_st* native() const noexcept { return _ctx; }

 private:
  tls_context(ssl_ctx_st* ctx, tls_settings::side_kind side) noexcept : _ctx(ctx), _side(side) {}
  ssl_ctx_st* _ctx = nullptr;
  tls_settings::side_kind _side = tls_settings::side_kind::server;
};

}  // namespace postern::net
