// UTF-8 validation throughput (bytes/s) on valid ASCII, valid mixed multi-byte text, and
// input that turns invalid at its end (the validator must read all of it to know).
#include <benchmark/benchmark.h>

#include <string>

#include "net/utf8.h"

namespace {

std::string make_text(std::size_t n, bool multibyte, bool invalid_tail) {
  const std::string unit = multibyte ? "h\xC3\xA9llo w\xE2\x82\xACrld \xF0\x9F\x98\x80 " : "hello world, ascii ";
  std::string s;
  while (s.size() + unit.size() <= n) s += unit;
  while (s.size() < n) s += 'x';
  if (invalid_tail) s.back() = '\xFF';
  return s;
}

void run(benchmark::State& state, bool multibyte, bool invalid_tail) {
  const std::string text = make_text(static_cast<std::size_t>(state.range(0)), multibyte, invalid_tail);
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  for (auto _ : state) benchmark::DoNotOptimize(postern::net::is_valid_utf8(bytes));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void bm_utf8_ascii(benchmark::State& s) { run(s, false, false); }
void bm_utf8_multibyte(benchmark::State& s) { run(s, true, false); }
void bm_utf8_invalid_at_end(benchmark::State& s) { run(s, true, true); }

}  // namespace

BENCHMARK(bm_utf8_ascii)->Arg(125)->Arg(4096)->Arg(65536);
BENCHMARK(bm_utf8_multibyte)->Arg(125)->Arg(4096)->Arg(65536);
BENCHMARK(bm_utf8_invalid_at_end)->Arg(125)->Arg(4096)->Arg(65536);
