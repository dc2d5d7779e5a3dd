// core/buffer_pool: leases give buffers back, move semantics, the cache cap, leased() counts.
#include "core/buffer_pool.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace postern::core {
namespace {

TEST(buffer_pool_test, acquire_gives_an_aligned_writable_buffer_of_the_pool_size) {
  buffer_pool pool(1000, 4);
  EXPECT_EQ(pool.buffer_bytes(), 1000u);
  buffer_lease lease = pool.acquire();
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease.size(), 1000u);
  EXPECT_EQ(lease.span().size(), 1000u);
  EXPECT_EQ(lease.span().data(), lease.data());
  std::vector<buffer_lease> more;  // alignment by luck would not hold for all of them
  for (int i = 0; i < 16; ++i) more.push_back(pool.acquire());
  for (auto& l : more) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(l.data()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(lease.data()) % 64, 0u);
  std::memset(lease.data(), 0xab, lease.size());  // ASan would catch a short allocation
  EXPECT_EQ(lease.data()[999], std::byte{0xab});
  EXPECT_EQ(pool.leased(), 17u);
}

TEST(buffer_pool_test, default_buffer_is_16_kib) {
  buffer_pool pool;
  EXPECT_EQ(pool.buffer_bytes(), 16u * 1024);
  EXPECT_EQ(pool.acquire().size(), 16u * 1024);
}

TEST(buffer_pool_test, dropping_a_lease_returns_its_buffer_for_reuse) {
  buffer_pool pool(256, 8);
  std::byte* first;
  {
    buffer_lease lease = pool.acquire();
    first = lease.data();
    EXPECT_EQ(pool.leased(), 1u);
    EXPECT_EQ(pool.cached(), 0u);
  }
  EXPECT_EQ(pool.leased(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
  buffer_lease again = pool.acquire();
  EXPECT_EQ(again.data(), first);  // the cached buffer, not a new one
  EXPECT_EQ(pool.cached(), 0u);
  EXPECT_EQ(pool.leased(), 1u);
}

TEST(buffer_pool_test, release_returns_now_and_leaves_an_empty_lease) {
  buffer_pool pool(128, 8);
  buffer_lease lease = pool.acquire();
  lease.release();
  EXPECT_FALSE(lease);
  EXPECT_EQ(lease.data(), nullptr);
  EXPECT_EQ(lease.size(), 0u);
  EXPECT_EQ(pool.leased(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
  lease.release();  // a second release does nothing
  EXPECT_EQ(pool.leased(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
}

TEST(buffer_pool_test, default_lease_is_empty) {
  buffer_lease lease;
  EXPECT_FALSE(lease);
  EXPECT_EQ(lease.size(), 0u);
  EXPECT_TRUE(lease.span().empty());
}

TEST(buffer_pool_test, move_construction_transfers_the_buffer) {
  buffer_pool pool(64, 8);
  buffer_lease a = pool.acquire();
  std::byte* data = a.data();
  buffer_lease b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(b.size(), 64u);
  EXPECT_EQ(pool.leased(), 1u);
}

TEST(buffer_pool_test, move_assignment_returns_the_target_buffer_first) {
  buffer_pool pool(64, 8);
  buffer_lease a = pool.acquire();
  buffer_lease b = pool.acquire();
  std::byte* a_data = a.data();
  EXPECT_EQ(pool.leased(), 2u);
  b = std::move(a);
  EXPECT_EQ(b.data(), a_data);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(pool.leased(), 1u);
  EXPECT_EQ(pool.cached(), 1u);  // b's old buffer went back

  buffer_lease empty;
  b = std::move(empty);  // assigning an empty lease returns b's buffer too
  EXPECT_FALSE(b);
  EXPECT_EQ(pool.leased(), 0u);
  EXPECT_EQ(pool.cached(), 2u);
}

TEST(buffer_pool_test, self_move_assignment_keeps_the_buffer) {
  buffer_pool pool(64, 8);
  buffer_lease a = pool.acquire();
  std::byte* data = a.data();
  buffer_lease& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.data(), data);
  EXPECT_EQ(pool.leased(), 1u);
  EXPECT_EQ(pool.cached(), 0u);
}

TEST(buffer_pool_test, cache_keeps_at_most_max_cached_buffers) {
  buffer_pool pool(512, 3);
  std::vector<buffer_lease> leases;
  std::set<std::byte*> distinct;
  for (int i = 0; i < 10; ++i) {
    leases.push_back(pool.acquire());  // a burst beyond the cache still succeeds
    distinct.insert(leases.back().data());
  }
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_EQ(pool.leased(), 10u);
  EXPECT_EQ(pool.cached(), 0u);
  for (std::size_t i = 0; i < 10; ++i) {
    leases.pop_back();
    EXPECT_EQ(pool.leased(), 9 - i);
    EXPECT_EQ(pool.cached(), std::min<std::size_t>(i + 1, 3));
  }
  // Three come back from the cache, then new ones are allocated.
  std::vector<buffer_lease> again;
  for (int i = 0; i < 5; ++i) again.push_back(pool.acquire());
  EXPECT_EQ(pool.cached(), 0u);
  EXPECT_EQ(pool.leased(), 5u);
}

TEST(buffer_pool_test, zero_cache_frees_every_returned_buffer) {
  buffer_pool pool(64, 0);
  { buffer_lease lease = pool.acquire(); }
  EXPECT_EQ(pool.cached(), 0u);
  EXPECT_EQ(pool.leased(), 0u);
}

TEST(buffer_pool_test, buffers_do_not_overlap) {
  buffer_pool pool(100, 8);
  buffer_lease a = pool.acquire(), b = pool.acquire();
  std::memset(a.data(), 1, a.size());
  std::memset(b.data(), 2, b.size());
  for (std::byte x : a.span()) ASSERT_EQ(x, std::byte{1});
  for (std::byte x : b.span()) ASSERT_EQ(x, std::byte{2});
}

#ifndef NDEBUG
TEST(buffer_pool_death_test, destroying_a_pool_with_a_lease_out_aborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* pool = new buffer_pool(64, 1);
        buffer_lease lease = pool->acquire();
        delete pool;  // aborts before the lease could give its buffer back to freed memory
      },
      "buffer_pool destroyed while buffers are leased");
}
#endif

}  // namespace
}  // namespace postern::core
