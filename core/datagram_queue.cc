// datagram_queue (see datagram_queue.h).
#include "core/datagram_queue.h"

#include <cassert>
#include <cstring>

namespace postern::core {

datagram_queue::datagram_queue(std::uint32_t max_datagrams, std::uint32_t max_bytes)
    : _max_datagrams(max_datagrams == 0 ? 1 : max_datagrams),
      _max_bytes(max_bytes == 0 ? 1 : max_bytes),
      _slots(std::make_unique_for_overwrite<slot[]>(_max_datagrams)),
      _arena(std::make_unique_for_overwrite<std::byte[]>(_max_bytes)) {}

datagram_queue::~datagram_queue() = default;

bool datagram_queue::push(std::span<const std::byte> bytes, const sockaddr* to, socklen_t to_len) noexcept {
  assert(to_len <= sizeof(sockaddr_storage));
  if (_count == _max_datagrams || bytes.size() > _max_bytes) return false;
  const auto length = static_cast<std::uint32_t>(bytes.size());
  std::uint32_t offset;
  if (!_wrapped) {
    if (_max_bytes - _byte_tail >= length) {
      offset = _byte_tail;
    } else if (_byte_head >= length) {
      // Back to the arena's start; the bytes between _byte_tail and the end stay unused until
      // the front datagram comes round to offset 0. (length > 0 here: an empty datagram always
      // fits at the tail.)
      offset = 0;
      _wrapped = true;
    } else {
      return false;
    }
  } else if (_byte_head - _byte_tail >= length) {
    offset = _byte_tail;
  } else {
    return false;
  }
  const std::uint32_t index = (_head + _count) % _max_datagrams;
  slot& s = _slots[index];
  s.offset = offset;
  s.length = length;
  s.to_len = to_len;
  if (length != 0) std::memcpy(_arena.get() + offset, bytes.data(), length);
  if (to_len != 0) std::memcpy(&s.to, to, to_len);
  _byte_tail = offset + length;
  ++_count;
  _payload_bytes += length;
  return true;
}

datagram_queue::entry datagram_queue::at(std::size_t index) const noexcept {
  assert(index < _count);
  const auto number = static_cast<std::uint32_t>((_head + index) % _max_datagrams);
  const slot& s = _slots[number];
  return entry{{_arena.get() + s.offset, s.length}, reinterpret_cast<const sockaddr*>(&s.to), s.to_len, number};
}

void datagram_queue::pop_front() noexcept {
  assert(_count > 0);
  _payload_bytes -= _slots[_head].length;
  _head = (_head + 1) % _max_datagrams;
  if (--_count == 0) {
    clear();
    return;
  }
  const std::uint32_t next = _slots[_head].offset;
  // The first datagram placed at offset 0 after a wrap is the first one whose offset is below
  // the old front's (every earlier one lies at or after it): the front has come round.
  if (_wrapped && next < _byte_head) _wrapped = false;
  _byte_head = next;
}

void datagram_queue::clear() noexcept {
  _head = 0;
  _count = 0;
  _payload_bytes = 0;
  _byte_head = 0;
  _byte_tail = 0;
  _wrapped = false;
}

}  // namespace postern::core
