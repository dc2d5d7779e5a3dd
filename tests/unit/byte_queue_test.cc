// core/byte_queue: bytes out are the bytes in, whatever the split of appends and consumes,
// across buffer boundaries (small pool buffers make every size up to 3 buffers cheap to try).
#include "core/byte_queue.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace postern::core {
namespace {

constexpr std::size_t buffer_bytes = 16;
constexpr std::size_t max_bytes = 3 * buffer_bytes;

std::vector<std::byte> pattern(std::size_t n, unsigned seed = 1) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + seed * 7 + 3) & 0xff);
  return out;
}

std::span<const std::byte> part(const std::vector<std::byte>& v, std::size_t from, std::size_t to) {
  return std::span<const std::byte>(v).subspan(from, to - from);
}

// The queued bytes, read through peek() as a sender would, with room for every chunk.
std::vector<std::byte> contents(const byte_queue& q) {
  iovec iov[256];
  std::size_t n = q.peek(iov, 256);
  EXPECT_LT(n, 256u) << "more chunks than this helper reads";
  std::vector<std::byte> out;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_GT(iov[i].iov_len, 0u) << "peek returned an empty iovec";
    auto* p = static_cast<const std::byte*>(iov[i].iov_base);
    out.insert(out.end(), p, p + iov[i].iov_len);
  }
  return out;
}

std::size_t buffers_for(std::size_t first, std::size_t end) {
  // Buffers holding queued bytes [first, end) of a queue filled from offset 0.
  if (first == end) return 0;
  return (end + buffer_bytes - 1) / buffer_bytes - first / buffer_bytes;
}

TEST(byte_queue_test, new_queue_is_empty) {
  buffer_pool pool(buffer_bytes, 8);
  byte_queue q(pool);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  iovec iov[4];
  EXPECT_EQ(q.peek(iov, 4), 0u);
  q.append({});  // appending nothing takes no buffer
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(pool.leased(), 0u);
}

TEST(byte_queue_test, append_split_at_every_offset_keeps_the_bytes) {
  for (std::size_t n = 0; n <= max_bytes; ++n) {
    auto bytes = pattern(n);
    for (std::size_t cut = 0; cut <= n; ++cut) {
      buffer_pool pool(buffer_bytes, 8);
      byte_queue q(pool);
      q.append(part(bytes, 0, cut));
      q.append(part(bytes, cut, n));
      ASSERT_EQ(q.size(), n) << "n=" << n << " cut=" << cut;
      ASSERT_EQ(q.empty(), n == 0);
      ASSERT_EQ(contents(q), bytes) << "n=" << n << " cut=" << cut;
      ASSERT_EQ(pool.leased(), buffers_for(0, n)) << "n=" << n << " cut=" << cut;
    }
  }
}

TEST(byte_queue_test, append_byte_by_byte_fills_buffers_in_order) {
  buffer_pool pool(buffer_bytes, 8);
  byte_queue q(pool);
  auto bytes = pattern(max_bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) q.append(part(bytes, i, i + 1));
  iovec iov[8];
  ASSERT_EQ(q.peek(iov, 8), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(iov[i].iov_len, buffer_bytes);
    EXPECT_EQ(std::memcmp(iov[i].iov_base, bytes.data() + i * buffer_bytes, buffer_bytes), 0);
  }
}

TEST(byte_queue_test, peek_fills_at_most_max_iovecs_from_the_head) {
  buffer_pool pool(buffer_bytes, 8);
  byte_queue q(pool);
  auto bytes = pattern(40);  // 16 + 16 + 8
  q.append(bytes);
  iovec iov[3];
  EXPECT_EQ(q.peek(iov, 0), 0u);
  ASSERT_EQ(q.peek(iov, 2), 2u);
  EXPECT_EQ(iov[0].iov_len, 16u);
  EXPECT_EQ(iov[1].iov_len, 16u);
  EXPECT_EQ(std::memcmp(iov[0].iov_base, bytes.data(), 16), 0);
  EXPECT_EQ(std::memcmp(iov[1].iov_base, bytes.data() + 16, 16), 0);
  ASSERT_EQ(q.peek(iov, 3), 3u);
  EXPECT_EQ(iov[2].iov_len, 8u);
  EXPECT_EQ(std::memcmp(iov[2].iov_base, bytes.data() + 32, 8), 0);
  EXPECT_EQ(q.size(), 40u);  // peek takes nothing
}

TEST(byte_queue_test, consume_at_every_offset_leaves_the_rest) {
  for (std::size_t n = 0; n <= max_bytes; ++n) {
    auto bytes = pattern(n, 5);
    for (std::size_t k = 0; k <= n; ++k) {
      buffer_pool pool(buffer_bytes, 8);
      byte_queue q(pool);
      q.append(bytes);
      q.consume(k);
      ASSERT_EQ(q.size(), n - k) << "n=" << n << " k=" << k;
      std::vector<std::byte> rest(bytes.begin() + static_cast<std::ptrdiff_t>(k), bytes.end());
      ASSERT_EQ(contents(q), rest) << "n=" << n << " k=" << k;
      // Drained buffers went back to the pool at once.
      ASSERT_EQ(pool.leased(), buffers_for(k, n)) << "n=" << n << " k=" << k;
      q.consume(n - k);
      ASSERT_TRUE(q.empty());
      ASSERT_EQ(pool.leased(), 0u);
    }
  }
}

TEST(byte_queue_test, consume_in_steps_of_every_size) {
  auto bytes = pattern(max_bytes, 9);
  for (std::size_t step = 1; step <= max_bytes; ++step) {
    buffer_pool pool(buffer_bytes, 8);
    byte_queue q(pool);
    q.append(bytes);
    std::size_t taken = 0;
    while (!q.empty()) {
      std::size_t n = std::min(step, q.size());
      iovec iov[1];
      ASSERT_EQ(q.peek(iov, 1), 1u);
      ASSERT_EQ(static_cast<const std::byte*>(iov[0].iov_base)[0], bytes[taken]) << "step=" << step;
      q.consume(n);
      taken += n;
      ASSERT_EQ(q.size(), max_bytes - taken);
    }
    ASSERT_EQ(taken, max_bytes);
    ASSERT_EQ(pool.leased(), 0u);
  }
}

TEST(byte_queue_test, clear_returns_every_buffer_and_the_queue_is_reusable) {
  buffer_pool pool(buffer_bytes, 8);
  byte_queue q(pool);
  q.append(pattern(max_bytes));
  q.consume(5);
  EXPECT_EQ(pool.leased(), 3u);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(pool.leased(), 0u);
  iovec iov[4];
  EXPECT_EQ(q.peek(iov, 4), 0u);
  auto again = pattern(20, 3);
  q.append(again);
  EXPECT_EQ(contents(q), again);
  EXPECT_EQ(pool.leased(), 2u);
}

TEST(byte_queue_test, destruction_returns_every_buffer) {
  buffer_pool pool(buffer_bytes, 8);
  {
    byte_queue q(pool);
    q.append(pattern(max_bytes + 1));
    EXPECT_EQ(pool.leased(), 4u);
  }
  EXPECT_EQ(pool.leased(), 0u);
  EXPECT_EQ(pool.cached(), 4u);
}

TEST(byte_queue_test, interleaved_appends_and_consumes_match_a_fifo) {
  buffer_pool pool(buffer_bytes, 8);
  byte_queue q(pool);
  std::deque<std::byte> model;
  std::mt19937 rng(12345);
  std::uint8_t next = 0;
  for (int round = 0; round < 5000; ++round) {
    if (rng() % 2 == 0) {
      std::vector<std::byte> chunk(rng() % (2 * buffer_bytes + 1));
      for (auto& b : chunk) b = static_cast<std::byte>(next++);
      q.append(chunk);
      model.insert(model.end(), chunk.begin(), chunk.end());
    } else {
      std::size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
      q.consume(n);
      model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_EQ(contents(q), std::vector<std::byte>(model.begin(), model.end())) << "round " << round;
  }
}

}  // namespace
}  // namespace postern::core
