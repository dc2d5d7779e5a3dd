#include "gateway/management.h"

#include <atomic>

#include "core/reactor_group.h"
#include "gateway/cluster_node.h"
#include "gateway/local_member.h"
#include "gateway/readiness.h"
#include "gateway/worker.h"

namespace postern::gateway {

struct management_hub::scrape {
  metrics_snapshot snap;
  std::atomic<unsigned> remaining;
  std::atomic<bool> failed{false};
  unsigned from;
  std::function<void(std::optional<metrics_snapshot>)> done;
};

management_hub::management_hub(core::reactor_group* group, std::vector<worker*> workers,
                               const readiness_registry& readiness, std::shared_ptr<const balancing_plan> balancing)
    : _group(group), _workers(std::move(workers)), _readiness(&readiness), _balancing(std::move(balancing)) {
}

bool management_hub::healthy() const {
  const config::gateway_config& config = _workers.front()->config();
  auto ready = [&](const config::service_config& s) {
    switch (s.type) {
      case config::service_type::echo: return true;
      case config::service_type::proxy: return _readiness->ready(s);
      case config::service_type::balancer:
      case config::service_type::management: return false;
    }
    return false;
  };
  if (_balancing && !_balancing->locals.empty()) {
    for (const local_balance& l : _balancing->locals)
      if (l.service && ready(*l.service)) return true;
    return false;
  }
  for (const config::service_config& s : config.services)
    if (ready(s)) return true;
  return false;
}

void management_hub::fill_reactor0(metrics_snapshot& snap) const {
  snap.healthy = healthy();
  if (const access_log* log = _workers.front()->access()) snap.access_log_dropped = log->dropped();
  if (!_cluster || !_workers.front()->config().cluster) return;
  cluster_snapshot c;
  for (const cluster::member_view& m : _cluster->members().live_members())
    c.members.push_back({m.state->identity, m.is_local ? std::string("self") : std::string(cluster::to_string(m.status))});
  const cluster_counters& k = _cluster->counters();
  c.datagrams_sent = k.datagrams_out;
  c.datagrams_received = k.datagrams_in;
  c.datagrams_rejected = k.rejected;
  c.datagrams_dropped = k.dropped;
  snap.cluster = std::move(c);
}

void management_hub::gather(unsigned from, std::function<void(std::optional<metrics_snapshot>)> done) {
  if (!_group) {  // one reactor, this one
    metrics_snapshot snap;
    snap.reactors.push_back(_workers.front()->snapshot());
    snap.service_names = _workers.front()->metrics().service_names;
    fill_reactor0(snap);
    done(std::move(snap));
    return;
  }
  auto s = std::make_shared<scrape>();
  const unsigned n = static_cast<unsigned>(_workers.size());
  s->snap.reactors.resize(n);
  s->remaining.store(n);
  s->from = from;
  s->done = std::move(done);
  auto finish_one = [this](const std::shared_ptr<scrape>& sc) {
    if (sc->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    auto answer = [sc](core::reactor&) {
      if (sc->failed.load()) sc->done(std::nullopt);
      else sc->done(std::move(sc->snap));
    };
    // The answer runs only on the asker's thread; when its mailbox is full the answer is lost
    // and the asking connection's deadline answers 503 instead.
    (void)_group->post(sc->from, answer);
  };
  for (unsigned i = 0; i < n; ++i) {
    bool posted = _group->post(i, [this, s, i, finish_one](core::reactor&) {
      s->snap.reactors[i] = _workers[i]->snapshot();
      if (i == 0) {
        fill_reactor0(s->snap);
        s->snap.service_names = _workers[0]->metrics().service_names;  // every reactor has the same
      }
      finish_one(s);
    });
    if (!posted) {
      s->failed.store(true);
      finish_one(s);
    }
  }
}

std::string management_response(std::string_view method, std::string_view what, const metrics_snapshot& snap) {
  const bool head_only = method == "HEAD";
  std::string status, type = "text/plain; charset=utf-8", body;
  if (method != "GET" && !head_only) {
    status = "405 Method Not Allowed";
    body = "only GET and HEAD\n";
    return "HTTP/1.1 " + status + "\r\nAllow: GET, HEAD\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }
  if (what == "metrics") {
    status = "200 OK";
    type = "text/plain; version=0.0.4; charset=utf-8";
    body = render_prometheus(snap);
  } else {
    status = snap.healthy ? "200 OK" : "503 Service Unavailable";
    body = snap.healthy ? "ready\n" : "not ready\n";
  }
  std::string out = "HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nCache-Control: no-store\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

}  // namespace postern::gateway
