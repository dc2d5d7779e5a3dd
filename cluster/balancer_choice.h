// balancer_choice: which member a balancer sends a client to (DESIGN §6). Pure and without
// allocation: it reads one balance_group of the reactor's own table snapshot.
//
// Rule: among the ready candidates only,
//   1. the local member, while it is ready and its load <= average ready load x
//      local_preference_factor (clients stay on the member they reached, which saves a hop,
//      until it carries clearly more than its share); a factor of 0 turns this rule off;
//   2. otherwise the less loaded of two distinct ready candidates drawn at random ("power of
//      two choices": spreads load almost as well as least-loaded without herding every
//      balancer onto the same least-loaded member between two heartbeats); a tie goes to the
//      first drawn;
//   3. nullopt when no candidate is ready (the balancer answers 503 with Retry-After).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "cluster/balancer_table.h"

namespace postern::cluster {

struct choice_options {
  double local_preference_factor = 1.25;
};

// Chooses by the rule above with two uniform random 64-bit values (used only by rule 2).
// local_load_now, when given, replaces the local candidate's load from the snapshot (the local
// member knows its own load better than its last heartbeat did). Returns an index into
// group.candidates.
std::optional<std::size_t> choose_candidate(const balance_group& group, const choice_options& options,
                                            std::uint64_t random_a, std::uint64_t random_b,
                                            std::optional<std::uint32_t> local_load_now = std::nullopt) noexcept;

// The same, drawing the two values from random (a callable returning std::uint64_t: a
// choice_random in production, a scripted sequence in tests).
template <class Random>
  requires std::invocable<Random&> && std::convertible_to<std::invoke_result_t<Random&>, std::uint64_t>
std::optional<std::size_t> choose_candidate(const balance_group& group, const choice_options& options,
                                            Random& random,
                                            std::optional<std::uint32_t> local_load_now = std::nullopt) {
  const std::uint64_t a = random();
  const std::uint64_t b = random();
  return choose_candidate(group, options, a, b, local_load_now);
}

// A small fast generator (splitmix64) for one reactor; seed each reactor differently.
class choice_random {
 public:
  explicit choice_random(std::uint64_t seed) noexcept : _state(seed) {}
  std::uint64_t operator()() noexcept {
    std::uint64_t z = (_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t _state;
};

}  // namespace postern::cluster
