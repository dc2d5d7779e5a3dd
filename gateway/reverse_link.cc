#include "gateway/reverse_link.h"

#include <algorithm>
#include <utility>

#include "core/log.h"
#include "gateway/backplane.h"
#include "gateway/http_connection.h"
#include "gateway/tcp_echo_connection.h"
#include "gateway/tcp_proxy.h"
#include "gateway/worker.h"
#include "net/socks5.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

namespace postern::gateway {

namespace socks5 = net::socks5;

namespace {
constexpr std::uint64_t first_retry_ms = 500;
}  // namespace

class reverse_dialer::link final : public net::transport_handler {
 public:
  enum class state : std::uint8_t { connecting, method, first_reply, parked, done };

  explicit link(reverse_dialer& d) : _dialer(&d), _timer([this] { fail("no SOCKS5 reply within the handshake timeout"); }) {}
  ~link() { _dialer->_worker->reactor().disarm_timer(_timer); }

  void start() {
    worker& w = *_dialer->_worker;
    const socks_accept& p = *_dialer->_plan;
    if (p.tls)
      _transport = net::make_tls_transport(w.reactor(), {}, *p.tls, p.transport.host, *this,
                                           w.limits().handshake_timeout_ms);
    else
      _transport = net::make_tcp_transport(w.reactor(), {}, *this);
    w.reactor().arm_timer(_timer, w.limits().handshake_timeout_ms + connect_allowance_ms);
    _transport->connect(p.link_address);
  }

  void close_now() {
    if (_state == state::done) return;
    _state = state::done;
    _dialer->_worker->reactor().disarm_timer(_timer);
    _dialer->_worker->dispose(std::move(_transport));
  }

  void on_transport_ready() override {
    set_link_keepalive(_transport->fd());
    const socks_accept& p = *_dialer->_plan;
    std::string out;
    socks5::encode_greeting(out);
    socks5::encode_request(out, socks5::command::bind, socks5::address::from_domain(p.logical_uri, p.logical_port));
    _transport->write(out);
    _state = state::method;
  }

  void on_transport_data(std::span<std::byte> bytes) override {
    if (_state == state::done || _state == state::connecting) return;
    _in.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (_state == state::method) {
      auto m = socks5::parse_method_choice(as_bytes());
      if (m.what == socks5::status::need_more) return;
      if (m.what == socks5::status::error) return fail("bad SOCKS5 method choice: " + m.error);
      if (!m.value) return fail("the DMZ accepts no SOCKS5 method this gateway offers");
      _in.erase(0, m.consumed);
      _state = state::first_reply;
    }
    if (_state == state::first_reply) {
      auto r = socks5::parse_reply(as_bytes());
      if (!reply_ok(r, "the DMZ refused the BIND")) return;
      _in.erase(0, r.consumed);
      _state = state::parked;
      _dialer->_worker->reactor().disarm_timer(_timer);
      _dialer->on_parked(*this);
      if (_state != state::parked) return;
    }
    if (_state == state::parked) {
      auto r = socks5::parse_reply(as_bytes());
      if (r.what == socks5::status::done && r.value.code == socks5::reply_code::ttl_expired) {
        retire();  // the DMZ wants this link on another of its reactors: replace it at once
        return;
      }
      if (reply_ok(r, "the DMZ ended the parked link")) serve(r.value.bound, r.consumed);
    }
  }

  void on_transport_eof() override {
    fail(_state == state::parked ? "closed by the DMZ" : "closed by the DMZ during the SOCKS5 handshake");
  }
  void on_transport_error(int, std::string_view what) override { fail(what); }
  void on_transport_closed() override {}

 private:
  // Connect and TLS handshake get the handshake timeout; the TCP connect itself a little more.
  static constexpr std::uint64_t connect_allowance_ms = 5'000;

  // A complete, successful reply; otherwise false, after failing the link when it is bad.
  bool reply_ok(const socks5::parse_result<socks5::reply>& r, std::string_view refused) {
    if (r.what == socks5::status::need_more) return false;
    if (r.what == socks5::status::error) {
      fail("bad SOCKS5 reply: " + r.error);
      return false;
    }
    if (r.value.code != socks5::reply_code::succeeded) {
      fail(std::string(refused) + ": " + std::string(socks5::to_string(r.value.code)));
      return false;
    }
    return true;
  }

  std::span<const std::byte> as_bytes() const { return std::as_bytes(std::span(_in.data(), _in.size())); }

  void fail(std::string_view why) {
    if (_state == state::done) return;
    const bool was_parked = _state == state::parked;
    close_now();
    _dialer->on_failed(*this, std::string(why), was_parked);  // frees this later
  }

  void retire() {
    close_now();
    _dialer->on_retired(*this);  // frees this later
  }

  // The second reply came: this link now carries a client's stream.
  void serve(const socks5::address& client, std::size_t reply_bytes) {
    worker& w = *_dialer->_worker;
    const socks_accept& p = *_dialer->_plan;
    net::socket_address peer;
    if (!client.to_sockaddr(peer.storage, peer.length)) peer = {};
    std::string rest = _in.substr(reply_bytes);
    std::span<std::byte> early(reinterpret_cast<std::byte*>(rest.data()), rest.size());
    _state = state::done;
    std::unique_ptr<net::transport> t = std::move(_transport);
    LOG_DEBUG("reverse link for %s claimed by client %s", p.logical_uri.c_str(), client.to_string().c_str());
    serve_link_client(w, p, std::move(t), peer, early);
    _dialer->on_claimed(*this);  // frees this later
  }

  reverse_dialer* _dialer;
  std::unique_ptr<net::transport> _transport;
  state _state = state::connecting;
  std::string _in;
  core::timer _timer;
};

void serve_link_client(worker& w, const socks_accept& accept, std::unique_ptr<net::transport> t,
                       const net::socket_address& peer, std::span<std::byte> early) {
  const route& r = accept.ep.routes.front();
  if (accept.ep.kind == endpoint_kind::http)
    new http_connection(w, std::move(t), accept.ep, peer, early);
  else if (r.service->type == config::service_type::proxy)
    new tcp_proxy(w, std::move(t), r, peer, early);
  else
    new tcp_echo_connection(w, std::move(t), r, early);
}

reverse_dialer::reverse_dialer(worker& w, const socks_accept& plan, unsigned share, bool backend_ready)
    : _worker(&w), _plan(&plan), _share(share), _backoff_ms(first_retry_ms), _backend_ready(backend_ready), _retry([this] {
        _retry_armed = false;
        dial();
      }) {}

reverse_dialer::~reverse_dialer() { _worker->reactor().disarm_timer(_retry); }

void reverse_dialer::start() { dial(); }

void reverse_dialer::stop() {
  _stopped = true;
  _worker->reactor().disarm_timer(_retry);
  for (auto& l : _links) l->close_now();
  for (auto& l : _links) _worker->reactor().defer([keep = std::shared_ptr<link>(std::move(l))] {});
  _links.clear();
  _parked = 0;
}

void reverse_dialer::set_backend_ready(bool ready) {
  if (_stopped || ready == _backend_ready) return;
  _backend_ready = ready;
  if (ready) {
    LOG_INFO("service '%s': backend reachable, dialing reverse links to %s", _plan->service->name.c_str(),
             _plan->transport.to_string().c_str());
    _backoff_ms = first_retry_ms;
    dial();
    return;
  }
  LOG_WARN("service '%s': backend unreachable, closing its reverse links to %s until it is back",
           _plan->service->name.c_str(), _plan->transport.to_string().c_str());
  _worker->reactor().disarm_timer(_retry);
  _retry_armed = false;
  for (auto& l : _links) l->close_now();
  for (auto& l : _links) _worker->reactor().defer([keep = std::shared_ptr<link>(std::move(l))] {});
  _links.clear();
  _parked = 0;
}

void reverse_dialer::dial() {
  if (_stopped || !_backend_ready) return;
  while (_links.size() < _share) {
    _links.push_back(std::make_unique<link>(*this));
    _links.back()->start();
  }
}

void reverse_dialer::on_parked(link&) {
  ++_parked;
  _backoff_ms = first_retry_ms;
  if (_failing) {
    _failing = false;
    LOG_INFO(_ever_parked ? "service '%s': reverse link to %s for %s parked again"
                          : "service '%s': reverse links to %s for %s parked", _plan->service->name.c_str(),
             _plan->transport.to_string().c_str(), _plan->logical_uri.c_str());
  } else if (_parked == 1 && !_ever_parked) {
    LOG_INFO("service '%s': reverse links to %s for %s parked", _plan->service->name.c_str(),
             _plan->transport.to_string().c_str(), _plan->logical_uri.c_str());
  }
  _ever_parked = true;
}

void reverse_dialer::on_claimed(link& l) {
  if (_parked > 0) --_parked;
  ++_worker->metrics().reverse_links_claimed;
  forget(l);
  dial();  // a replacement at once
}

void reverse_dialer::on_retired(link& l) {
  if (_parked > 0) --_parked;
  LOG_DEBUG("service '%s': reverse link for %s retired by the DMZ; replacing it", _plan->service->name.c_str(),
            _plan->logical_uri.c_str());
  forget(l);
  dial();
}

void reverse_dialer::on_failed(link& l, const std::string& why, bool was_parked) {
  if (was_parked && _parked > 0) --_parked;
  forget(l);
  if (_stopped) return;
  if (!was_parked) ++_worker->metrics().reverse_dial_failures;
  if (!_failing) {
    _failing = true;
    LOG_WARN("service '%s': reverse link to %s for %s: %s; retrying from %llu ms up to %llu ms",
             _plan->service->name.c_str(), _plan->transport.to_string().c_str(), _plan->logical_uri.c_str(),
             why.c_str(), static_cast<unsigned long long>(_backoff_ms),
             static_cast<unsigned long long>(_plan->retry_max_ms));
  } else {
    LOG_DEBUG("service '%s': reverse link to %s: %s", _plan->service->name.c_str(), _plan->transport.to_string().c_str(),
              why.c_str());
  }
  if (was_parked) {
    dial();  // a link that was parked is replaced at once; if the DMZ is gone, that dial backs off
    return;
  }
  schedule_redial();
}

void reverse_dialer::schedule_redial() {
  if (_retry_armed || _stopped) return;
  _retry_armed = true;
  _worker->reactor().arm_timer(_retry, _backoff_ms);
  _backoff_ms = std::min(_backoff_ms * 2, std::max(_plan->retry_max_ms, first_retry_ms));
}

void reverse_dialer::forget(link& l) {
  auto found = std::ranges::find_if(_links, [&](const auto& p) { return p.get() == &l; });
  if (found == _links.end()) return;
  std::shared_ptr<link> keep(std::move(*found));
  _links.erase(found);
  _worker->reactor().defer([keep] {});
}

}  // namespace postern::gateway
