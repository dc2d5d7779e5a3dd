// byte_queue (see byte_queue.h). Invariants: every chunk holds at least one queued byte
// (begin < end): append() fills a chunk as soon as it adds it and consume() drops a chunk as
// soon as it is drained; _size is the sum of (end - begin) over the chunks.
#include "core/byte_queue.h"

#include <cassert>
#include <cstring>

namespace postern::core {

void byte_queue::append(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    if (_chunks.empty() || _chunks.back().end == _chunks.back().buffer.size())
      _chunks.push_back(chunk{_pool->acquire(), 0, 0});
    chunk& tail = _chunks.back();
    std::size_t room = tail.buffer.size() - tail.end;
    assert(room > 0 && "byte_queue needs a pool of non-empty buffers");
    std::size_t n = bytes.size() < room ? bytes.size() : room;
    std::memcpy(tail.buffer.data() + tail.end, bytes.data(), n);
    tail.end += n;
    _size += n;
    bytes = bytes.subspan(n);
  }
}

std::size_t byte_queue::peek(iovec* out, std::size_t max) const noexcept {
  std::size_t count = 0;
  for (const chunk& c : _chunks) {
    if (count == max) break;
    out[count].iov_base = c.buffer.data() + c.begin;
    out[count].iov_len = c.end - c.begin;
    ++count;
  }
  return count;
}

void byte_queue::consume(std::size_t n) noexcept {
  assert(n <= _size && "byte_queue::consume past the end");
  if (n > _size) n = _size;
  _size -= n;
  while (n > 0) {
    chunk& head = _chunks.front();
    std::size_t available = head.end - head.begin;
    std::size_t take = n < available ? n : available;
    head.begin += take;
    n -= take;
    if (head.begin == head.end) _chunks.pop_front();
  }
}

void byte_queue::clear() noexcept {
  _chunks.clear();
  _size = 0;
}

}  // namespace postern::core
