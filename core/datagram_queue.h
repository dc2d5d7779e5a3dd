// datagram_queue: the bounded FIFO of datagrams a datagram_socket has not sent yet (STYLE 10
// and 11). All storage is allocated once, by the constructor: a ring of fixed slots (one per
// datagram: its length, where its bytes are, its destination address) and one byte arena in
// which each datagram's bytes are kept contiguous, so that a datagram is one iovec. push()
// never allocates and never blocks: when a limit would be passed it refuses, and the caller
// drops the datagram and counts it.
//
// Slots are numbered 0..max_datagrams-1 and a queued datagram keeps its slot number until it
// is popped, so a back end may keep per-datagram kernel state (an msghdr for a sendmsg in
// flight) in an array indexed by it.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace postern::core {

class datagram_queue {
 public:
  // One queued datagram, valid until it is popped or the queue is cleared.
  struct entry {
    std::span<const std::byte> bytes;
    const sockaddr* to;
    socklen_t to_len;
    std::uint32_t slot;  // 0..max_datagrams()-1, fixed while the datagram is queued
  };

  // Holds at most max_datagrams datagrams and max_bytes bytes of payload (a datagram larger
  // than max_bytes never fits). Both must be at least 1. Throws std::bad_alloc like new.
  datagram_queue(std::uint32_t max_datagrams, std::uint32_t max_bytes);
  datagram_queue(const datagram_queue&) = delete;
  datagram_queue& operator=(const datagram_queue&) = delete;
  ~datagram_queue();

  // Copies bytes and the destination (to_len <= sizeof(sockaddr_storage), checked by the
  // caller) to the back. Returns false, changing nothing, when either limit would be passed.
  // Because bytes stay contiguous, up to (largest datagram - 1) bytes at the arena's end may
  // go unused while the queue wraps around: a full arena can refuse a datagram smaller than
  // max_bytes - bytes().
  bool push(std::span<const std::byte> bytes, const sockaddr* to, socklen_t to_len) noexcept;

  // The index-th datagram from the front; index < size().
  entry at(std::size_t index) const noexcept;
  // Removes the front datagram; the queue must not be empty.
  void pop_front() noexcept;
  // Removes every datagram.
  void clear() noexcept;

  std::size_t size() const noexcept { return _count; }
  bool empty() const noexcept { return _count == 0; }
  // Payload bytes of the queued datagrams (not counting space lost to wrapping).
  std::size_t bytes() const noexcept { return _payload_bytes; }
  std::uint32_t max_datagrams() const noexcept { return _max_datagrams; }
  std::uint32_t max_bytes() const noexcept { return _max_bytes; }

 private:
  struct slot {
    std::uint32_t offset;  // into _arena
    std::uint32_t length;
    socklen_t to_len;
    sockaddr_storage to;
  };

  std::uint32_t _max_datagrams;
  std::uint32_t _max_bytes;
  std::unique_ptr<slot[]> _slots;
  std::unique_ptr<std::byte[]> _arena;
  std::uint32_t _head = 0;   // slot of the front datagram
  std::uint32_t _count = 0;
  std::size_t _payload_bytes = 0;
  // The arena as a ring of contiguous allocations. Not wrapped: live bytes are
  // [_byte_head, _byte_tail), free space is [_byte_tail, end) and [0, _byte_head). Wrapped
  // (the newest datagrams went back to offset 0): live bytes are [_byte_head, end of the
  // oldest run) and [0, _byte_tail); free space is [_byte_tail, _byte_head).
  std::uint32_t _byte_head = 0;  // offset of the front datagram's bytes (0 when empty)
  std::uint32_t _byte_tail = 0;  // where the next datagram's bytes go
  bool _wrapped = false;
};

}  // namespace postern::core
