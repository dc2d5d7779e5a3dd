// tls_session (see tls_session.h). Every OpenSSL call that can fail starts with an empty error
// queue (ERR_clear_error) and leaves it empty, so that one session's errors never show up in
// another's sentence on the same thread.
#include "net/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <climits>
#include <new>
#include <utility>

#include "net/tls_context.h"

namespace postern::net {
namespace {

bool is_ip_literal(const std::string& name) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 || inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

}  // namespace

tls_session::tls_session(const tls_context& context) {
  ERR_clear_error();
  _ssl = SSL_new(context.native());
  _in = BIO_new(BIO_s_mem());
  _out = BIO_new(BIO_s_mem());
  if (_ssl == nullptr || _in == nullptr || _out == nullptr) {
    BIO_free(_in);
    BIO_free(_out);
    SSL_free(_ssl);
    ERR_clear_error();
    throw std::bad_alloc();
  }
  // An empty read BIO means "no more for now" (a retry), never end of file.
  BIO_set_mem_eof_return(_in, -1);
  SSL_set_bio(_ssl, _in, _out);  // _ssl owns both from here
  if (context.side() == tls_settings::side_kind::server) {
    SSL_set_accept_state(_ssl);
    _state = state::handshaking;
  } else {
    SSL_set_connect_state(_ssl);
    _state = state::waiting;
  }
}

tls_session::tls_session(tls_session&& other) noexcept
    : _ssl(std::exchange(other._ssl, nullptr)),
      _in(std::exchange(other._in, nullptr)),
      _out(std::exchange(other._out, nullptr)),
      _state(other._state),
      _flags(other._flags),
      _error(std::move(other._error)) {
  other._state = state::failed;
}

tls_session& tls_session::operator=(tls_session&& other) noexcept {
  if (this != &other) {
    release();
    _ssl = std::exchange(other._ssl, nullptr);
    _in = std::exchange(other._in, nullptr);
    _out = std::exchange(other._out, nullptr);
    _state = std::exchange(other._state, state::failed);
    _flags = other._flags;
    _error = std::move(other._error);
  }
  return *this;
}

tls_session::~tls_session() { release(); }

void tls_session::release() noexcept {
  SSL_free(_ssl);  // frees both BIOs too
  _ssl = nullptr;
  _in = _out = nullptr;
}

void tls_session::start_client(std::string_view peer_name) {
  if (_state != state::waiting) return;
  _state = state::handshaking;
  ERR_clear_error();
  std::string name(peer_name);  // OpenSSL wants a NUL-terminated string; once per connection
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (!name.empty()) {
    if (is_ip_literal(name)) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(_ssl), name.c_str()) != 1)
        return fail("cannot check the server's certificate for IP address " + name);
    } else {
      SSL_set_hostflags(_ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set_tlsext_host_name(_ssl, name.c_str()) != 1 || SSL_set1_host(_ssl, name.c_str()) != 1)
        return fail("cannot use \"" + name + "\" as the server's name");
    }
  }
  int rc = SSL_do_handshake(_ssl);
  if (rc == 1) {
    _state = state::open;
    return;
  }
  int error = SSL_get_error(_ssl, rc);
  if (error != SSL_ERROR_WANT_READ) fail(error);
}

void tls_session::feed(std::span<const std::byte> ciphertext) {
  if (_state == state::failed) return;
  while (!ciphertext.empty()) {
    int chunk = ciphertext.size() > INT_MAX ? INT_MAX : static_cast<int>(ciphertext.size());
    int n = BIO_write(_in, ciphertext.data(), chunk);
    if (n <= 0) {
      ERR_clear_error();
      return fail("out of memory for TLS input");
    }
    ciphertext = ciphertext.subspan(static_cast<std::size_t>(n));
  }
}

tls_session::read_result tls_session::read(std::span<std::byte> out) {
  switch (_state) {
    case state::failed: return {result::failed};
    case state::waiting: return {result::need_more};
    case state::handshaking: {
      ERR_clear_error();
      int rc = SSL_do_handshake(_ssl);
      if (rc == 1) {
        _state = state::open;
        return {result::handshake_done};
      }
      int error = SSL_get_error(_ssl, rc);
      if (error == SSL_ERROR_WANT_READ) return {result::need_more};
      fail(error);
      return {result::failed};
    }
    case state::open: break;
  }
  if (_flags & flag_peer_closed) return {result::peer_closed};
  if (out.empty()) return {result::need_more};
  ERR_clear_error();
  std::size_t got = 0;
  if (SSL_read_ex(_ssl, out.data(), out.size(), &got) == 1) return {result::plaintext, got};
  int error = SSL_get_error(_ssl, 0);
  if (error == SSL_ERROR_WANT_READ) return {result::need_more};
  if (error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    _flags |= flag_peer_closed;
    return {result::peer_closed};
  }
  fail(error);
  return {result::failed};
}

std::size_t tls_session::write(std::span<const std::byte> plaintext) {
  if (!writable() || plaintext.empty()) return 0;
  std::size_t size = plaintext.size() < max_record_bytes ? plaintext.size() : max_record_bytes;
  ERR_clear_error();
  std::size_t written = 0;
  if (SSL_write_ex(_ssl, plaintext.data(), size, &written) == 1) return written;
  fail(SSL_get_error(_ssl, 0));
  return 0;
}

bool tls_session::shutdown() {
  if (_state != state::open) return false;
  if (_flags & flag_shutdown_sent) return true;
  ERR_clear_error();
  // 0: our close_notify is queued and the peer's has not come; 1: both; < 0 with a memory BIO
  // only for a real failure.
  int rc = SSL_shutdown(_ssl);
  if (rc < 0) {
    int error = SSL_get_error(_ssl, rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      fail(error);
      return false;
    }
  }
  ERR_clear_error();
  _flags |= flag_shutdown_sent;
  return true;
}

std::size_t tls_session::pending_ciphertext() const noexcept {
  return _out == nullptr ? 0 : BIO_ctrl_pending(_out);
}

std::size_t tls_session::take_ciphertext(std::span<std::byte> out) noexcept {
  if (_out == nullptr || out.empty()) return 0;
  int chunk = out.size() > INT_MAX ? INT_MAX : static_cast<int>(out.size());
  int n = BIO_read(_out, out.data(), chunk);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void tls_session::fail(std::string_view why) {
  _state = state::failed;
  _error.assign(why);
}

void tls_session::fail(int ssl_error) {
  unsigned long code = ERR_peek_error();  // the oldest error: the root cause
  long verify = SSL_get_verify_result(_ssl);
  std::string why;
  if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL &&
      ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
    why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  } else if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    why = reason != nullptr ? reason : "TLS error " + std::to_string(ERR_GET_REASON(code));
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    why = "TLS stream ended unexpectedly";
  } else {
    why = "TLS error (SSL_get_error " + std::to_string(ssl_error) + ")";
  }
  ERR_clear_error();
  fail(why);
}

std::string tls_session::protocol() const {
  return _ssl == nullptr ? std::string() : std::string(SSL_get_version(_ssl));
}

std::string tls_session::peer_subject() const {
  X509* cert = _ssl == nullptr ? nullptr : SSL_get0_peer_certificate(_ssl);
  if (cert == nullptr) return {};
  BIO* text = BIO_new(BIO_s_mem());
  if (text == nullptr) return {};
  X509_NAME_print_ex(text, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(text, &data);
  std::string subject = size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
  BIO_free(text);
  return subject;
}

std::string tls_session::server_name() const {
  const char* name = _ssl == nullptr ? nullptr : SSL_get_servername(_ssl, TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? std::string() : std::string(name);
}

}  // namespace postern::net
