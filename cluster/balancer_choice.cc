#include "cluster/balancer_choice.h"

namespace postern::cluster {
namespace {

// A uniform value in [0, n) from a uniform 64-bit value (Lemire's multiply-shift: no modulo
// bias worth the name for n far below 2^64, and no division).
std::size_t below(std::uint64_t random, std::size_t n) noexcept {
  return static_cast<std::size_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

}  // namespace

std::optional<std::size_t> choose_candidate(const balance_group& group, const choice_options& options,
                                            std::uint64_t random_a, std::uint64_t random_b,
                                            std::optional<std::uint32_t> local_load_now) noexcept {
  const std::size_t ready = group.ready.size();
  if (ready == 0) return std::nullopt;
  auto load_of = [&](std::size_t index) -> std::uint64_t {
    const balance_candidate& c = group.candidates[index];
    return c.is_local && local_load_now ? *local_load_now : c.load;
  };
  if (group.local_index >= 0 && options.local_preference_factor > 0) {
    const auto local = static_cast<std::size_t>(group.local_index);
    if (group.candidates[local].ready) {
      std::uint64_t sum = group.ready_load_sum;
      if (local_load_now) sum = sum - group.candidates[local].load + *local_load_now;
      // load <= (sum / ready) x factor, without the division.
      if (static_cast<double>(load_of(local)) * static_cast<double>(ready) <=
          static_cast<double>(sum) * options.local_preference_factor)
        return local;
    }
  }
  if (ready == 1) return group.ready[0];
  const std::size_t first = below(random_a, ready);
  std::size_t second = below(random_b, ready - 1);
  if (second >= first) ++second;  // two distinct candidates, each pair equally likely
  const std::size_t a = group.ready[first];
  const std::size_t b = group.ready[second];
  return load_of(b) < load_of(a) ? b : a;
}

}  // namespace postern::cluster
