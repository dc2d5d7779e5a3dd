// tls_context (see tls_context.h): settings and files -> one SSL_CTX. Cold code: runs at
// start-up and may throw; every message names the file or setting at fault.
#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::net {
namespace {

// Mozilla "intermediate" (server side TLS guidelines, version 5.7), TLS 1.2 part.
constexpr const char* intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

// The session id context a server needs so that resumed sessions of verified clients are
// accepted; any constant works.
constexpr unsigned char session_id_context[] = "postern";

struct ctx_free { void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); } };
struct x509_free { void operator()(X509* p) const noexcept { X509_free(p); } };
struct pkey_free { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct chain_free { void operator()(STACK_OF(X509)* p) const noexcept { sk_X509_pop_free(p, X509_free); } };
struct bio_free { void operator()(BIO* p) const noexcept { BIO_free(p); } };
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using chain_ptr = std::unique_ptr<STACK_OF(X509), chain_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

// One "certificate chain, then its private key" group of an identity file.
struct identity {
  x509_ptr cert;
  chain_ptr chain;  // the certificates after the first (may be empty, never null)
  pkey_ptr key;
};

// The groups of a server's identity file, owned by the SSL_CTX (ex_data) so that sessions
// keep them alive as long as they keep the SSL_CTX.
struct identity_set {
  std::vector<identity> groups;
};

void free_identity_set(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<identity_set*>(ptr);
}

int identity_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_identity_set);
  return index;
}

// The oldest queued OpenSSL error as a phrase ("no certificate or crl found"); clears the queue.
std::string openssl_reason() {
  unsigned long code = ERR_peek_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(ERR_GET_REASON(code));
}

std::string subject_of(X509* cert) {
  bio_ptr out(BIO_new(BIO_s_mem()));
  if (!out) return "?";
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string("(empty subject)");
}

[[noreturn]] void fail(std::string_view file, std::string_view problem) {
  ERR_clear_error();
  throw tls_error(std::string(file) + ": " + std::string(problem));
}

std::string read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(path, std::string("cannot read: ") + std::strerror(errno));
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  bool failed = std::ferror(f) != 0;
  int error = errno;
  std::fclose(f);
  if (failed) fail(path, std::string("cannot read: ") + std::strerror(error));
  return text;
}

// Reads an identity file: refuses a file that group or others may read (checked before it is
// read), then splits it into groups.
std::vector<identity> load_identities(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot read: ") + std::strerror(errno));
  if (st.st_mode & (S_IRGRP | S_IROTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(path, std::string("private key file is readable by others (mode ") + mode + "); chmod 600 it");
  }
  const std::string text = read_file(path);
  bio_ptr in(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!in) fail(path, "out of memory");

  std::vector<identity> groups;
  identity current{nullptr, chain_ptr(sk_X509_new_null()), nullptr};
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(in.get(), &name, &header, &data, &length) != 1) {
      unsigned long code = ERR_peek_last_error();
      if (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      fail(path, "malformed PEM (" + openssl_reason() + ")");
    }
    // PEM_read_bio's three buffers, freed at the end of this iteration whatever happens.
    struct pem_block {
      char* name; char* header; unsigned char* data;
      ~pem_block() { OPENSSL_free(name); OPENSSL_free(header); OPENSSL_free(data); }
    } block{name, header, data};
    const std::string label(name);
    const bool encrypted = label == "ENCRYPTED PRIVATE KEY" || std::strstr(header, "ENCRYPTED") != nullptr;
    const unsigned char* p = data;
    x509_ptr cert;
    pkey_ptr key;
    if (label == "CERTIFICATE") {
      cert.reset(d2i_X509(nullptr, &p, length));
    } else if (label.ends_with("PRIVATE KEY")) {
      if (encrypted) fail(path, "encrypted private keys are not supported; store the key unencrypted, mode 0600");
      key.reset(d2i_AutoPrivateKey(nullptr, &p, length));
    }
    const std::string group = "group " + std::to_string(groups.size() + 1);
    if (label == "CERTIFICATE") {
      if (!cert) fail(path, "cannot parse a certificate of " + group + " (" + openssl_reason() + ")");
      if (!current.cert)
        current.cert = std::move(cert);
      else if (sk_X509_push(current.chain.get(), cert.get()) > 0)
        cert.release();
      else
        fail(path, "out of memory");
    } else if (label.ends_with("PRIVATE KEY")) {
      if (!key) fail(path, "cannot parse the private key of " + group + " (" + openssl_reason() + ")");
      if (!current.cert) fail(path, "a private key with no certificate before it (" + group + ")");
      if (X509_check_private_key(current.cert.get(), key.get()) != 1)
        fail(path, "private key does not match its certificate (" + group + ", " +
                       subject_of(current.cert.get()) + ")");
      current.key = std::move(key);
      groups.push_back(std::move(current));
      current = identity{nullptr, chain_ptr(sk_X509_new_null()), nullptr};
    }
    // Other blocks (EC PARAMETERS before an EC key, for instance) carry nothing we use.
  }
  if (current.cert)
    fail(path, "the certificate " + subject_of(current.cert.get()) + " has no private key after it");
  if (groups.empty()) fail(path, "no certificate");
  return groups;
}

// The servername callback of a server with several identities: installs the first group whose
// certificate matches the SNI name; without a name or a match the first group (the context's
// own certificate) stays.
int select_identity(SSL* ssl, int*, void*) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  auto* set = static_cast<identity_set*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), identity_index()));
  if (set == nullptr) return SSL_TLSEXT_ERR_OK;
  for (std::size_t i = 0; i < set->groups.size(); ++i) {
    identity& id = set->groups[i];
    if (X509_check_host(id.cert.get(), name, 0, 0, nullptr) != 1) continue;
    if (i != 0 && SSL_use_cert_and_key(ssl, id.cert.get(), id.key.get(), id.chain.get(), 1) != 1) {
      ERR_clear_error();
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    break;
  }
  return SSL_TLSEXT_ERR_OK;
}

// "TLSv1.2,TLSv1.3" -> [min, max]. Both versions when empty.
std::pair<int, int> parse_protocols(const std::string& protocols) {
  if (protocols.empty()) return {TLS1_2_VERSION, TLS1_3_VERSION};
  bool v12 = false, v13 = false;
  std::size_t pos = 0;
  while (pos < protocols.size()) {
    std::size_t end = protocols.find_first_of(", \t", pos);
    if (end == std::string::npos) end = protocols.size();
    std::string_view word(protocols.data() + pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (word == "TLSv1.2")
      v12 = true;
    else if (word == "TLSv1.3")
      v13 = true;
    else
      throw tls_error("TLS protocols \"" + protocols + "\": unknown or unsupported protocol \"" +
                      std::string(word) + "\" (postern speaks TLSv1.2 and TLSv1.3)");
  }
  if (!v12 && !v13) throw tls_error("TLS protocols \"" + protocols + "\" names no protocol");
  return {v12 ? TLS1_2_VERSION : TLS1_3_VERSION, v13 ? TLS1_3_VERSION : TLS1_2_VERSION};
}

void load_trust(SSL_CTX* ctx, const std::string& path, bool send_ca_names) {
  (void)read_file(path);  // a clear "cannot read" before OpenSSL's less specific errors
  if (SSL_CTX_load_verify_locations(ctx, path.c_str(), nullptr) != 1)
    fail(path, "no CA certificate (" + openssl_reason() + ")");
  if (send_ca_names) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(path.c_str());
    if (names == nullptr) fail(path, "no CA certificate (" + openssl_reason() + ")");
    SSL_CTX_set_client_CA_list(ctx, names);
  }
}

}  // namespace

tls_context tls_context::make(const tls_settings& settings) {
  using side_kind = tls_settings::side_kind;
  using verify_kind = tls_settings::verify_kind;
  const bool server = settings.side == side_kind::server;
  if (server && settings.identity_file.empty())
    throw tls_error("a TLS server needs an identity file (certificate chain, then private key)");
  if (server && settings.verify_client != verify_kind::none && settings.trust_file.empty())
    throw tls_error(std::string("client certificate verification (") +
                    (settings.verify_client == verify_kind::required ? "required" : "optional") +
                    ") needs a trust file (the CA bundle that signs client certificates)");
  if (!server && settings.trust_file.empty())
    throw tls_error("a TLS client needs a trust file (the CA bundle that signs server certificates)");
  const auto [min_version, max_version] = parse_protocols(settings.protocols);

  ERR_clear_error();
  ctx_ptr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) throw tls_error("cannot create a TLS context: " + openssl_reason());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Idle connections give their 16 KiB record buffers back (DMZ hosts are sized by idle
  // connections: issue 4 measures RSS per idle wss connection).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_min_proto_version(c, min_version) != 1 || SSL_CTX_set_max_proto_version(c, max_version) != 1)
    throw tls_error("TLS protocols \"" + settings.protocols + "\": " + openssl_reason());
  const std::string ciphers = settings.ciphers.empty() ? intermediate_ciphers : settings.ciphers;
  if (SSL_CTX_set_cipher_list(c, ciphers.c_str()) != 1)
    throw tls_error("TLS cipher list \"" + settings.ciphers + "\" selects no cipher");

  if (!settings.identity_file.empty()) {
    std::vector<identity> groups = load_identities(settings.identity_file);
    identity& first = groups.front();
    if (SSL_CTX_use_cert_and_key(c, first.cert.get(), first.key.get(), first.chain.get(), 1) != 1)
      fail(settings.identity_file, "cannot use the certificate (" + openssl_reason() + ")");
    if (server && groups.size() > 1) {
      auto set = std::make_unique<identity_set>(identity_set{std::move(groups)});
      if (SSL_CTX_set_ex_data(c, identity_index(), set.get()) != 1)
        throw tls_error("cannot create a TLS context: " + openssl_reason());
      set.release();  // freed with the SSL_CTX (free_identity_set)
      SSL_CTX_set_tlsext_servername_callback(c, select_identity);
    }
  }

  if (server) {
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(c, session_id_context, sizeof session_id_context - 1);
    SSL_CTX_set_dh_auto(c, 1);
    if (!settings.trust_file.empty())
      load_trust(c, settings.trust_file, settings.verify_client != verify_kind::none);
    int mode = SSL_VERIFY_NONE;
    if (settings.verify_client == verify_kind::optional) mode = SSL_VERIFY_PEER;
    if (settings.verify_client == verify_kind::required)
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(c, mode, nullptr);
  } else {
    load_trust(c, settings.trust_file, false);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  }
  ERR_clear_error();
  return tls_context(ctx.release(), settings.side);
}

tls_context::tls_context(tls_context&& other) noexcept
    : _ctx(std::exchange(other._ctx, nullptr)), _side(other._side) {}

tls_context& tls_context::operator=(tls_context&& other) noexcept {
  if (this != &other) {
    SSL_CTX_free(_ctx);
    _ctx = std::exchange(other._ctx, nullptr);
    _side = other._side;
  }
  return *this;
}

tls_context::~tls_context() { SSL_CTX_free(_ctx); }

}  // namespace postern::net
