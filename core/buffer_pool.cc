// buffer_pool (see buffer_pool.h). Buffers are 64-byte aligned (a cache line, and enough for
// any SIMD load a parser may use); the allocation is rounded up to a multiple of 64 bytes as
// std::aligned_alloc requires, and only buffer_bytes() of it is ever handed out.
#include "core/buffer_pool.h"

#include <cassert>
#include <cstdlib>
#include <new>

namespace postern::core {
namespace {

constexpr std::size_t buffer_alignment = 64;

std::size_t allocation_bytes(std::size_t buffer_bytes) noexcept {
  std::size_t bytes = buffer_bytes == 0 ? 1 : buffer_bytes;
  return (bytes + buffer_alignment - 1) / buffer_alignment * buffer_alignment;
}

}  // namespace

buffer_lease& buffer_lease::operator=(buffer_lease&& other) noexcept {
  if (this != &other) {
    release();
    _pool = std::exchange(other._pool, nullptr);
    _data = std::exchange(other._data, nullptr);
  }
  return *this;
}

void buffer_lease::release() noexcept {
  if (_data != nullptr) _pool->give_back(_data);
  _pool = nullptr;
  _data = nullptr;
}

buffer_pool::buffer_pool(std::size_t buffer_bytes, std::size_t max_cached)
    : _buffer_bytes(buffer_bytes), _max_cached(max_cached) {
  // Reserved now so that give_back() never allocates (and so can be noexcept).
  _free.reserve(max_cached);
}

buffer_pool::~buffer_pool() {
  // A lease that outlives its pool would give its buffer back to freed memory: that is a
  // programming error in the owner's destruction order, caught here rather than later.
  assert(_leased == 0 && "buffer_pool destroyed while buffers are leased");
  for (std::byte* data : _free) std::free(data);
}

buffer_lease buffer_pool::acquire() {
  std::byte* data;
  if (!_free.empty()) {
    data = _free.back();
    _free.pop_back();
  } else {
    data = static_cast<std::byte*>(std::aligned_alloc(buffer_alignment, allocation_bytes(_buffer_bytes)));
    if (data == nullptr) throw std::bad_alloc();
  }
  ++_leased;
  return buffer_lease(this, data);
}

void buffer_pool::give_back(std::byte* data) noexcept {
  --_leased;
  if (_free.size() < _max_cached)
    _free.push_back(data);
  else
    std::free(data);
}

}  // namespace postern::core
