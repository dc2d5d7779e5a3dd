// libFuzzer target for the SOCKS5 parsers of the reverse link (net/socks5.h).
//
// Input: byte 0 picks the split point, the rest is the stream. Each of the four parsers
// (greeting, method choice, request, reply) reads the stream once whole and once the way a
// caller accumulates it: first the bytes before the split, then, if that was need_more, the
// whole stream. Every result is checked against the parsers' contract:
//   consumed <= the bytes offered; need_more and error consume nothing; error carries a
//   sentence and done none; done consumes at least the fixed header; re-encoding a done value
//   gives exactly the consumed bytes (so nothing is dropped, normalised or read past the
//   message); a greeting's no_auth_offered says whether method 00 is among its methods; the
//   split and whole runs end with the same status, consumed count, value and error.
//
// Build and run (clang 14):
//   clang++-14 -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined \
//     -fno-sanitize-recover=all -I. tests/fuzz/socks5_fuzz.cc net/socks5.cc \
//     -o socks5_fuzz && ./socks5_fuzz -max_total_time=30
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "net/socks5.h"

namespace {

namespace socks5 = postern::net::socks5;
using socks5::parse_result;
using socks5::status;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string str(std::span<const std::byte> in) {
  return std::string(reinterpret_cast<const char*>(in.data()), in.size());
}

bool same_value(const socks5::greeting& a, const socks5::greeting& b) {
  return a.no_auth_offered == b.no_auth_offered && a.methods == b.methods;
}
bool same_value(bool a, bool b) { return a == b; }
bool same_value(const socks5::request& a, const socks5::request& b) { return a.cmd == b.cmd && a.target == b.target; }
bool same_value(const socks5::reply& a, const socks5::reply& b) { return a.code == b.code && a.bound == b.bound; }

// The bytes a done value re-encodes to; false when no encoder accepts it.
bool encode(const socks5::greeting& g, std::string& out) { return socks5::encode_greeting(out, g.methods); }
bool encode(bool acceptable, std::string& out) {
  socks5::encode_method_choice(out, acceptable);
  return true;
}
bool encode(const socks5::request& r, std::string& out) { return socks5::encode_request(out, r.cmd, r.target); }
bool encode(const socks5::reply& r, std::string& out) { return socks5::encode_reply(out, r.code, r.bound); }

void check_value(const socks5::greeting& g) {
  const bool has_no_auth = std::find(g.methods.begin(), g.methods.end(), socks5::method_no_auth) != g.methods.end();
  check(g.no_auth_offered == has_no_auth);
}
void check_value(bool) {}
void check_value(const socks5::request& r) {
  check(r.cmd == socks5::command::connect || r.cmd == socks5::command::bind ||
        r.cmd == socks5::command::udp_associate);
}
void check_value(const socks5::reply&) {}

template <class T>
void check_result(const parse_result<T>& r, std::span<const std::byte> in) {
  check(r.consumed <= in.size());
  switch (r.what) {
    case status::need_more:
      check(r.consumed == 0 && r.error.empty());
      break;
    case status::error:
      check(r.consumed == 0 && !r.error.empty());
      break;
    case status::done: {
      check(r.consumed >= 2 && r.error.empty());
      check_value(r.value);
      std::string out;
      check(encode(r.value, out));
      check(out == str(in.first(r.consumed)));
      break;
    }
    default:
      check(false);
  }
}

template <class T>
bool same_result(const parse_result<T>& a, const parse_result<T>& b) {
  return a.what == b.what && a.consumed == b.consumed && a.error == b.error &&
         (a.what != status::done || same_value(a.value, b.value));
}

// input and prefix are separate, exactly sized buffers so that a read past either is caught.
template <class T>
void run(parse_result<T> (*parse)(std::span<const std::byte>), const std::vector<std::byte>& input,
         const std::vector<std::byte>& prefix) {
  const parse_result<T> whole = parse(input);
  check_result(whole, input);
  parse_result<T> split = parse(prefix);
  check_result(split, prefix);
  if (split.what == status::need_more) {
    split = parse(input);
    check_result(split, input);
  }
  check(same_result(split, whole));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::byte> input(size - 1);
  for (std::size_t i = 1; i < size; ++i) input[i - 1] = static_cast<std::byte>(data[i]);
  const std::size_t cut = data[0] % (input.size() + 1);
  const std::vector<std::byte> prefix(input.begin(), input.begin() + static_cast<long>(cut));

  run(socks5::parse_greeting, input, prefix);
  run(socks5::parse_method_choice, input, prefix);
  run(socks5::parse_request, input, prefix);
  run(socks5::parse_reply, input, prefix);
  return 0;
}
