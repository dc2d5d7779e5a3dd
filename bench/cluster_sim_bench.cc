// cluster_sim: a whole cluster in one process (issue 5 item 6). N members, each a membership and
// a keyed gossip codec with its own non-blocking UDP socket on its own loopback address
// (127.0.200.1 up, spilling into 127.0.201.x), gossip the way gateway/cluster_node does: through
// one seed (member 0 is every member's only <connect>; the others are learnt from it) or to a
// multicast group joined on each member's own address. One thread drives every member.
//
// Simulated: the clock (it jumps from one heartbeat to the next; every member's membership gets
// that simulated now_ms), the processes (a member is an object; a failed one stops sending and
// throws away what it receives, as a SIGKILLed process would), and the network latency (every
// datagram is read in the same simulated millisecond it was sent). Real: the sockets, the kernel's
// loopback and multicast delivery, its socket buffers and the datagrams they drop, the codec with
// HMAC-SHA256 and the replay window, and the membership state machine with its default options.
//
// Each run, in simulated time: the N members start at random moments within one heartbeat
// interval (cold start, until everyone lists everyone); a steady window in which every datagram
// and payload byte is counted; a new member joins (until it lists all and all list it); a member
// that is not the seed goes silent (until every other member has dropped it); optionally, another
// member stalls, reading nothing for a while, to show what its socket drops. Every datagram the
// kernel accepted must be either read by a member or counted as dropped by its receiver's socket
// (SO_MEMINFO): `unaccounted` says how many were neither.
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/gossip_codec.h"
#include "cluster/membership.h"
#include "core/datagram.h"
#include "core/unique_fd.h"
#include "net/address.h"

namespace {

using namespace postern::cluster;
using postern::core::unique_fd;
using postern::net::socket_address;

constexpr std::string_view sim_key = "cluster simulation key, 32 bytes";  // cluster_key::min_bytes
static_assert(sim_key.size() == cluster_key::min_bytes);
constexpr std::uint64_t incarnation_base_ms = 1'717'171'717'000;  // "wall clock" at simulated 0
constexpr std::uint64_t cold_start_limit_ms = 10'000;
constexpr std::uint64_t steady_window_ms = 2'000;
constexpr std::uint64_t join_limit_ms = 5'000;
constexpr std::uint64_t failure_limit_ms = 5'000;
constexpr std::uint16_t multicast_port = 5949;
constexpr auto real_time_limit = std::chrono::seconds(120);  // per run; past it the run fails
constexpr int max_drain_passes = 100'000;                     // epoll rounds per drain
constexpr int max_reads_per_visit = 4'096;                    // recvfrom calls per ready socket
constexpr int final_drain_rounds = 20;                        // 1 ms real pauses for softirq stragglers

socket_address v4(std::uint32_t ip, std::uint16_t port) {
  socket_address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(ip);
  a.length = sizeof(sockaddr_in);
  return a;
}

// Member i's own address: 127.0.200.1 .. 127.0.200.254, then 127.0.201.1 ...
std::uint32_t member_ip(int i) {
  const auto n = static_cast<std::uint32_t>(i);
  return (127u << 24) | ((200u + n / 254) << 8) | (1u + n % 254);
}

// What a DMZ member gossips (as bench/cluster_bench.cc): two balance URIs with two accepts each.
member_state initial_state(const socket_address& address, std::uint64_t incarnation) {
  member_state s;
  s.identity = "tcp://" + address.to_string();
  s.address = address;
  s.incarnation = incarnation;
  s.start_time_ms = incarnation;
  const std::string host = address.to_string();
  const in_addr ip = reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr;
  const socket_address backplane = v4(ntohl(ip.s_addr), 8001);
  for (const char* path : {"/echo", "/chat"})
    s.balances.push_back({std::string("ws://balancer.example.com:8000") + path,
                          {"ws://" + host + path, "wss://" + host + path}, backplane, true});
  return s;
}

// Counts of one member. Datagrams and bytes are UDP payloads (no IP or UDP header).
struct sim_counters {
  std::uint64_t datagrams_out = 0;  // accepted by the kernel (seed relays included)
  std::uint64_t bytes_out = 0;
  std::uint64_t datagrams_in = 0;   // read while the member runs
  std::uint64_t bytes_in = 0;
  std::uint64_t send_failed = 0;    // sendto refused (EAGAIN, ENOBUFS, ...): that datagram is lost
  std::uint64_t rejected = 0;       // did not decode (bad tag, other cluster, ...)
};

struct sim_member {
  enum class run_state : std::uint8_t {
    idle,     // not started: no socket
    running,  // heartbeats, reads, ticks
    stopped,  // silent: its socket stays open and what arrives is read and thrown away
  };
  run_state run = run_state::idle;
  unique_fd fd;
  socket_address address;  // its identity's address; in unicast mode also where its socket is bound
  std::optional<gossip_codec> codec;
  std::optional<membership> members;
  std::uint64_t next_heartbeat_ms = 0;
  std::uint64_t stalled_until_ms = 0;  // 0, or when a stalled member reads and sends again
  sim_counters counters;
};

class cluster_sim {
 public:
  // members: the cluster's size before the join; one more member is kept for the join.
  // rcvbuf_bytes: SO_RCVBUF of every socket, 0 for the kernel's default.
  cluster_sim(int members, bool multicast, int rcvbuf_bytes)
      : _multicast(multicast),
        _rcvbuf_bytes(rcvbuf_bytes),
        _cluster_name("cluster-sim-" + std::to_string(::getpid())),
        _members(static_cast<std::size_t>(members) + 1),
        _epoll(::epoll_create1(EPOLL_CLOEXEC)),
        _random(5941) {
    // Another run of this benchmark on the host picks another group (its cluster name differs too).
    _group = v4((239u << 24) | (255u << 16) | (200u << 8) | (1u + static_cast<std::uint32_t>(::getpid() % 250)),
                multicast_port);
    _receive.resize(postern::core::datagram_socket::receive_buffer_bytes);
  }

  bool ok() const noexcept { return _error.empty(); }
  const std::string& error() const noexcept { return _error; }
  std::uint64_t now_ms() const noexcept { return _now_ms; }
  std::size_t size() const noexcept { return _members.size(); }
  sim_member& member(std::size_t i) { return _members[i]; }

  // Starts member i at the current simulated time: opens and binds its socket, sends its first
  // heartbeat at once (as cluster_node::start does), then one every heartbeat interval.
  bool start(std::size_t i) {
    sim_member& m = _members[i];
    const std::uint32_t ip = member_ip(static_cast<int>(i));
    if (_multicast) {
      auto fd = postern::core::open_udp_socket(_group.get(), _group.length, true);
      if (!fd) return fail("bind " + _group.to_string(), fd.error());
      const in_addr group = reinterpret_cast<const sockaddr_in*>(&_group.storage)->sin_addr;
      in_addr iface{};
      iface.s_addr = htonl(ip);
      if (auto joined = postern::core::join_multicast(fd->get(), group, iface); !joined)
        return fail("join " + _group.to_string() + " on " + v4(ip, 0).to_string(), joined.error());
      m.fd = std::move(*fd);
      m.address = v4(ip, multicast_port);
      ++_joined;
    } else {
      const socket_address any_port = v4(ip, 0);
      auto fd = postern::core::open_udp_socket(any_port.get(), any_port.length, false);
      if (!fd) return fail("bind " + any_port.to_string(), fd.error());
      m.fd = std::move(*fd);
      m.address.length = sizeof(sockaddr_storage);
      if (::getsockname(m.fd.get(), reinterpret_cast<sockaddr*>(&m.address.storage), &m.address.length) < 0)
        return fail("getsockname", errno);
    }
    if (_rcvbuf_bytes > 0 &&
        ::setsockopt(m.fd.get(), SOL_SOCKET, SO_RCVBUF, &_rcvbuf_bytes, sizeof _rcvbuf_bytes) < 0)
      return fail("SO_RCVBUF", errno);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    if (::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, m.fd.get(), &e) < 0) return fail("epoll_ctl", errno);
    m.codec.emplace(_cluster_name, cluster_key::from_bytes(sim_key).value());
    m.members.emplace(initial_state(m.address, incarnation_base_ms + _now_ms));
    m.run = sim_member::run_state::running;
    m.next_heartbeat_ms = _now_ms;
    return true;
  }

  // Member i goes silent now, as if killed: no goodbye.
  void stop(std::size_t i) { _members[i].run = sim_member::run_state::stopped; }

  // Member i stalls for stall_ms, as a member whose reactor 0 is busy: it reads nothing and its
  // heartbeat timer fires late, when the stall ends; the kernel queues what arrives meanwhile
  // in the socket's buffer, and drops what does not fit.
  bool stall(std::size_t i, std::uint64_t stall_ms) {
    sim_member& m = _members[i];
    if (::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, m.fd.get(), nullptr) < 0) return fail("epoll_ctl", errno);
    m.stalled_until_ms = _now_ms + stall_ms;
    m.next_heartbeat_ms = std::max(m.next_heartbeat_ms, m.stalled_until_ms);
    return true;
  }

  // Advances the clock to the next heartbeat, or to not_after_ms if that comes first, runs every
  // member due (heartbeat, then tick, as cluster_node::tick does), and reads every datagram that
  // is waiting. False when the real time limit has passed or a system call failed.
  bool step(std::uint64_t not_after_ms = UINT64_MAX) {
    if (std::chrono::steady_clock::now() - _real_start > real_time_limit) return fail("real time limit", 0);
    std::uint64_t next = not_after_ms;
    for (const sim_member& m : _members)
      if (m.run == sim_member::run_state::running) next = std::min(next, m.next_heartbeat_ms);
    if (next == UINT64_MAX) return fail("no member runs", 0);
    _now_ms = std::max(_now_ms, next);
    for (std::size_t i = 0; i < _members.size(); ++i) {
      sim_member& m = _members[i];
      if (m.stalled_until_ms == 0 || m.stalled_until_ms > _now_ms) continue;
      m.stalled_until_ms = 0;
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.u64 = i;
      if (::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, m.fd.get(), &e) < 0) return fail("epoll_ctl", errno);
      read_all(i);  // the backlog first, then the late heartbeat and tick
    }
    const std::uint64_t interval = membership_options{}.heartbeat_interval_ms;
    for (std::size_t i = 0; i < _members.size(); ++i) {
      sim_member& m = _members[i];
      if (m.run != sim_member::run_state::running || m.next_heartbeat_ms != _now_ms) continue;
      heartbeat(i);
      m.members->tick(_now_ms, _events);
      _events.clear();
      m.next_heartbeat_ms += interval;
    }
    return drain();
  }

  // Steps until the clock reads at_ms (at once when it does already).
  bool advance_to(std::uint64_t at_ms) {
    while (_now_ms < at_ms)
      if (!step(at_ms)) return false;
    return true;
  }

  // Steps until done() holds or limit_ms of simulated time have passed; false on a step's failure.
  template <typename Done>
  bool run_until(std::uint64_t limit_ms, Done done) {
    const std::uint64_t end = _now_ms + limit_ms;
    while (!done()) {
      if (_now_ms >= end) return fail("not converged within " + std::to_string(limit_ms) + " simulated ms", 0);
      if (!step()) return false;
    }
    return true;
  }

  // Reads what is left, pausing 1 ms of real time between rounds so that loopback deliveries
  // still in the kernel's backlog arrive; then the kernel's drop counts.
  void finish() {
    timespec pause{0, 1'000'000};
    for (int round = 0; round < final_drain_rounds; ++round) {
      ::nanosleep(&pause, nullptr);
      if (!drain()) return;
    }
    for (const sim_member& m : _members) {
      if (!m.fd) continue;
      std::array<std::uint32_t, SK_MEMINFO_VARS> info{};
      socklen_t len = sizeof info;
      if (::getsockopt(m.fd.get(), SOL_SOCKET, SO_MEMINFO, info.data(), &len) == 0 &&
          len > SK_MEMINFO_DROPS * sizeof(std::uint32_t))
        _kernel_drops += info[SK_MEMINFO_DROPS];
    }
  }

  std::uint64_t kernel_drops() const noexcept { return _kernel_drops; }
  // Datagrams handed to the kernel that no socket read and no socket counted as dropped.
  std::int64_t unaccounted() const noexcept {
    return static_cast<std::int64_t>(_deliveries_due) - static_cast<std::int64_t>(_read + _kernel_drops);
  }
  std::uint64_t random_phase_ms() {
    return std::uniform_int_distribution<std::uint64_t>(0, membership_options{}.heartbeat_interval_ms - 1)(_random);
  }

 private:
  bool fail(const std::string& what, int error) {
    if (_error.empty()) _error = error ? what + ": " + std::strerror(error) : what;
    return false;
  }

  void heartbeat(std::size_t i) {
    sim_member& m = _members[i];
    auto size = m.codec->encode(m.members->self(), m.members->next_sequence(), _out);
    if (!size) {
      fail(std::string("encode: ") + std::string(to_string(size.error())), 0);
      return;
    }
    const std::span<const std::byte> bytes(_out.data(), *size);
    if (_multicast) {
      send_one(m, bytes, _group);
      return;
    }
    // cluster_node::send_to_all: the seeds, then every live member that is not a seed.
    const socket_address& seed = _members[0].address;
    if (i != 0) send_one(m, bytes, seed);
    for (const member_view& v : m.members->live_members())
      if (!v.is_local && !(v.state->address == seed)) send_one(m, bytes, v.state->address);
  }

  void send_one(sim_member& from, std::span<const std::byte> bytes, const socket_address& to) {
    if (::sendto(from.fd.get(), bytes.data(), bytes.size(), MSG_DONTWAIT, to.get(), to.length) < 0) {
      ++from.counters.send_failed;
      return;
    }
    ++from.counters.datagrams_out;
    from.counters.bytes_out += bytes.size();
    _deliveries_due += _multicast ? _joined : 1;  // every joined socket gets a copy, the sender's too
  }

  // Reads every socket epoll reports until none has a datagram (the seed's relays make more).
  bool drain() {
    std::array<epoll_event, 64> ready;
    for (int pass = 0; pass < max_drain_passes; ++pass) {
      const int n = ::epoll_wait(_epoll.get(), ready.data(), static_cast<int>(ready.size()), 0);
      if (n < 0) return errno == EINTR || fail("epoll_wait", errno);
      if (n == 0) return ok();
      for (int k = 0; k < n; ++k) read_all(static_cast<std::size_t>(ready[static_cast<std::size_t>(k)].data.u64));
    }
    return fail("drain did not finish", 0);
  }

  void read_all(std::size_t i) {
    sim_member& m = _members[i];
    for (int reads = 0; reads < max_reads_per_visit; ++reads) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      const ssize_t got = ::recvfrom(m.fd.get(), _receive.data(), _receive.size(), MSG_DONTWAIT,
                                     reinterpret_cast<sockaddr*>(&from), &from_len);
      if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) fail("recvfrom", errno);
        return;
      }
      ++_read;
      if (m.run != sim_member::run_state::running) continue;
      receive(i, std::span<const std::byte>(_receive.data(), static_cast<std::size_t>(got)), from, from_len);
    }
  }

  // cluster_node::receive: decode, apply, and on the seed relay what was applied to every live
  // member but the one it came from and the one it speaks for.
  void receive(std::size_t i, std::span<const std::byte> bytes, const sockaddr_storage& from, socklen_t from_len) {
    sim_member& m = _members[i];
    ++m.counters.datagrams_in;
    m.counters.bytes_in += bytes.size();
    if (!m.codec->decode(bytes, _scratch)) {
      ++m.counters.rejected;
      return;
    }
    const datagram_verdict verdict = m.members->on_datagram(_scratch, _now_ms, _events);
    _events.clear();
    if (_multicast || i != 0 || verdict != datagram_verdict::applied) return;
    socket_address sender;
    std::memcpy(&sender.storage, &from, from_len);
    sender.length = from_len;
    const socket_address origin = _scratch.state.address;
    for (const member_view& v : m.members->live_members()) {
      if (v.is_local || v.state->address == origin || v.state->address == sender) continue;
      send_one(m, bytes, v.state->address);
    }
  }

  bool _multicast;
  int _rcvbuf_bytes;
  std::string _cluster_name;
  std::vector<sim_member> _members;
  unique_fd _epoll;
  std::mt19937_64 _random;
  socket_address _group;
  std::uint64_t _now_ms = 0;
  std::uint64_t _joined = 0;          // sockets in the multicast group
  std::uint64_t _deliveries_due = 0;  // copies the kernel owes to sockets for accepted sends
  std::uint64_t _read = 0;            // datagrams read by any socket, running or not
  std::uint64_t _kernel_drops = 0;
  std::string _error;
  std::array<std::byte, max_datagram_bytes> _out{};
  std::vector<std::byte> _receive;
  gossip_datagram _scratch;
  std::vector<member_event> _events;
  std::chrono::steady_clock::time_point _real_start = std::chrono::steady_clock::now();
};

sim_counters sum_counters(cluster_sim& sim, std::size_t count) {
  sim_counters total;
  for (std::size_t i = 0; i < count; ++i) {
    const sim_counters& c = sim.member(i).counters;
    total.datagrams_out += c.datagrams_out;
    total.bytes_out += c.bytes_out;
    total.datagrams_in += c.datagrams_in;
    total.bytes_in += c.bytes_in;
    total.send_failed += c.send_failed;
    total.rejected += c.rejected;
  }
  return total;
}

// range(0) members, range(1) 1 for multicast (0: through the seed), range(2) SO_RCVBUF in KiB
// (0: the kernel's default), range(3) how long member 1 stalls at the end (0: no stall).
// Times are simulated ms; rates are per member per simulated second, over the steady window.
void bm_cluster_sim(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool multicast = state.range(1) != 0;
  const int rcvbuf = static_cast<int>(state.range(2)) * 1024;
  const auto stall_ms = static_cast<std::uint64_t>(state.range(3));
  const std::size_t count = static_cast<std::size_t>(n);
  const membership_options options;
  for (auto _ : state) {
    cluster_sim sim(n, multicast, rcvbuf);
    auto failed = [&] { state.SkipWithError(sim.error().c_str()); };

    // Cold start: member i starts at a random moment of the first heartbeat interval.
    std::vector<std::pair<std::uint64_t, std::size_t>> starts;
    for (std::size_t i = 0; i < count; ++i) starts.emplace_back(i == 0 ? 0 : sim.random_phase_ms(), i);
    std::sort(starts.begin(), starts.end());
    bool ok = true;
    for (const auto& [at_ms, i] : starts) ok = ok && sim.advance_to(at_ms) && sim.start(i);
    auto everyone_lists_everyone = [&] {
      for (std::size_t i = 0; i < count; ++i)
        if (sim.member(i).members->live_count() != count) return false;
      return true;
    };
    if (!ok || !sim.run_until(cold_start_limit_ms, everyone_lists_everyone)) {
      failed();
      break;
    }
    const std::uint64_t cold_ms = sim.now_ms();

    // Steady state: every member knows every other.
    const sim_counters before = sum_counters(sim, count);
    std::vector<std::uint64_t> out_before(count);
    for (std::size_t i = 0; i < count; ++i) out_before[i] = sim.member(i).counters.datagrams_out;
    const std::uint64_t window_start = sim.now_ms();
    if (!sim.advance_to(window_start + steady_window_ms)) {
      failed();
      break;
    }
    const double window_s = static_cast<double>(sim.now_ms() - window_start) / 1000.0;
    const sim_counters after = sum_counters(sim, count);
    std::uint64_t max_out = 0;
    for (std::size_t i = 0; i < count; ++i)
      max_out = std::max(max_out, sim.member(i).counters.datagrams_out - out_before[i]);
    const double per_member_s = static_cast<double>(count) * window_s;

    // Join: member n starts; done when it lists all and all list it.
    const std::uint64_t join_at = sim.now_ms() + 1;
    std::optional<std::uint64_t> seen_at, learned_at;
    if (!sim.advance_to(join_at) || !sim.start(count)) {
      failed();
      break;
    }
    const std::string joiner = sim.member(count).members->self().identity;
    auto joined = [&] {
      if (!learned_at && sim.member(count).members->live_count() == count + 1) learned_at = sim.now_ms();
      if (!seen_at) {
        bool all = true;
        for (std::size_t i = 0; i < count && all; ++i) all = sim.member(i).members->status_of(joiner).has_value();
        if (all) seen_at = sim.now_ms();
      }
      return seen_at && learned_at;
    };
    if (!sim.run_until(join_limit_ms, joined)) {
      failed();
      break;
    }

    // Failure: a member that is not the seed goes silent just after a heartbeat, so that times
    // count from the last heartbeat the others heard, as the failure timeout does (from a kill,
    // they are shorter by the time since that heartbeat). Done when no running member lists it.
    const std::size_t victim = count / 2;
    const std::string victim_identity = sim.member(victim).members->self().identity;
    if (!sim.advance_to(sim.member(victim).next_heartbeat_ms)) {
      failed();
      break;
    }
    sim.stop(victim);
    const std::uint64_t fail_at = sim.now_ms();
    std::optional<std::uint64_t> first_drop_at;
    auto dropped_everywhere = [&] {
      std::size_t still = 0, running = 0;
      for (std::size_t i = 0; i <= count; ++i) {
        if (i == victim) continue;
        ++running;
        if (sim.member(i).members->status_of(victim_identity)) ++still;
      }
      if (!first_drop_at && still < running) first_drop_at = sim.now_ms();
      return still == 0;
    };
    if (!sim.run_until(failure_limit_ms, dropped_everywhere)) {
      failed();
      break;
    }
    const std::uint64_t last_drop_at = sim.now_ms();
    // A stall: a member that is neither the seed nor the victim reads nothing for stall_ms.
    if (stall_ms > 0) {
      if (!sim.stall(1, stall_ms) || !sim.advance_to(sim.now_ms() + stall_ms + 2 * options.heartbeat_interval_ms)) {
        failed();
        break;
      }
    }
    sim.finish();
    if (!sim.ok()) {
      failed();
      break;
    }
    const sim_counters total = sum_counters(sim, count + 1);

    state.counters["cold_ms"] = static_cast<double>(cold_ms);
    state.counters["join_seen_ms"] = static_cast<double>(*seen_at - join_at);
    state.counters["join_ms"] = static_cast<double>(std::max(*seen_at, *learned_at) - join_at);
    state.counters["fail_first_ms"] = static_cast<double>(*first_drop_at - fail_at);
    state.counters["fail_ms"] = static_cast<double>(last_drop_at - fail_at);
    state.counters["timeout_ms"] = static_cast<double>(options.failure_timeout_ms);
    state.counters["dg_out_s"] = static_cast<double>(after.datagrams_out - before.datagrams_out) / per_member_s;
    state.counters["dg_in_s"] = static_cast<double>(after.datagrams_in - before.datagrams_in) / per_member_s;
    state.counters["B_out_s"] = static_cast<double>(after.bytes_out - before.bytes_out) / per_member_s;
    state.counters["B_in_s"] = static_cast<double>(after.bytes_in - before.bytes_in) / per_member_s;
    state.counters["max_dg_out_s"] = static_cast<double>(max_out) / window_s;
    state.counters["lost"] = static_cast<double>(sim.kernel_drops());
    state.counters["send_err"] = static_cast<double>(total.send_failed);
    state.counters["unaccounted"] = static_cast<double>(sim.unaccounted());
    state.counters["rejected"] = static_cast<double>(total.rejected);
    state.counters["sim_s"] = static_cast<double>(sim.now_ms()) / 1000.0;
  }
}

}  // namespace

BENCHMARK(bm_cluster_sim)
    ->ArgNames({"members", "multicast", "rcvbuf_kib", "stall_ms"})
    ->Args({16, 0, 0, 0})
    ->Args({64, 0, 0, 0})
    ->Args({256, 0, 0, 0})
    ->Args({16, 1, 0, 0})
    ->Args({64, 1, 0, 0})
    ->Args({256, 1, 0, 0})
    ->Args({256, 1, 0, 200})
    ->Args({256, 1, 1024, 200})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
