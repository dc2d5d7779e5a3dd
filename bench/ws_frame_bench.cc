// ws_frame: decoding speed of client frames (masked, server role) for 64 B, 1 KiB and 64 KiB
// payloads, binary (decode + unmask) and text (decode + unmask + UTF-8 validation), a buffer
// of many small frames as a busy connection delivers them, and ws_apply_mask alone.
#include "net/ws_frame.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include <array>
#include <cstdint>
#include <vector>

namespace postern::net {
namespace {

constexpr std::array<std::byte, 4> key = {std::byte{0x37}, std::byte{0xfa}, std::byte{0x21},
                                          std::byte{0x3d}};
// XOR with a zero key leaves the text as it was, so the same buffer can be decoded again and
// again and stays valid UTF-8; the decoder does the same work whatever the key.
constexpr std::array<std::byte, 4> zero_key{};

// Appends one frame whose payload is payload_bytes of ASCII, masked with mask.
void append_frame(std::vector<std::byte>& out, ws_opcode opcode, std::size_t payload_bytes,
                  const std::array<std::byte, 4>& mask) {
  std::array<std::byte, 14> header;
  const std::size_t header_bytes = encode_ws_frame_header(header.data(), true, opcode,
                                                          payload_bytes, &mask);
  out.insert(out.end(), header.begin(), header.begin() + static_cast<long>(header_bytes));
  const std::size_t start = out.size();
  for (std::size_t i = 0; i < payload_bytes; ++i) {
    out.push_back(static_cast<std::byte>('a' + i % 26));
  }
  ws_apply_mask(std::span(out).subspan(start), mask);
}

// Decodes every frame in buf; returns the number of messages (all must end well).
std::size_t decode_all(ws_frame_decoder& d, std::span<std::byte> buf, benchmark::State& state) {
  std::size_t messages = 0;
  for (;;) {
    const ws_event ev = d.next(buf);
    buf = buf.subspan(ev.consumed);
    switch (ev.kind) {
      case ws_event_kind::need_more:
        return messages;
      case ws_event_kind::data:
        benchmark::DoNotOptimize(ev.payload.data());
        break;
      case ws_event_kind::message_end:
        ++messages;
        break;
      case ws_event_kind::error:
        state.SkipWithError("decoder error");
        return messages;
      default:
        break;
    }
  }
}

void run_decode(benchmark::State& state, ws_opcode opcode, const std::array<std::byte, 4>& mask,
                bool unmask) {
  const auto payload_bytes = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> buf;
  append_frame(buf, opcode, payload_bytes, mask);
  for (auto _ : state) {
    ws_frame_decoder d(ws_role::server, 1 << 20, unmask);
    if (decode_all(d, buf, state) != 1) state.SkipWithError("no message");
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

void bm_decode_binary(benchmark::State& state) { run_decode(state, ws_opcode::binary, key, true); }
void bm_decode_text(benchmark::State& state) { run_decode(state, ws_opcode::text, zero_key, true); }
// Forwarding: payload left masked, text validated on a stack copy.
void bm_decode_text_forwarding(benchmark::State& state) {
  run_decode(state, ws_opcode::text, key, false);
}

// 1,000 binary frames of 64 bytes back to back in one buffer, as one large read delivers them.
void bm_decode_small_frame_stream(benchmark::State& state) {
  constexpr std::size_t frames = 1000;
  std::vector<std::byte> buf;
  for (std::size_t i = 0; i < frames; ++i) append_frame(buf, ws_opcode::binary, 64, key);
  for (auto _ : state) {
    ws_frame_decoder d(ws_role::server, 1 << 20);
    if (decode_all(d, buf, state) != frames) state.SkipWithError("lost a message");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * frames));
}

void bm_apply_mask(benchmark::State& state) {
  std::vector<std::byte> buf(static_cast<std::size_t>(state.range(0)), std::byte{0x5a});
  for (auto _ : state) {
    ws_apply_mask(buf, key, 1);  // a rotated key, as in the middle of a frame
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

// The payload sizes of issue 4: 16 B, 125 B (largest 7-bit length), 4 KiB, 64 KiB.
#define POSTERN_FRAME_SIZES ->Arg(16)->Arg(125)->Arg(4096)->Arg(65536)
BENCHMARK(bm_decode_binary) POSTERN_FRAME_SIZES;
BENCHMARK(bm_decode_text) POSTERN_FRAME_SIZES;
BENCHMARK(bm_decode_text_forwarding) POSTERN_FRAME_SIZES;
BENCHMARK(bm_decode_small_frame_stream);
BENCHMARK(bm_apply_mask) POSTERN_FRAME_SIZES;

// Encoding a server frame: header into a stack buffer plus the payload copied behind it, as
// the echo and the proxy do into a stream's queue.
static void bm_encode_frame(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> payload(n, std::byte{0x61});
  std::vector<std::byte> out(n + 14);
  for (auto _ : state) {
    std::size_t h = postern::net::encode_ws_frame_header(out.data(), true, postern::net::ws_opcode::binary, n);
    std::memcpy(out.data() + h, payload.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(bm_encode_frame) POSTERN_FRAME_SIZES;

// memcpy of the same sizes: the bandwidth unmasking is measured against.
static void bm_memcpy(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> a(n, std::byte{1}), b(n);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), n);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(bm_memcpy) POSTERN_FRAME_SIZES;

}  // namespace
}  // namespace postern::net
