// byte_queue: an ordered queue of bytes kept in a chain of pool buffers: the output queue of a
// stream. Appending copies into the tail buffer (no allocation while the pool has buffers);
// the sender takes iovecs from the head and consumes what the kernel accepted.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <span>

#include "core/buffer_pool.h"

namespace postern::core {

class byte_queue {
 public:
  explicit byte_queue(buffer_pool& pool) : _pool(&pool) {}
  byte_queue(const byte_queue&) = delete;
  byte_queue& operator=(const byte_queue&) = delete;

  void append(std::span<const std::byte> bytes);
  std::size_t size() const noexcept { return _size; }
  bool empty() const noexcept { return _size == 0; }
  // Fills up to max iovecs describing the queued bytes from the head; returns how many.
  std::size_t peek(iovec* out, std::size_t max) const noexcept;
  // Drops n bytes from the head (n <= size()); empty buffers go back to the pool.
  void consume(std::size_t n) noexcept;
  void clear() noexcept;

 private:
  struct chunk {
    buffer_lease buffer;
    std::size_t begin = 0;  // first unsent byte
    std::size_t end = 0;    // one past the last queued byte
  };
  buffer_pool* _pool;
  std::deque<chunk> _chunks;
  std::size_t _size = 0;
};

}  // namespace postern::core
