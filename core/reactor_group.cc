// reactor_group (see reactor_group.h).
//
// Mailboxes: one bounded single-producer/single-consumer ring per (sender, receiver) pair,
// senders 0..N-1 being the reactors and sender N the main thread, so no two threads ever push
// into the same ring (only one non-reactor thread may post). The producer and consumer indices
// sit on their own cache lines, each with the other side's index cached, so that a push or pop
// touches the shared line only when the cached value says the ring looks full or empty.
//
// Wake-ups: a receiver announces, just before it may block in the kernel, that it is going to
// sleep (a seq_cst store and fence, then a last look at its mailboxes); a sender pushes, fences,
// and writes the receiver's eventfd only if the announcement is up. One of the two always sees
// the other's store, so a message is never left unseen by a sleeping reactor, and a busy
// receiver costs its senders no system call.
#include "core/reactor_group.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/backend.h"
#include "core/log.h"

namespace postern::core {
namespace {

constexpr std::size_t cache_line = 64;

// The reactor whose loop runs on this thread (nullptr on other threads).
thread_local reactor* t_current = nullptr;

// A dynamically sized CPU set (CPU_ALLOC), freed on destruction.
class cpu_set {
 public:
  explicit cpu_set(int cpus) : _set(CPU_ALLOC(cpus)), _bytes(CPU_ALLOC_SIZE(cpus)) {
    if (_set == nullptr) throw std::bad_alloc();
    CPU_ZERO_S(_bytes, _set);
  }
  cpu_set(const cpu_set&) = delete;
  cpu_set& operator=(const cpu_set&) = delete;
  ~cpu_set() { CPU_FREE(_set); }
  cpu_set_t* get() const noexcept { return _set; }
  std::size_t bytes() const noexcept { return _bytes; }

 private:
  cpu_set_t* _set;
  std::size_t _bytes;
};

std::string cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (int cpu : cpus) {
    if (!out.empty()) out += ',';
    out += std::to_string(cpu);
  }
  return out.empty() ? "none" : out;
}

// POSTERN_BACKEND overrides the configured back end; then automatic is resolved by probing.
backend_kind resolve_backend(backend_kind configured) {
  backend_kind wanted = configured;
  std::string source = "the configuration";
  if (const char* env = std::getenv("POSTERN_BACKEND"); env != nullptr && *env != '\0') {
    std::string_view value(env);
    if (value == "io_uring")
      wanted = backend_kind::io_uring;
    else if (value == "epoll")
      wanted = backend_kind::epoll;
    else
      throw std::runtime_error("POSTERN_BACKEND=" + std::string(value) + " is not a back end: use io_uring or epoll");
    source = "POSTERN_BACKEND";
  }
  if (wanted == backend_kind::epoll) return backend_kind::epoll;
  std::string reason;
  if (reactor::io_uring_available(reason)) return backend_kind::io_uring;
  if (wanted == backend_kind::io_uring)
    throw std::runtime_error("the io_uring back end was asked for by " + source + " but cannot run here: " + reason);
  LOG_WARN("io_uring unavailable (%s); using epoll", reason.c_str());
  return backend_kind::epoll;
}

}  // namespace

std::vector<int> affinity_cpus() {
  for (int capacity = 1024; capacity <= (1 << 20); capacity *= 2) {
    cpu_set set(capacity);
    if (::sched_getaffinity(0, set.bytes(), set.get()) == 0) {
      std::vector<int> cpus;
      for (int cpu = 0; cpu < capacity; ++cpu)
        if (CPU_ISSET_S(cpu, set.bytes(), set.get())) cpus.push_back(cpu);
      return cpus;
    }
    if (errno != EINVAL) break;  // EINVAL: the kernel's mask is larger than ours
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// mailbox

struct reactor_group::mailbox {
  explicit mailbox(unsigned slots) {
    unsigned size = 1;
    while (size < slots) size <<= 1;
    _mask = size - 1;
    _slots = std::make_unique<message[]>(size);
  }

  // Producer side. Takes fn only on success.
  bool push(message& fn) {
    const std::uint64_t tail = _tail.load(std::memory_order_relaxed);
    if (tail - _cached_head > _mask) {
      _cached_head = _head.load(std::memory_order_acquire);
      if (tail - _cached_head > _mask) return false;
    }
    _slots[tail & _mask] = std::move(fn);
    _tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer side: runs the messages present on entry (one that a message posts to this same
  // ring waits for the next drain, so a reactor posting to itself cannot loop here forever).
  void drain(reactor& r) {
    std::uint64_t head = _head.load(std::memory_order_relaxed);
    const std::uint64_t tail = _tail.load(std::memory_order_acquire);
    while (head != tail) {
      message fn = std::move(_slots[head & _mask]);
      _slots[head & _mask] = nullptr;  // destroyed before the producer may reuse the slot
      _head.store(++head, std::memory_order_release);
      fn(r);
    }
  }

  bool has_mail() const noexcept {
    return _tail.load(std::memory_order_acquire) != _head.load(std::memory_order_relaxed);
  }

  alignas(cache_line) std::atomic<std::uint64_t> _head{0};  // written by the consumer
  alignas(cache_line) std::atomic<std::uint64_t> _tail{0};  // written by the producer
  std::uint64_t _cached_head = 0;                            // the producer's copy of _head
  alignas(cache_line) std::unique_ptr<message[]> _slots;
  std::uint64_t _mask = 0;
};

struct reactor_group::receiver {
  alignas(cache_line) std::atomic<bool> sleeping{false};
  unique_fd wakeup;
};

// ---------------------------------------------------------------------------------------------
// construction and threads

reactor_group::reactor_group(const reactor_group_options& options) {
  const std::vector<int> mask = affinity_cpus();
  if (mask.empty()) throw std::runtime_error("cannot read this process's CPU affinity mask");
  for (int cpu : options.cpus) {
    bool allowed = false;
    for (int m : mask) allowed = allowed || m == cpu;
    if (!allowed) {
      throw std::runtime_error("reactor CPU " + std::to_string(cpu) +
                               " is not in this process's CPU affinity mask (" + cpu_list(mask) +
                               "); choose CPUs from that list");
    }
  }
  const std::vector<int>& order = options.cpus.empty() ? mask : options.cpus;
  const unsigned count = options.threads != 0 ? options.threads : static_cast<unsigned>(order.size());
  for (unsigned i = 0; i < count; ++i) _cpus.push_back(order[i % order.size()]);

  _backend = resolve_backend(options.reactor.backend);
  reactor_options chosen = options.reactor;
  chosen.backend = _backend;

  _receivers = std::make_unique<receiver[]>(count);
  for (unsigned i = 0; i < count; ++i) {
    _reactors.push_back(std::make_unique<reactor>(i, chosen));
    _reactors[i]->attach_group(this);
    _receivers[i].wakeup.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!_receivers[i].wakeup)
      throw std::runtime_error(std::string("cannot create a reactor wake-up eventfd: ") + std::strerror(errno));
    _reactors[i]->_backend->watch_wakeup(_receivers[i].wakeup.get());
  }
  const unsigned slots = options.mailbox_slots == 0 ? 1 : options.mailbox_slots;
  _mailboxes.reserve(std::size_t{count + 1} * count);
  for (std::size_t i = 0; i < std::size_t{count + 1} * count; ++i)
    _mailboxes.push_back(std::make_unique<mailbox>(slots));
}

reactor_group::~reactor_group() { stop_and_join(); }

void reactor_group::start(std::function<void(reactor&)> init) {
  if (!_threads.empty()) throw std::logic_error("reactor_group::start called twice");
  _threads.reserve(size());
  for (unsigned i = 0; i < size(); ++i) {
    _threads.emplace_back([this, i, init] {
      char name[16];
      std::snprintf(name, sizeof name, "r%u", i);
      set_thread_log_name(name);
      reactor& r = *_reactors[i];
      t_current = &r;
      const int cpu = _cpus[i];
      cpu_set want(cpu + 1);
      CPU_SET_S(static_cast<std::size_t>(cpu), want.bytes(), want.get());
      if (int rc = ::pthread_setaffinity_np(::pthread_self(), want.bytes(), want.get()); rc != 0)
        LOG_ERROR("reactor %u: cannot pin to cpu %d: %s", i, cpu, std::strerror(rc));
      const std::vector<int> got = affinity_cpus();
      const std::string_view backend_name = to_string(r.backend());
      if (got.size() == 1 && got[0] == cpu) {
        LOG_INFO("reactor %u started on cpu %d (backend %.*s)", i, cpu,
                 static_cast<int>(backend_name.size()), backend_name.data());
      } else {
        LOG_WARN("reactor %u started on cpus %s, not cpu %d alone (backend %.*s)", i,
                 cpu_list(got).c_str(), cpu, static_cast<int>(backend_name.size()), backend_name.data());
      }
      if (init) init(r);
      r.run();
      t_current = nullptr;
    });
  }
}

bool reactor_group::post(unsigned to, message fn) {
  const unsigned n = size();
  if (to >= n || !fn) return false;
  reactor* current = t_current;
  const unsigned from = current != nullptr && current->group() == this ? current->id() : n;
  if (!_mailboxes[std::size_t{from} * n + to]->push(fn)) return false;
  // Pairs with the fence in prepare_to_sleep (see the file comment).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (_receivers[to].sleeping.load(std::memory_order_relaxed)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(_receivers[to].wakeup.get(), &one, sizeof one);
  }
  return true;
}

void reactor_group::stop_and_join() {
  if (_threads.empty()) return;
  if (t_current != nullptr && t_current->group() == this) {
    // A reactor would wait for its own thread to end.
    LOG_ERROR("reactor_group::stop_and_join called from reactor %u; it must come from the main thread",
              t_current->id());
    std::abort();
  }
  for (unsigned i = 0; i < size(); ++i) {
    // A full mailbox empties as its reactor runs: wait for room rather than lose the stop.
    while (!post(i, [](reactor& r) { r.stop(); })) std::this_thread::yield();
  }
  for (std::thread& t : _threads) t.join();
  _threads.clear();
}

// ---------------------------------------------------------------------------------------------
// reactor side

void reactor_group::drain(reactor& r) {
  const unsigned n = size();
  for (unsigned from = 0; from <= n; ++from) _mailboxes[std::size_t{from} * n + r.id()]->drain(r);
}

bool reactor_group::has_mail(unsigned id) const noexcept {
  const unsigned n = size();
  for (unsigned from = 0; from <= n; ++from)
    if (_mailboxes[std::size_t{from} * n + id]->has_mail()) return true;
  return false;
}

bool reactor_group::prepare_to_sleep(unsigned id) noexcept {
  _receivers[id].sleeping.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!has_mail(id)) return true;
  _receivers[id].sleeping.store(false, std::memory_order_relaxed);
  return false;
}

void reactor_group::woke_up(unsigned id) noexcept {
  _receivers[id].sleeping.store(false, std::memory_order_relaxed);
}

}  // namespace postern::core
