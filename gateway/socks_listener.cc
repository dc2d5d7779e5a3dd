#include "gateway/socks_listener.h"

#include <algorithm>
#include <string>

#include "core/log.h"
#include "gateway/reverse_link.h"
#include "gateway/worker.h"
#include "net/socks5.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace postern::gateway {

namespace socks5 = net::socks5;

namespace {

class forward_link final : public net::transport_handler {
 public:
  forward_link(worker& w, core::unique_fd fd, std::vector<const socks_accept*> accepts)
      : _worker(&w), _accepts(std::move(accepts)), _peer(net::peer_address_of(fd.get())), _timer([this] {
          fail("no SOCKS5 CONNECT within the handshake timeout");
        }) {
    const socks_accept& first = *_accepts.front();
    if (first.tls)
      _transport = net::make_tls_transport(w.reactor(), std::move(fd), *first.tls, {}, *this,
                                           w.limits().handshake_timeout_ms);
    else
      _transport = net::make_tcp_transport(w.reactor(), std::move(fd), *this);
    w.reactor().arm_timer(_timer, w.limits().handshake_timeout_ms);
    _transport->start();
  }

  void on_transport_ready() override {}
  void on_transport_data(std::span<std::byte> bytes) override {
    if (!_transport) return;
    _in.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::string out;
    const auto step = _handshake.feed(_in, out);
    if (!out.empty()) _transport->write(out);
    out.clear();
    if (step == socks5::server_handshake::step::need_more) return;
    if (step == socks5::server_handshake::step::error) return refuse(_handshake.error());
    const socks5::request& r = _handshake.received();
    const socks5::address bound = socks5::address::from_sockaddr(_accepts.front()->link_address.get());
    if (r.cmd != socks5::command::connect) {
      socks5::encode_reply(out, socks5::reply_code::command_not_supported, bound);
      _transport->write(out);
      return refuse("SOCKS5 " + std::string(socks5::to_string(r.cmd)) + " request (socks.mode forward takes CONNECT)");
    }
    auto found = std::ranges::find_if(_accepts, [&](const socks_accept* a) {
      return r.target.type == socks5::address::kind::domain && a->logical_uri == r.target.domain;
    });
    if (found == _accepts.end()) {
      socks5::encode_reply(out, socks5::reply_code::not_allowed, bound);
      _transport->write(out);
      return refuse("CONNECT to " + r.target.to_string() + ", which no service here accepts");
    }
    socks5::encode_reply(out, socks5::reply_code::succeeded, bound);
    _transport->write(out);
    _worker->reactor().disarm_timer(_timer);
    LOG_DEBUG("forward link from %s for %s", _peer.to_string().c_str(), (*found)->logical_uri.c_str());
    std::string rest = std::move(_in);
    serve_link_client(*_worker, **found, std::move(_transport), _peer,
                      std::span(reinterpret_cast<std::byte*>(rest.data()), rest.size()));
    done();
  }
  void on_transport_eof() override { fail("closed during the SOCKS5 handshake"); }
  void on_transport_error(int, std::string_view what) override { fail(what); }
  void on_transport_closed() override {}

 private:
  ~forward_link() { _worker->reactor().disarm_timer(_timer); }

  void fail(std::string_view why) {
    if (!_transport) return;
    LOG_WARN("link from %s to %s refused: %.*s", _peer.to_string().c_str(),
             _accepts.front()->transport.to_string().c_str(), static_cast<int>(why.size()), why.data());
    _worker->dispose(std::move(_transport));
    done();
  }
  // Sends what was written (the refusal), then closes.
  void refuse(const std::string& why) {
    LOG_WARN("link from %s to %s refused: %s", _peer.to_string().c_str(), _accepts.front()->transport.to_string().c_str(),
             why.c_str());
    _worker->dispose(std::move(_transport), true);
    done();
  }
  void done() {
    _worker->reactor().disarm_timer(_timer);
    _worker->reactor().defer([this] { delete this; });
  }

  worker* _worker;
  std::vector<const socks_accept*> _accepts;
  net::socket_address _peer;
  std::unique_ptr<net::transport> _transport;
  std::string _in;
  socks5::server_handshake _handshake;
  core::timer _timer;
};

}  // namespace

void serve_forward_link(worker& w, core::unique_fd fd, std::vector<const socks_accept*> accepts) {
  if (accepts.empty()) return;
  new forward_link(w, std::move(fd), std::move(accepts));
}

}  // namespace postern::gateway
