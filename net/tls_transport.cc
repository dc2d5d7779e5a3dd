// tls_transport (see tls_transport.h): a tls_session between a core::stream and a
// transport_handler. Ciphertext moves from the session to the stream's corked queue right after
// every session call that can produce it (flush_ciphertext), so records written in one loop
// iteration leave in one send.
//
// Re-entrancy: the handler may call any method (write, pause, close, set_handler...) from inside
// its callbacks; after every callback the state is looked at again. Work that must not run
// inside a caller's stack (delivering plaintext that waited while paused, reporting a TLS
// failure after its alert was flushed) runs from the _later timer.
#include "net/tls_transport.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "core/byte_queue.h"
#include "net/tls_session.h"

namespace postern::net {
namespace {

// Stack space for one decrypted record, and for ciphertext on its way to the stream (a record
// of max_record_bytes plus its header, padding and tag fits in one take).
constexpr std::size_t plaintext_chunk_bytes = tls_session::max_record_bytes;
constexpr std::size_t ciphertext_chunk_bytes = tls_session::max_record_bytes + 512;

class tls_transport final : public transport, private core::stream_handler {
 public:
  tls_transport(core::reactor& reactor, core::unique_fd fd, const tls_context& context, std::string peer_name,
                transport_handler& handler, std::uint64_t handshake_timeout_ms)
      : _reactor(&reactor),
        _handler(&handler),
        _stream(reactor, std::move(fd), *this),
        _session(context),
        _pending(reactor.buffers()),
        _handshake_timer([this] { on_handshake_timeout(); }),
        _later([this] { run_later(); }),
        _handshake_timeout_ms(handshake_timeout_ms),
        _peer_name(std::move(peer_name)),
        _client(context.side() == tls_settings::side_kind::client) {}

  void start() override {
    if (_state != state::idle) return;
    begin_handshake();
  }

  void connect(const socket_address& addr) override {
    if (_state != state::idle) return;
    _state = state::connecting;
    _peer = addr;
    _stream.connect(addr.get(), addr.length);
  }

  void write(std::span<const std::byte> bytes) override {
    if (bytes.empty() || (_flags & flag_shutdown_wanted)) return;
    if (_state == state::open)
      encrypt(bytes);
    else if (_state == state::idle || _state == state::connecting || _state == state::handshaking)
      _pending.append(bytes);
  }

  std::size_t queued_bytes() const noexcept override { return _pending.size() + _stream.queued_bytes(); }

  // A pause asked for during the handshake starts when the handshake is done: the handshake
  // itself must go on reading.
  void pause_reading() override {
    _flags |= flag_paused;
    if (_state == state::open) _stream.pause_reading();
  }
  void resume_reading() override {
    if (!(_flags & flag_paused)) return;
    _flags &= ~flag_paused;
    _stream.resume_reading();
    // Records that were already decrypted or fed wait inside the session: deliver them from
    // the loop, not from inside the caller.
    if (_state == state::open) _reactor->arm_timer(_later, 0);
  }
  bool reading_paused() const noexcept override { return _flags & flag_paused; }

  void shutdown_write() override {
    if (_flags & flag_shutdown_wanted) return;
    _flags |= flag_shutdown_wanted;
    if (_state == state::open) send_close_notify();
  }

  void close() override {
    if (_state == state::closing || _state == state::closed) return;
    _state = state::closing;
    _reactor->disarm_timer(_handshake_timer);
    _reactor->disarm_timer(_later);
    _pending.clear();
    _stream.close();
  }

  int fd() const noexcept override { return _stream.fd(); }
  bool secure() const noexcept override { return true; }
  void set_handler(transport_handler& handler) noexcept override { _handler = &handler; }

 private:
  enum class state : std::uint8_t {
    idle,         // made; neither start() nor connect() yet
    connecting,   // the TCP connect is in flight
    handshaking,  // reading; the handshake runs and _handshake_timer is armed
    open,         // the handshake is done; plaintext flows both ways
    failed,       // a failure is known (_error); reported to the handler by now or from _later
    closing,      // close() called; waiting for the stream's on_closed
    closed,       // on_transport_closed was called: nothing more happens
  };
  enum flag : std::uint8_t {
    flag_paused = 1u << 0,           // the handler paused reading
    flag_shutdown_wanted = 1u << 1,  // shutdown_write() called: close_notify + FIN once open
    flag_tcp_eof = 1u << 2,          // the stream saw the peer's FIN
    flag_eof_reported = 1u << 3,     // on_transport_eof was called
    flag_error_reported = 1u << 4,   // on_transport_error was called
  };

  bool reading() const noexcept { return _state == state::handshaking || _state == state::open; }

  void begin_handshake() {
    _state = state::handshaking;
    _reactor->arm_timer(_handshake_timer, _handshake_timeout_ms);
    if (_client) _session.start_client(_peer_name);
    flush_ciphertext();
    _stream.start_reading();
    if (_session.failed()) fail_tls();
  }

  // stream_handler ---------------------------------------------------------------------------

  void on_readable(std::span<std::byte> bytes) override {
    if (!reading()) return;
    _session.feed(bytes);
    process();
  }

  void on_read_eof() override {
    if (!reading()) return;
    _flags |= flag_tcp_eof;
    if (_state == state::handshaking) {
      fail_now(0, "connection closed by the peer during the TLS handshake");
      return;
    }
    if (!(_flags & flag_paused)) process();  // delivers what is left, then the EOF (else resume does)
  }

  void on_stream_error(int error) override {
    if (_state == state::closing || _state == state::closed || (_flags & flag_error_reported)) return;
    if (_state == state::failed) {
      // A TLS failure waits for its report: it says more than the socket error that followed.
      _reactor->disarm_timer(_later);
      report_error(0);
      return;
    }
    fail_now(error, std::string("connection error: ") + std::strerror(error));
  }

  void on_write_drained() override {
    if (_state == state::open && _pending.empty()) _handler->on_transport_drained();
  }

  void on_connected(int error) override {
    if (_state != state::connecting) return;
    if (error != 0) {
      fail_now(error, "connect to " + _peer.to_string() + " failed: " + std::strerror(error));
      return;
    }
    begin_handshake();
  }

  void on_closed() override {
    _state = state::closed;
    _handler->on_transport_closed();  // may destroy this: nothing after it
  }

  // The session ------------------------------------------------------------------------------

  // Reads the session until it needs more ciphertext, the handler pauses or closes, or the
  // session ends; hands each decrypted chunk to the handler as it comes.
  void process() {
    std::byte buffer[plaintext_chunk_bytes];
    while (reading() && !(_state == state::open && (_flags & flag_paused))) {
      tls_session::read_result r = _session.read(buffer);
      switch (r.what) {
        case tls_session::result::handshake_done:
          handshake_finished();
          continue;
        case tls_session::result::plaintext:
          _handler->on_transport_data(std::span(buffer, r.bytes));
          continue;
        case tls_session::result::need_more:
          flush_ciphertext();
          if ((_flags & flag_tcp_eof) && _state == state::open) report_eof();
          return;
        case tls_session::result::peer_closed:
          flush_ciphertext();
          report_eof();
          return;
        case tls_session::result::failed:
          fail_tls();
          return;
      }
    }
  }

  void handshake_finished() {
    _reactor->disarm_timer(_handshake_timer);
    _state = state::open;
    if (_flags & flag_paused) _stream.pause_reading();
    flush_ciphertext();  // a server's session tickets
    // Plaintext written while the handshake ran goes first, in order.
    iovec chunks[16];
    while (_state == state::open && !_pending.empty()) {
      std::size_t count = _pending.peek(chunks, std::size(chunks));
      std::size_t taken = 0;
      for (std::size_t i = 0; i < count; ++i) {
        encrypt(std::span(static_cast<const std::byte*>(chunks[i].iov_base), chunks[i].iov_len));
        taken += chunks[i].iov_len;
      }
      _pending.consume(taken);
    }
    if (_state == state::open && (_flags & flag_shutdown_wanted)) send_close_notify();
    if (_state == state::open) _handler->on_transport_ready();
  }

  void encrypt(std::span<const std::byte> bytes) {
    while (!bytes.empty() && _state == state::open) {
      std::size_t taken = _session.write(bytes);
      flush_ciphertext();
      if (taken == 0) {
        if (_session.failed()) fail_tls();
        return;
      }
      bytes = bytes.subspan(taken);
    }
  }

  void send_close_notify() {
    _session.shutdown();
    flush_ciphertext();
    _stream.shutdown_write();
  }

  void flush_ciphertext() {
    std::byte buffer[ciphertext_chunk_bytes];
    while (std::size_t n = _session.take_ciphertext(buffer)) _stream.write(std::span<const std::byte>(buffer, n));
  }

  void report_eof() {
    if (_flags & flag_eof_reported) return;
    _flags |= flag_eof_reported;
    _handler->on_transport_eof();
  }

  // A TLS failure: the alert (if any) goes out now; the handler hears of it from the loop, after
  // the stream has had its chance to send the alert.
  void fail_tls() {
    flush_ciphertext();
    _reactor->disarm_timer(_handshake_timer);
    _state = state::failed;
    _error.assign(_session.error());
    _reactor->arm_timer(_later, 0);
  }

  // A failure to report at once (no alert to send first).
  void fail_now(int error, std::string what) {
    _reactor->disarm_timer(_handshake_timer);
    _reactor->disarm_timer(_later);
    _state = state::failed;
    _error = std::move(what);
    report_error(error);
  }

  void report_error(int error) {
    if (_flags & flag_error_reported) return;
    _flags |= flag_error_reported;
    _handler->on_transport_error(error, _error);
  }

  void on_handshake_timeout() {
    if (_state != state::handshaking) return;
    fail_now(ETIMEDOUT, "TLS handshake timed out");
  }

  void run_later() {
    if (_state == state::failed)
      report_error(0);
    else if (_state == state::open)
      process();
  }

  core::reactor* _reactor;
  transport_handler* _handler;
  core::stream _stream;
  tls_session _session;
  core::byte_queue _pending;  // plaintext written before the handshake finished
  core::timer _handshake_timer;
  core::timer _later;  // deferred delivery after resume_reading, deferred TLS failure report
  std::uint64_t _handshake_timeout_ms;
  std::string _peer_name;
  std::string _error;
  socket_address _peer;
  const bool _client;  // the context's side: this end sends the ClientHello
  state _state = state::idle;
  std::uint8_t _flags = 0;
};

}  // namespace

std::unique_ptr<transport> make_tls_transport(core::reactor& reactor, core::unique_fd fd, const tls_context& context,
                                              std::string peer_name, transport_handler& handler,
                                              std::uint64_t handshake_timeout_ms) {
  return std::make_unique<tls_transport>(reactor, std::move(fd), context, std::move(peer_name), handler,
                                         handshake_timeout_ms);
}

}  // namespace postern::net
