// latency_histogram: postern-load's round-trip latency record, log-linear like HdrHistogram.
// One per reactor thread (never shared), merged by the main thread at the end.
//
// Buckets: values below 2^sub_bucket_bits are counted exactly; above, each power-of-two range
// [2^k, 2^(k+1)) is cut into 2^(sub_bucket_bits-1) equal sub-buckets, so a value is known to
// within 2^(1-sub_bucket_bits) of itself (0.2 % with 10 bits). Values at or above
// 2^max_value_bits are counted in the last bucket (and still raise max()). The counts array is
// allocated once by the constructor: record() never allocates.
//
// Header-only: the unit-test binary links libpostern.a and its tests only, not bench/load/.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace postern::load {

class latency_histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 10;
  static constexpr unsigned max_value_bits = 40;  // 2^40 ns: 18 minutes
  static constexpr std::uint64_t exact_limit = std::uint64_t{1} << sub_bucket_bits;
  static constexpr std::size_t half_bucket = std::size_t{1} << (sub_bucket_bits - 1);
  static constexpr std::size_t bucket_count =
      exact_limit + std::size_t{max_value_bits - sub_bucket_bits} * half_bucket;

  latency_histogram() : _counts(bucket_count, 0) {}

  // The bucket of value (values past the range go to the last bucket).
  static std::size_t index_of(std::uint64_t value) noexcept {
    if (value < exact_limit) return static_cast<std::size_t>(value);
    const unsigned top_bit = 63u - static_cast<unsigned>(std::countl_zero(value));
    if (top_bit >= max_value_bits) return bucket_count - 1;
    const unsigned shift = top_bit - sub_bucket_bits + 1;  // >= 1: the sub-bucket width is 2^shift
    return exact_limit + std::size_t{shift - 1} * half_bucket + ((value >> shift) - half_bucket);
  }

  // The largest value that falls in bucket index (HdrHistogram's "highest equivalent value").
  static std::uint64_t highest_equivalent(std::size_t index) noexcept {
    if (index < exact_limit) return index;
    const std::size_t above = index - exact_limit;
    const unsigned shift = static_cast<unsigned>(above / half_bucket) + 1;
    const std::uint64_t sub = half_bucket + above % half_bucket;
    return ((sub + 1) << shift) - 1;
  }

  void record(std::uint64_t value) noexcept {
    ++_counts[index_of(value)];
    ++_total;
    _max = std::max(_max, value);
    _min = std::min(_min, value);
    _sum += value;
  }

  void merge(const latency_histogram& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) _counts[i] += other._counts[i];
    _total += other._total;
    _max = std::max(_max, other._max);
    _min = std::min(_min, other._min);
    _sum += other._sum;
  }

  void reset() noexcept {
    std::fill(_counts.begin(), _counts.end(), 0);
    _total = 0;
    _max = 0;
    _min = std::numeric_limits<std::uint64_t>::max();
    _sum = 0;
  }

  std::uint64_t count() const noexcept { return _total; }
  std::uint64_t max() const noexcept { return _max; }                  // 0 when empty
  std::uint64_t min() const noexcept { return _total ? _min : 0; }     // 0 when empty
  double mean() const noexcept { return _total ? static_cast<double>(_sum) / static_cast<double>(_total) : 0.0; }

  // The smallest recorded value v (to bucket precision) such that at least percentile % of the
  // values are <= v: the highest equivalent value of the bucket that holds the
  // ceil(percentile/100 * count)-th smallest value, never above max(). 0 when empty;
  // percentile is clamped to [0, 100] (0 gives the bucket of the smallest value).
  std::uint64_t value_at_percentile(double percentile) const noexcept {
    if (_total == 0) return 0;
    percentile = std::clamp(percentile, 0.0, 100.0);
    // The relative nudge keeps 99.9 % of 1000 at rank 999 although 99.9 is not exact in binary.
    const double exact_rank = percentile * static_cast<double>(_total) / 100.0;
    auto rank = static_cast<std::uint64_t>(std::ceil(exact_rank - exact_rank * 1e-12));
    rank = std::clamp<std::uint64_t>(rank, 1, _total);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += _counts[i];
      if (seen >= rank) return std::min(highest_equivalent(i), _max);
    }
    return _max;
  }

 private:
  std::vector<std::uint64_t> _counts;
  std::uint64_t _total = 0;
  std::uint64_t _max = 0;
  std::uint64_t _min = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t _sum = 0;
};

}  // namespace postern::load
