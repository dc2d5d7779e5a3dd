// tcp_transport (see tcp_transport.h): a thin adapter from core::stream events to
// transport_handler events.
#include "net/tcp_transport.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace postern::net {
namespace {

class tcp_transport final : public transport, private core::stream_handler {
 public:
  tcp_transport(core::reactor& reactor, core::unique_fd fd, transport_handler& handler)
      : _handler(&handler), _stream(reactor, std::move(fd), *this) {}

  void start() override {
    if (_state != state::idle) return;  // already connecting or open: nothing to begin
    _state = state::open;
    _stream.start_reading();
    _handler->on_transport_ready();
  }

  void connect(const socket_address& addr) override {
    if (_state != state::idle) return;
    _state = state::connecting;
    _peer = addr;
    _stream.connect(addr.get(), addr.length);
  }

  void write(std::span<const std::byte> bytes) override { _stream.write(bytes); }
  std::size_t queued_bytes() const noexcept override { return _stream.queued_bytes(); }
  void pause_reading() override { _stream.pause_reading(); }
  void resume_reading() override { _stream.resume_reading(); }
  bool reading_paused() const noexcept override { return _stream.reading_paused(); }
  void shutdown_write() override { _stream.shutdown_write(); }

  void close() override {
    if (_state == state::closing || _state == state::closed) return;
    _state = state::closing;
    _stream.close();
  }

  int fd() const noexcept override { return _stream.fd(); }
  bool secure() const noexcept override { return false; }
  void set_handler(transport_handler& handler) noexcept override { _handler = &handler; }

 private:
  enum class state : std::uint8_t {
    idle,        // made; neither start() nor connect() yet
    connecting,  // the stream's connect is in flight
    open,        // reading; bytes flow both ways
    failed,      // an error was reported; waiting for close()
    closing,     // close() called; waiting for the stream's on_closed
    closed,      // on_transport_closed was called: nothing more happens
  };

  void on_readable(std::span<std::byte> bytes) override {
    if (_state == state::open) _handler->on_transport_data(bytes);
  }
  void on_read_eof() override {
    if (_state == state::open) _handler->on_transport_eof();
  }
  void on_stream_error(int error) override {
    if (_state != state::open) return;
    _state = state::failed;
    _handler->on_transport_error(error, std::string("connection error: ") + std::strerror(error));
  }
  void on_write_drained() override {
    if (_state == state::open) _handler->on_transport_drained();
  }
  void on_connected(int error) override {
    if (_state != state::connecting) return;
    if (error != 0) {
      _state = state::failed;
      _handler->on_transport_error(error, "connect to " + _peer.to_string() + " failed: " + std::strerror(error));
      return;
    }
    _state = state::open;
    _stream.start_reading();
    _handler->on_transport_ready();
  }
  void on_closed() override {
    _state = state::closed;
    _handler->on_transport_closed();  // may destroy this: nothing after it
  }

  transport_handler* _handler;
  core::stream _stream;
  socket_address _peer;
  state _state = state::idle;
};

}  // namespace

std::unique_ptr<transport> make_tcp_transport(core::reactor& reactor, core::unique_fd fd, transport_handler& handler) {
  return std::make_unique<tcp_transport>(reactor, std::move(fd), handler);
}

}  // namespace postern::net
