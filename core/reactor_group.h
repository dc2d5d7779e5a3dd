// reactor_group: the N reactor threads of the process, each pinned to one CPU (DESIGN §3), and
// the message passing between them: a bounded single-producer/single-consumer ring for every
// (sender, receiver) pair, sender N being the main thread, plus one eventfd per reactor to wake
// it. Nothing else is shared between reactors.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/reactor.h"

namespace postern::core {

struct reactor_group_options {
  unsigned threads = 0;        // 0: one per CPU in the process's affinity mask (or per cpus entry)
  std::vector<int> cpus;       // reactor i runs on cpus[i % cpus.size()]; empty: the affinity mask in order
  reactor_options reactor;     // back end choice; POSTERN_BACKEND=io_uring|epoll overrides it
  unsigned mailbox_slots = 1024;
};

using message = std::move_only_function<void(reactor&)>;

class reactor_group {
 public:
  // Resolves threads and CPUs, chooses the back end (logging why when io_uring is not used)
  // and creates the reactors. Throws std::runtime_error with a sentence for the operator.
  explicit reactor_group(const reactor_group_options& options);
  reactor_group(const reactor_group&) = delete;
  reactor_group& operator=(const reactor_group&) = delete;
  ~reactor_group();

  unsigned size() const noexcept { return static_cast<unsigned>(_reactors.size()); }
  reactor& at(unsigned id) noexcept { return *_reactors[id]; }
  backend_kind backend() const noexcept { return _backend; }
  int cpu_of(unsigned id) const noexcept { return _cpus[id]; }

  // Starts every reactor thread: pins it, logs "reactor N on cpu C (backend)" with the
  // affinity it actually got, runs init(reactor&) on it, then its loop.
  void start(std::function<void(reactor&)> init);
  // Sends fn to reactor `to`. From a reactor thread (the sender is the current reactor) or
  // from the main thread. Returns false when that mailbox is full (the caller decides).
  bool post(unsigned to, message fn);
  // Posts stop() to every reactor and joins the threads.
  void stop_and_join();

 private:
  struct mailbox;
  struct receiver;  // per reactor: its wake-up eventfd and whether it may be asleep

  // The reactor side, called by reactor `r` on its own thread. drain runs the messages that
  // were in r's mailboxes on entry. prepare_to_sleep announces that r is about to block in the
  // kernel (so that senders write its eventfd) and returns false when mail arrived meanwhile,
  // in which case r must not block; woke_up withdraws the announcement.
  void drain(reactor& r);
  bool prepare_to_sleep(unsigned id) noexcept;
  void woke_up(unsigned id) noexcept;
  bool has_mail(unsigned id) const noexcept;

  std::vector<std::unique_ptr<reactor>> _reactors;
  std::vector<int> _cpus;
  std::vector<std::thread> _threads;
  std::vector<std::unique_ptr<mailbox>> _mailboxes;  // index sender * size() + receiver
  std::unique_ptr<receiver[]> _receivers;            // index receiver
  backend_kind _backend;
  friend class reactor;
};

// The CPUs of the calling thread's affinity mask, in order.
std::vector<int> affinity_cpus();

}  // namespace postern::core
