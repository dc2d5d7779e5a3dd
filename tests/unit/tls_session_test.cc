// tls_context and tls_session tests: a client session and a server session talking in memory
// (no socket), over the test PKI of scripts/make-test-pki.sh. Ciphertext is also delivered
// split at every byte offset of each side's first flight, and byte by byte.
#include "net/tls_session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "net/tls_context.h"
#include "tests/unit/test_pki.h"

namespace postern::net {
namespace {

using test::test_pki_file;
using side_kind = tls_settings::side_kind;
using verify_kind = tls_settings::verify_kind;

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + i / 251) % 256);
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A scratch folder for files the tests write, removed when the test binary exits.
const std::string& scratch_dir() {
  static char name[] = "/tmp/tls_session_test.XXXXXX";  // outlives every static std::string
  static const std::string dir = [] {
    if (::mkdtemp(name) == nullptr) std::abort();
    std::atexit([] { std::system((std::string("rm -rf '") + name + "'").c_str()); });
    return std::string(name);
  }();
  return dir;
}

std::string write_file(const std::string& name, const std::string& text, mode_t mode) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

// tls_settings field by field (g++ 12 warns about designated initializers that leave members out).
tls_settings settings(side_kind side, std::string identity = "", std::string trust = "",
                      verify_kind verify = verify_kind::none, std::string ciphers = "", std::string protocols = "") {
  tls_settings s;
  s.side = side;
  s.identity_file = std::move(identity);
  s.trust_file = std::move(trust);
  s.verify_client = verify;
  s.ciphers = std::move(ciphers);
  s.protocols = std::move(protocols);
  return s;
}

tls_context server_context(const std::string& identity = "server.pem", verify_kind verify = verify_kind::none,
                           const std::string& protocols = "") {
  const std::string trust = verify == verify_kind::none ? "" : test_pki_file("ca.pem");
  return tls_context::make(settings(side_kind::server, test_pki_file(identity), trust, verify, "", protocols));
}

tls_context client_context(const std::string& identity = "", const std::string& protocols = "",
                           const std::string& trust = "ca.pem") {
  const std::string identity_file = identity.empty() ? "" : test_pki_file(identity);
  return tls_context::make(
      settings(side_kind::client, identity_file, test_pki_file(trust), verify_kind::none, "", protocols));
}

// One side of an in-memory connection and everything its session reported.
struct endpoint {
  explicit endpoint(const tls_context& context) : session(context) {}
  tls_session session;
  std::string plaintext;
  int handshakes = 0, closes = 0, failures = 0;

  // Reads until the session needs more ciphertext (or stops for good). Counts each event once.
  void drive() {
    if (failures > 0 || closes > 0) return;
    std::byte buffer[4096];
    for (;;) {
      tls_session::read_result r = session.read(buffer);
      switch (r.what) {
        case tls_session::result::plaintext:
          ASSERT_GT(r.bytes, 0u);
          plaintext.append(reinterpret_cast<const char*>(buffer), r.bytes);
          continue;
        case tls_session::result::handshake_done: ++handshakes; continue;
        case tls_session::result::need_more: return;
        case tls_session::result::peer_closed: ++closes; return;
        case tls_session::result::failed: ++failures; return;
      }
    }
  }
  std::string take() {
    std::string out;
    std::byte buffer[1000];  // smaller than a flight: take_ciphertext is called repeatedly
    while (std::size_t n = session.take_ciphertext(buffer)) out.append(reinterpret_cast<const char*>(buffer), n);
    EXPECT_EQ(session.pending_ciphertext(), 0u);
    return out;
  }
  void write_all(std::string_view text) {
    while (!text.empty()) {
      std::size_t n = session.write(bytes_of(text));
      ASSERT_GT(n, 0u) << "write refused: " << session.error();
      ASSERT_LE(n, tls_session::max_record_bytes);
      text.remove_prefix(n);
    }
  }
};

// Feeds `bytes` to `to` in pieces: first `split` bytes, then the rest (split == npos: whole;
// split == 0 with byte_by_byte: one byte at a time), driving after each piece.
void deliver(endpoint& to, const std::string& bytes, std::size_t split = std::string::npos, bool byte_by_byte = false) {
  if (byte_by_byte) {
    for (char c : bytes) {
      to.session.feed(bytes_of(std::string_view(&c, 1)));
      to.drive();
    }
    return;
  }
  std::size_t first = split < bytes.size() ? split : bytes.size();
  to.session.feed(bytes_of(std::string_view(bytes).substr(0, first)));
  to.drive();
  to.session.feed(bytes_of(std::string_view(bytes).substr(first)));
  to.drive();
}

// Moves ciphertext both ways until neither side has any left.
void pump(endpoint& client, endpoint& server, bool byte_by_byte = false) {
  for (int round = 0; round < 20; ++round) {
    std::string to_server = client.take();
    std::string to_client = server.take();
    if (to_server.empty() && to_client.empty()) return;
    deliver(server, to_server, std::string::npos, byte_by_byte);
    deliver(client, to_client, std::string::npos, byte_by_byte);
  }
  ADD_FAILURE() << "ciphertext still flowing after 20 rounds";
}

// Both established, and data crosses both ways byte-identical.
void expect_data_both_ways(endpoint& client, endpoint& server) {
  ASSERT_TRUE(client.session.handshake_done()) << client.session.error();
  ASSERT_TRUE(server.session.handshake_done()) << server.session.error();
  const std::string up = "hello server " + pattern(100000);
  const std::string down = "hello client " + pattern(70001);
  client.write_all(up);
  server.write_all(down);
  pump(client, server);
  EXPECT_TRUE(server.plaintext == up) << "server got " << server.plaintext.size() << " of " << up.size();
  EXPECT_TRUE(client.plaintext == down) << "client got " << client.plaintext.size() << " of " << down.size();
  EXPECT_EQ(client.failures + server.failures, 0);
}

TEST(tls_session, handshake_and_data_both_ways_tls13) {
  tls_context sctx = server_context(), cctx = client_context();
  endpoint client(cctx), server(sctx);
  EXPECT_EQ(client.session.pending_ciphertext(), 0u);
  client.session.start_client("localhost");
  EXPECT_GT(client.session.pending_ciphertext(), 0u) << "no ClientHello queued";
  pump(client, server);
  EXPECT_EQ(client.handshakes, 1);
  EXPECT_EQ(server.handshakes, 1);
  EXPECT_EQ(client.session.protocol(), "TLSv1.3");
  EXPECT_EQ(client.session.peer_subject(), "CN=localhost,O=postern tests");
  EXPECT_EQ(server.session.peer_subject(), "");
  EXPECT_EQ(server.session.server_name(), "localhost");
  expect_data_both_ways(client, server);
}

TEST(tls_session, handshake_and_data_both_ways_tls12) {
  tls_context sctx = server_context(), cctx = client_context("", "TLSv1.2");
  endpoint client(cctx), server(sctx);
  client.session.start_client("gateway.example.com");
  pump(client, server);
  EXPECT_EQ(client.session.protocol(), "TLSv1.2");
  EXPECT_EQ(server.session.protocol(), "TLSv1.2");
  expect_data_both_ways(client, server);
}

TEST(tls_session, ip_literal_is_checked_against_ip_sans) {
  tls_context sctx = server_context(), cctx = client_context();
  endpoint client(cctx), server(sctx);
  client.session.start_client("127.0.0.9");
  pump(client, server);
  EXPECT_EQ(server.session.server_name(), "") << "an IP literal must not be sent as SNI";
  expect_data_both_ways(client, server);

  endpoint client2(cctx), server2(sctx);
  client2.session.start_client("127.0.0.10");
  pump(client2, server2);
  EXPECT_TRUE(client2.session.failed());
  EXPECT_EQ(client2.session.error(), "certificate verify failed: IP address mismatch");
}

// Splits each side's first flight at every byte offset (the rest follows in a second feed).
TEST(tls_session, first_flights_split_at_every_byte_offset) {
  tls_context sctx = server_context(), cctx = client_context();
  std::size_t hello_size = 0;
  for (std::size_t split = 0;; ++split) {
    endpoint client(cctx), server(sctx);
    client.session.start_client("localhost");
    const std::string hello = client.take();
    hello_size = hello.size();
    deliver(server, hello, split);
    ASSERT_EQ(server.failures, 0) << "split at " << split << ": " << server.session.error();
    pump(client, server);
    ASSERT_TRUE(client.session.handshake_done() && server.session.handshake_done()) << "split at " << split;
    if (split >= hello.size()) break;
  }
  EXPECT_GT(hello_size, 100u);

  std::size_t flight_size = 0;
  for (std::size_t split = 0;; ++split) {
    endpoint client(cctx), server(sctx);
    client.session.start_client("localhost");
    deliver(server, client.take());
    const std::string flight = server.take();  // ServerHello ... Finished
    flight_size = flight.size();
    deliver(client, flight, split);
    ASSERT_EQ(client.failures, 0) << "split at " << split << ": " << client.session.error();
    ASSERT_EQ(client.handshakes, 1) << "split at " << split;
    pump(client, server);
    ASSERT_TRUE(server.session.handshake_done()) << "split at " << split;
    if (split >= flight.size()) break;
  }
  EXPECT_GT(flight_size, 500u);
}

TEST(tls_session, handshake_and_data_byte_by_byte) {
  tls_context sctx = server_context("server.pem", verify_kind::required), cctx = client_context("client.pem");
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server, true);
  ASSERT_EQ(client.handshakes, 1);
  ASSERT_EQ(server.handshakes, 1);
  client.write_all("ping over single bytes");
  server.write_all("pong over single bytes");
  pump(client, server, true);
  EXPECT_EQ(server.plaintext, "ping over single bytes");
  EXPECT_EQ(client.plaintext, "pong over single bytes");
}

TEST(tls_session, required_client_certificate_missing_fails_the_server) {
  tls_context sctx = server_context("server.pem", verify_kind::required), cctx = client_context();
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_TRUE(server.session.failed());
  EXPECT_EQ(server.session.error(), "peer did not return a certificate");
  EXPECT_EQ(server.failures, 1);
  // TLS 1.3: the client finished its side, then reads the server's alert.
  EXPECT_TRUE(client.session.failed());
  EXPECT_EQ(client.session.error(), "tlsv13 alert certificate required");
}

TEST(tls_session, required_client_certificate_from_foreign_ca_fails_the_server) {
  tls_context sctx = server_context("server.pem", verify_kind::required), cctx = client_context("foreign-client.pem");
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_TRUE(server.session.failed());
  EXPECT_EQ(server.session.error(), "certificate verify failed: unable to get local issuer certificate");
  EXPECT_TRUE(client.session.failed());
  EXPECT_EQ(client.session.error(), "tlsv1 alert unknown ca");
}

TEST(tls_session, required_client_certificate_from_the_ca_works) {
  tls_context sctx = server_context("server.pem", verify_kind::required), cctx = client_context("client.pem");
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_EQ(server.session.peer_subject(), "CN=postern-test-client,O=postern tests");
  expect_data_both_ways(client, server);
}

TEST(tls_session, optional_client_certificate) {
  tls_context sctx = server_context("server.pem", verify_kind::optional);
  tls_context without = client_context(), with = client_context("client.pem");
  endpoint client(without), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_EQ(server.session.peer_subject(), "");
  expect_data_both_ways(client, server);

  endpoint client2(with), server2(sctx);
  client2.session.start_client("localhost");
  pump(client2, server2);
  EXPECT_EQ(server2.session.peer_subject(), "CN=postern-test-client,O=postern tests");
  expect_data_both_ways(client2, server2);
}

TEST(tls_session, server_certificate_from_foreign_ca_fails_the_client) {
  tls_context sctx = server_context("foreign-server.pem"), cctx = client_context();
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_TRUE(client.session.failed());
  EXPECT_EQ(client.session.error(), "certificate verify failed: unable to get local issuer certificate");
  EXPECT_FALSE(client.session.handshake_done());
  EXPECT_TRUE(server.session.failed()) << "the client's alert should fail the server";
  EXPECT_EQ(server.session.error(), "tlsv1 alert unknown ca");
  // A failed session takes nothing more.
  EXPECT_EQ(client.session.write(bytes_of("x")), 0u);
  EXPECT_FALSE(client.session.shutdown());
}

TEST(tls_session, wrong_host_name_fails_the_client) {
  tls_context sctx = server_context("wrong-host.pem"), cctx = client_context();
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_TRUE(client.session.failed());
  EXPECT_EQ(client.session.error(), "certificate verify failed: hostname mismatch");
}

TEST(tls_session, sni_picks_the_matching_identity_group) {
  const std::string both = write_file("sni.pem", read_text(test_pki_file("server.pem")) +
                                                     read_text(test_pki_file("other-server.pem")), 0600);
  tls_context sctx = tls_context::make(settings(side_kind::server, both));
  tls_context cctx = client_context();
  struct expectation { const char* name; const char* subject; };
  for (expectation e : {expectation{"other.example", "CN=other.example,O=postern tests"},
                        expectation{"localhost", "CN=localhost,O=postern tests"},
                        expectation{"any.example.com", "CN=localhost,O=postern tests"}}) {
    endpoint client(cctx), server(sctx);
    client.session.start_client(e.name);
    pump(client, server);
    EXPECT_EQ(server.session.server_name(), e.name);
    EXPECT_EQ(client.session.peer_subject(), e.subject) << e.name;
    expect_data_both_ways(client, server);
  }
  // No group matches: the first one is served, and the client's name check refuses it.
  endpoint client(cctx), server(sctx);
  client.session.start_client("nothing.test");
  pump(client, server);
  EXPECT_EQ(client.session.error(), "certificate verify failed: hostname mismatch");
}

TEST(tls_session, tls13_only_server_refuses_tls12_only_client) {
  tls_context sctx = server_context("server.pem", verify_kind::none, "TLSv1.3");
  tls_context cctx = client_context("", "TLSv1.2");
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  EXPECT_TRUE(server.session.failed());
  EXPECT_EQ(server.session.error(), "unsupported protocol");
  EXPECT_TRUE(client.session.failed());
  EXPECT_EQ(client.session.error(), "tlsv1 alert protocol version");
  EXPECT_EQ(client.handshakes + server.handshakes, 0);
}

TEST(tls_session, close_notify_is_seen_as_peer_closed_and_half_close_works) {
  tls_context sctx = server_context(), cctx = client_context();
  endpoint client(cctx), server(sctx);
  client.session.start_client("localhost");
  pump(client, server);
  client.write_all("last words");
  EXPECT_TRUE(client.session.shutdown());
  EXPECT_TRUE(client.session.shutdown()) << "idempotent";
  EXPECT_FALSE(client.session.writable());
  EXPECT_EQ(client.session.write(bytes_of("too late")), 0u);
  pump(client, server);
  EXPECT_EQ(server.plaintext, "last words");
  EXPECT_EQ(server.closes, 1);
  EXPECT_TRUE(server.session.peer_closed());
  EXPECT_EQ(client.closes, 0);
  // The other direction stays open until the server closes it too.
  server.write_all("reply after close_notify");
  EXPECT_TRUE(server.session.shutdown());
  pump(client, server);
  EXPECT_EQ(client.plaintext, "reply after close_notify");
  EXPECT_EQ(client.closes, 1);
  EXPECT_TRUE(client.session.peer_closed());
  EXPECT_EQ(client.failures + server.failures, 0);
}

TEST(tls_session, shutdown_refused_while_handshaking) {
  tls_context cctx = client_context();
  endpoint client(cctx);
  client.session.start_client("localhost");
  EXPECT_FALSE(client.session.shutdown());
  EXPECT_FALSE(client.session.writable());
  EXPECT_EQ(client.session.write(bytes_of("early")), 0u);
}

TEST(tls_session, garbage_fails_the_server_with_a_sentence) {
  tls_context sctx = server_context();
  endpoint server(sctx);
  deliver(server, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(server.session.failed());
  EXPECT_EQ(server.session.error(), "http request");
}

// ---------------------------------------------------------------------------------------------
// tls_context refusals: every message names the file or setting and the problem.

std::string make_error(const tls_settings& settings) {
  try {
    tls_context::make(settings);
  } catch (const tls_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(tls_context, key_file_readable_by_others_is_refused) {
  const std::string path = write_file("open.pem", read_text(test_pki_file("server.pem")), 0644);
  EXPECT_EQ(make_error(settings(side_kind::server, path)),
            path + ": private key file is readable by others (mode 0644); chmod 600 it");
  const std::string group = write_file("group.pem", read_text(test_pki_file("server.pem")), 0640);
  EXPECT_EQ(make_error(settings(side_kind::server, group)),
            group + ": private key file is readable by others (mode 0640); chmod 600 it");
}

TEST(tls_context, key_that_does_not_match_its_certificate_is_refused) {
  const std::string server = read_text(test_pki_file("server.pem"));
  const std::string client = read_text(test_pki_file("client.pem"));
  const std::string key_marker = "-----BEGIN PRIVATE KEY-----";
  ASSERT_NE(server.find(key_marker), std::string::npos);
  const std::string path = write_file("mismatch.pem", server.substr(0, server.find(key_marker)) +
                                                          client.substr(client.find(key_marker)), 0600);
  EXPECT_EQ(make_error(settings(side_kind::server, path)),
            path + ": private key does not match its certificate (group 1, CN=localhost,O=postern tests)");
}

TEST(tls_context, other_refusals_name_the_file_and_problem) {
  const std::string missing = scratch_dir() + "/missing.pem";
  EXPECT_EQ(make_error(settings(side_kind::server, missing)),
            missing + ": cannot read: No such file or directory");
  const std::string server = read_text(test_pki_file("server.pem"));
  const std::string key_marker = "-----BEGIN PRIVATE KEY-----";
  const std::string cert_only = write_file("cert-only.pem", server.substr(0, server.find(key_marker)), 0600);
  EXPECT_EQ(make_error(settings(side_kind::server, cert_only)),
            cert_only + ": the certificate CN=localhost,O=postern tests has no private key after it");
  const std::string key_only = write_file("key-only.pem", server.substr(server.find(key_marker)), 0600);
  EXPECT_EQ(make_error(settings(side_kind::server, key_only)),
            key_only + ": a private key with no certificate before it (group 1)");
  const std::string empty = write_file("empty.pem", "", 0600);
  EXPECT_EQ(make_error(settings(side_kind::server, empty)), empty + ": no certificate");
  EXPECT_EQ(make_error(settings(side_kind::server)),
            "a TLS server needs an identity file (certificate chain, then private key)");
  EXPECT_EQ(make_error(settings(side_kind::server, test_pki_file("server.pem"), "", verify_kind::required)),
            "client certificate verification (required) needs a trust file (the CA bundle that signs "
            "client certificates)");
  EXPECT_EQ(make_error(settings(side_kind::server, test_pki_file("server.pem"), "", verify_kind::optional)),
            "client certificate verification (optional) needs a trust file (the CA bundle that signs "
            "client certificates)");
  EXPECT_EQ(make_error(settings(side_kind::client)),
            "a TLS client needs a trust file (the CA bundle that signs server certificates)");
  EXPECT_EQ(make_error(settings(side_kind::client, "", missing)),
            missing + ": cannot read: No such file or directory");
  EXPECT_EQ(make_error(settings(side_kind::client, "", empty)),
            empty + ": no CA certificate (no certificate or crl found)");
  const std::string server_pem = test_pki_file("server.pem");
  EXPECT_EQ(make_error(settings(side_kind::server, server_pem, "", verify_kind::none, "", "TLSv1.2,TLSv1.1")),
            "TLS protocols \"TLSv1.2,TLSv1.1\": unknown or unsupported protocol \"TLSv1.1\" (postern speaks "
            "TLSv1.2 and TLSv1.3)");
  EXPECT_EQ(make_error(settings(side_kind::server, server_pem, "", verify_kind::none, "", " , ")),
            "TLS protocols \" , \" names no protocol");
  EXPECT_EQ(make_error(settings(side_kind::server, server_pem, "", verify_kind::none, "NO-SUCH-CIPHER")),
            "TLS cipher list \"NO-SUCH-CIPHER\" selects no cipher");
  // Space-separated protocols are accepted too.
  const std::string ca = test_pki_file("ca.pem");
  EXPECT_EQ(make_error(settings(side_kind::client, "", ca, verify_kind::none, "", "TLSv1.3 TLSv1.2")), "(no error)");
}

TEST(tls_context, contexts_and_sessions_move) {
  tls_context a = server_context();
  tls_context b = std::move(a);
  EXPECT_EQ(a.native(), nullptr);
  ASSERT_NE(b.native(), nullptr);
  tls_context cctx = client_context();
  endpoint client(cctx);
  std::optional<endpoint> server_holder;
  {
    tls_session moved(b);
    server_holder.emplace(b);
    server_holder->session = std::move(moved);
  }
  { tls_context gone = std::move(b); }  // the session keeps the SSL_CTX alive
  client.session.start_client("localhost");
  pump(client, *server_holder);
  expect_data_both_ways(client, *server_holder);
}

}  // namespace
}  // namespace postern::net
