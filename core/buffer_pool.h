// buffer_pool: a reactor's own pool of fixed-size byte buffers (STYLE 10). Never shared between
// threads. A buffer is held through a move-only buffer_lease that gives it back when dropped.
// The pool keeps up to `max_cached` free buffers and allocates beyond that on demand, so a
// burst never fails; buffers returned above the cache size are freed.
// Buffers are 64-byte aligned. Every lease must be dropped before its pool is destroyed (a lease
// outliving its pool is a programming error; unless NDEBUG, ~buffer_pool aborts on it).
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace postern::core {

class buffer_pool;

class buffer_lease {
 public:
  buffer_lease() = default;
  buffer_lease(const buffer_lease&) = delete;
  buffer_lease& operator=(const buffer_lease&) = delete;
  buffer_lease(buffer_lease&& other) noexcept
      : _pool(std::exchange(other._pool, nullptr)), _data(std::exchange(other._data, nullptr)) {}
  buffer_lease& operator=(buffer_lease&& other) noexcept;
  ~buffer_lease() { release(); }

  // An empty lease (default-constructed, moved from or released) has no data and size 0.
  explicit operator bool() const noexcept { return _data != nullptr; }
  std::byte* data() const noexcept { return _data; }
  std::size_t size() const noexcept;
  std::span<std::byte> span() const noexcept { return {_data, size()}; }
  // Gives the buffer back to its pool now.
  void release() noexcept;

 private:
  friend class buffer_pool;
  buffer_lease(buffer_pool* pool, std::byte* data) noexcept : _pool(pool), _data(data) {}
  buffer_pool* _pool = nullptr;
  std::byte* _data = nullptr;
};

class buffer_pool {
 public:
  static constexpr std::size_t default_buffer_bytes = 16 * 1024;

  explicit buffer_pool(std::size_t buffer_bytes = default_buffer_bytes, std::size_t max_cached = 1024);
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;
  ~buffer_pool();

  // A buffer of buffer_bytes() bytes, from the cache when it has one. Throws std::bad_alloc
  // only when the system is out of memory, as operator new does.
  buffer_lease acquire();
  std::size_t buffer_bytes() const noexcept { return _buffer_bytes; }
  // Buffers currently leased out (for tests and metrics).
  std::size_t leased() const noexcept { return _leased; }
  std::size_t cached() const noexcept { return _free.size(); }

 private:
  friend class buffer_lease;
  void give_back(std::byte* data) noexcept;

  std::size_t _buffer_bytes;
  std::size_t _max_cached;
  std::size_t _leased = 0;
  std::vector<std::byte*> _free;
};

inline std::size_t buffer_lease::size() const noexcept { return _pool ? _pool->buffer_bytes() : 0; }

}  // namespace postern::core
