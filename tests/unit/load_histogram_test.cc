#include "bench/load/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace postern::load {
namespace {

using h = latency_histogram;

TEST(load_histogram, empty_reports_zero) {
  h hist;
  EXPECT_EQ(hist.count(), 0u);
  EXPECT_EQ(hist.value_at_percentile(50), 0u);
  EXPECT_EQ(hist.value_at_percentile(100), 0u);
  EXPECT_EQ(hist.max(), 0u);
  EXPECT_EQ(hist.min(), 0u);
  EXPECT_EQ(hist.mean(), 0.0);
}

TEST(load_histogram, small_values_are_exact) {
  h hist;
  for (std::uint64_t v = 1; v <= 100; ++v) hist.record(v);
  EXPECT_EQ(hist.count(), 100u);
  EXPECT_EQ(hist.value_at_percentile(50), 50u);
  EXPECT_EQ(hist.value_at_percentile(90), 90u);
  EXPECT_EQ(hist.value_at_percentile(99), 99u);
  EXPECT_EQ(hist.value_at_percentile(99.9), 100u);  // rank ceil(99.9) = 100
  EXPECT_EQ(hist.value_at_percentile(100), 100u);
  EXPECT_EQ(hist.value_at_percentile(0), 1u);
  EXPECT_EQ(hist.value_at_percentile(1), 1u);
  EXPECT_EQ(hist.value_at_percentile(1.5), 2u);
  EXPECT_EQ(hist.min(), 1u);
  EXPECT_EQ(hist.max(), 100u);
  EXPECT_DOUBLE_EQ(hist.mean(), 50.5);
}

TEST(load_histogram, percentile_ranks_do_not_suffer_from_binary_fractions) {
  // 99.9 and 99 are not exact in binary; the ranks must still be 999 and 990 of 1000.
  h hist;
  for (std::uint64_t v = 1; v <= 1000; ++v) hist.record(v);
  EXPECT_EQ(hist.value_at_percentile(99.9), 999u);
  EXPECT_EQ(hist.value_at_percentile(99), 990u);
  EXPECT_EQ(hist.value_at_percentile(90), 900u);
  EXPECT_EQ(hist.value_at_percentile(50), 500u);
  EXPECT_EQ(hist.value_at_percentile(0.1), 1u);
}

TEST(load_histogram, percentiles_of_a_skewed_distribution) {
  // 990 fast round trips of 20 us and 10 slow ones of 5 ms, in ns.
  h hist;
  for (int i = 0; i < 990; ++i) hist.record(20'000);
  for (int i = 0; i < 10; ++i) hist.record(5'000'000);
  const auto near = [](std::uint64_t got, std::uint64_t want) {
    EXPECT_GE(got, want) << "a percentile is the bucket's highest value";
    EXPECT_LE(got - want, want / 512) << "within the bucket precision";
  };
  near(hist.value_at_percentile(50), 20'000);
  near(hist.value_at_percentile(99), 20'000);      // the 990th value
  near(hist.value_at_percentile(99.1), 5'000'000); // the 991st
  EXPECT_EQ(hist.value_at_percentile(99.9), 5'000'000u);  // capped at max: exact
  EXPECT_EQ(hist.max(), 5'000'000u);
}

TEST(load_histogram, uniform_data_percentiles_within_precision) {
  // 1..100000 us in ns: the p-th percentile is p * 1000 us.
  h hist;
  for (std::uint64_t us = 1; us <= 100'000; ++us) hist.record(us * 1000);
  for (double p : {10.0, 50.0, 90.0, 99.0, 99.9}) {
    const auto want = static_cast<double>(std::llround(p * 1000.0) * 1000);
    const double got = static_cast<double>(hist.value_at_percentile(p));
    EXPECT_GE(got, want) << p;
    EXPECT_LE(got, want * (1 + 1.0 / 512)) << p;
  }
  EXPECT_EQ(hist.value_at_percentile(100), 100'000'000u);
}

TEST(load_histogram, buckets_are_contiguous_and_precise) {
  std::size_t previous = 0;
  for (std::uint64_t v = 1; v < (std::uint64_t{1} << 22); v += 1 + v / 3000) {
    const std::size_t i = h::index_of(v);
    ASSERT_GE(i, previous) << v;
    ASSERT_LE(i, previous + 1) << v;  // steps smaller than a bucket never skip one
    ASSERT_GE(h::highest_equivalent(i), v) << v;
    ASSERT_LT(h::highest_equivalent(i) - v, std::max<std::uint64_t>(1, v / 512)) << v;
    if (i > 0) {
      ASSERT_LT(h::highest_equivalent(i - 1), v) << v;
    }
    previous = i;
  }
  // Every bucket boundary: highest_equivalent(i) + 1 starts bucket i + 1.
  for (std::size_t i = 0; i + 1 < h::bucket_count; ++i)
    ASSERT_EQ(h::index_of(h::highest_equivalent(i) + 1), i + 1) << i;
}

TEST(load_histogram, values_past_the_range_land_in_the_last_bucket) {
  h hist;
  const std::uint64_t huge = std::uint64_t{1} << 50;
  hist.record(huge);
  EXPECT_EQ(h::index_of(huge), h::bucket_count - 1);
  EXPECT_EQ(h::index_of(UINT64_MAX), h::bucket_count - 1);
  EXPECT_EQ(hist.max(), huge);
  EXPECT_EQ(hist.value_at_percentile(50), (std::uint64_t{1} << h::max_value_bits) - 1);
}

TEST(load_histogram, merge_adds_counts_and_extremes) {
  h a, b;
  for (std::uint64_t v = 1; v <= 50; ++v) a.record(v);
  for (std::uint64_t v = 51; v <= 100; ++v) b.record(v);
  b.record(7'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 101u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 7'000'000u);
  EXPECT_EQ(a.value_at_percentile(50), 51u);  // rank 51 of 101
  EXPECT_EQ(b.count(), 51u) << "merge leaves its argument alone";
}

TEST(load_histogram, reset_forgets_everything) {
  h hist;
  hist.record(5);
  hist.record(9'000);
  hist.reset();
  EXPECT_EQ(hist.count(), 0u);
  EXPECT_EQ(hist.max(), 0u);
  EXPECT_EQ(hist.value_at_percentile(50), 0u);
  hist.record(3);
  EXPECT_EQ(hist.min(), 3u);
  EXPECT_EQ(hist.value_at_percentile(100), 3u);
}

}  // namespace
}  // namespace postern::load
