// libFuzzer target for the gossip datagram codec and the replay window (cluster/gossip_codec.h).
//
// Input: byte 0 picks the mode.
//   Even: datagrams. The rest is records, each a 2-byte big-endian length (low 11 bits) and that
//   many bytes (the last record takes what is left). Each record is checked three ways, every
//   decoder writing into one gossip_datagram per codec kept across records (the "scratch
//   whose capacity is reused" of decode(), so stale fields from an earlier datagram show):
//     1. a keyless codec decodes the record: decode is total; on success the datagram
//        re-encodes (same codec, same sequence) to exactly the record's bytes, and
//        encoded_size says that size;
//     2. a keyed codec decodes the record: it succeeds only when the last 32 bytes are the
//        HMAC-SHA256 of the rest under the key, computed here with OpenSSL's one-shot HMAC()
//        rather than the codec (so garbage never decodes as authenticated); a record that
//        fits the size limits and has a wrong tag gives bad_tag; success re-encodes exactly;
//     3. the record with the tagged flag set, signed here and decoded by the keyed codec, gives
//        the same result (the same datagram, or the same error) as the record with the flag
//        clear decoded by the keyless codec: the tag changes nothing else of the format.
//     Every datagram accepted in 3 goes to a replay_window, checked as in the odd mode.
//   Odd: replay window. The rest is 3-byte operations (incarnation, sequence) fed to one
//   replay_window and to a plain model of RFC 4303 §3.4.3 (the set of accepted sequences of
//   the current incarnation): verdicts, highest(), incarnation() and empty() must agree.
//
// Seeds: POSTERN_GOSSIP_WRITE_SEEDS=DIR ./gossip_fuzz writes encoder-made seed inputs to DIR
// and exits (tests/fuzz/corpus/gossip holds its output).
//
// Build and run (clang 14; tests/fuzz/compat supplies <expected>, see its header comment):
//   clang++-14 -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -isystem tests/fuzz/compat -I. tests/fuzz/gossip_fuzz.cc cluster/gossip_codec.cc \
//     net/address.cc -o gossip_fuzz -lcrypto && ./gossip_fuzz -max_total_time=30 tests/fuzz/corpus/gossip
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/gossip_codec.h"

namespace {

namespace cluster = postern::cluster;
using cluster::gossip_error;
using cluster::replay_window;

constexpr std::string_view cluster_name = "fuzz-cluster";
constexpr std::string_view key_text = "0123456789abcdef0123456789abcdef-fuzz-key";
constexpr std::size_t flags_offset = 5;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "gossip_fuzz: %s\n", what);
  __builtin_trap();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

cluster::gossip_codec& keyless_codec() {
  static cluster::gossip_codec codec(cluster_name, std::nullopt);
  return codec;
}

cluster::gossip_codec& keyed_codec() {
  static cluster::gossip_codec codec(cluster_name, cluster::cluster_key::from_bytes(key_text).value());
  return codec;
}

using bytes = std::vector<std::byte>;

// HMAC-SHA256 of data under the fuzz key, independently of the codec.
std::array<std::byte, cluster::gossip_tag_bytes> reference_tag(std::span<const std::byte> data) {
  std::array<std::byte, cluster::gossip_tag_bytes> tag{};
  unsigned size = 0;
  const unsigned char* ok =
      HMAC(EVP_sha256(), key_text.data(), static_cast<int>(key_text.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(tag.data()), &size);
  check(ok != nullptr && size == tag.size(), "OpenSSL HMAC failed");
  return tag;
}

bytes signed_copy(std::span<const std::byte> body) {
  bytes out(body.begin(), body.end());
  const auto tag = reference_tag(body);
  out.insert(out.end(), tag.begin(), tag.end());
  return out;
}

// A successful decode re-encodes to exactly the decoded bytes.
void check_reencodes(cluster::gossip_codec& codec, const cluster::gossip_datagram& d, std::span<const std::byte> in) {
  const auto size = codec.encoded_size(d.state);
  check(size.has_value() && *size == in.size(), "encoded_size of a decoded datagram differs from its size");
  // An exactly sized heap buffer, so that a write past the datagram is caught.
  bytes out(in.size());
  const auto written = codec.encode(d.state, d.sequence, out);
  check(written.has_value() && *written == in.size(), "a decoded datagram does not re-encode");
  check(std::memcmp(out.data(), in.data(), in.size()) == 0, "a decoded datagram re-encodes to other bytes");
}

bool known_error(gossip_error e) {
  switch (e) {
    case gossip_error::truncated:
    case gossip_error::oversized:
    case gossip_error::bad_magic:
    case gossip_error::bad_version:
    case gossip_error::other_cluster:
    case gossip_error::bad_tag:
    case gossip_error::unexpected_tag:
    case gossip_error::malformed:
      return true;
    case gossip_error::invalid_state:
    case gossip_error::too_large:
      return false;  // encoder errors
  }
  return false;
}

// The replay window beside its model: verdicts and accessors must agree.
class replay_checker {
 public:
  void accept(std::uint64_t incarnation, std::uint64_t sequence) {
    const replay_window::verdict got = _window.accept(incarnation, sequence);
    check(got == model(incarnation, sequence), "replay_window verdict differs from the model");
    check(!_window.empty() && _window.incarnation() == _incarnation && _window.highest() == _highest,
          "replay_window state differs from the model");
  }

 private:
  replay_window::verdict model(std::uint64_t incarnation, std::uint64_t sequence) {
    using verdict = replay_window::verdict;
    if (!_seen || incarnation > _incarnation) {
      _seen = true;
      _incarnation = incarnation;
      _highest = sequence;
      _accepted = {sequence};
      return verdict::newest;
    }
    if (incarnation < _incarnation) return verdict::old_incarnation;
    if (sequence > _highest) {
      _highest = sequence;
      _accepted.insert(sequence);
      return verdict::newest;
    }
    if (_highest - sequence >= replay_window::window_size) return verdict::too_old;
    if (!_accepted.insert(sequence).second) return verdict::replayed;
    return verdict::out_of_order;
  }

  replay_window _window;
  bool _seen = false;
  std::uint64_t _incarnation = 0;
  std::uint64_t _highest = 0;
  std::set<std::uint64_t> _accepted;
};

void check_record(std::span<const std::byte> record, replay_checker& replay) {
  static cluster::gossip_datagram keyless_out;
  static cluster::gossip_datagram keyed_out;
  static cluster::gossip_datagram signed_out;

  // 1. Keyless.
  const auto plain = keyless_codec().decode(record, keyless_out);
  if (plain) {
    check_reencodes(keyless_codec(), keyless_out, record);
  } else {
    check(known_error(plain.error()), "keyless decode gave an encoder error");
  }

  // 2. Keyed, the record as it is.
  const auto keyed = keyed_codec().decode(record, keyed_out);
  const bool tag_fits = record.size() >= cluster::gossip_header_bytes + cluster::gossip_tag_bytes &&
                        record.size() <= cluster::max_datagram_bytes;
  bool tag_ok = false;
  if (tag_fits) {
    const std::size_t body = record.size() - cluster::gossip_tag_bytes;
    const auto tag = reference_tag(record.first(body));
    tag_ok = std::memcmp(tag.data(), record.data() + body, tag.size()) == 0;
  }
  if (keyed) {
    check(tag_ok, "the keyed codec accepted a datagram without a valid tag");
    check_reencodes(keyed_codec(), keyed_out, record);
  } else {
    check(known_error(keyed.error()) && keyed.error() != gossip_error::unexpected_tag,
          "keyed decode gave an impossible error");
    if (tag_fits && !tag_ok) check(keyed.error() == gossip_error::bad_tag, "a wrong tag is not reported as bad_tag");
  }

  // 3. The same body signed, against the keyless result of the body with the flag clear.
  if (record.size() <= flags_offset || record.size() + cluster::gossip_tag_bytes > cluster::max_datagram_bytes) return;
  bytes clear(record.begin(), record.end());
  clear[flags_offset] &= std::byte{0xFE};
  bytes tagged = clear;
  tagged[flags_offset] |= std::byte{0x01};
  tagged = signed_copy(tagged);
  const auto a = keyless_codec().decode(clear, keyless_out);
  const auto b = keyed_codec().decode(tagged, signed_out);
  check(a.has_value() == b.has_value(), "keyless and keyed decoders disagree on a body");
  if (!b) {
    check(a.error() == b.error(), "keyless and keyed decoders give different errors for a body");
    return;
  }
  check(keyless_out.sequence == signed_out.sequence && keyless_out.state == signed_out.state,
        "keyless and keyed decoders give different datagrams for a body");
  check_reencodes(keyless_codec(), keyless_out, clear);
  check_reencodes(keyed_codec(), signed_out, tagged);
  replay.accept(signed_out.state.incarnation, signed_out.sequence);
}

void run_datagrams(std::span<const std::byte> in) {
  replay_checker replay;
  while (!in.empty()) {
    std::size_t size = in.size();
    if (in.size() >= 2) {
      size = ((std::to_integer<std::size_t>(in[0]) << 8) | std::to_integer<std::size_t>(in[1])) & 0x7FF;
      in = in.subspan(2);
      size = std::min(size, in.size());
    } else {
      in = {};  // a single trailing byte is no record
      size = 0;
    }
    // Each record in its own exactly sized buffer, so that a read past it is caught.
    const bytes record(in.begin(), in.begin() + static_cast<long>(size));
    check_record(record, replay);
    in = in.subspan(size);
  }
}

// Operation bytes a, b, c: incarnation a & 3 (3 means the largest), sequence b:c, moved near
// the top of the range when a's bit 2 is set, so that shifts by 64 and more and the wrap-free
// arithmetic near 2^64 are reached.
void run_replay(std::span<const std::byte> in) {
  replay_checker replay;
  for (; in.size() >= 3; in = in.subspan(3)) {
    const auto a = std::to_integer<std::uint8_t>(in[0]);
    const auto b = std::to_integer<std::uint64_t>(in[1]);
    const auto c = std::to_integer<std::uint64_t>(in[2]);
    const std::uint64_t incarnation = (a & 3) == 3 ? UINT64_MAX : (a & 3);
    std::uint64_t sequence = (b << 8) | c;
    if ((a & 4) != 0) sequence = UINT64_MAX - sequence;
    replay.accept(incarnation, sequence);
  }
}

// --- seed writer (POSTERN_GOSSIP_WRITE_SEEDS) ---------------------------------------------

postern::net::socket_address v4(const char* ip, std::uint16_t port) {
  postern::net::socket_address a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  inet_pton(AF_INET, ip, &in->sin_addr);
  a.length = sizeof(sockaddr_in);
  return a;
}

postern::net::socket_address v6(const char* ip, std::uint16_t port) {
  postern::net::socket_address a;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &in6->sin6_addr);
  a.length = sizeof(sockaddr_in6);
  return a;
}

void append_record(bytes& out, cluster::gossip_codec& codec, const cluster::member_state& state,
                   std::uint64_t sequence) {
  std::array<std::byte, cluster::max_datagram_bytes> buffer{};
  const auto size = codec.encode(state, sequence, buffer);
  if (!size) fail("seed state does not encode");
  out.push_back(static_cast<std::byte>(*size >> 8));
  out.push_back(static_cast<std::byte>(*size & 0xFF));
  out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<long>(*size));
}

void write_file(const std::string& dir, const std::string& name, const bytes& content) {
  std::ofstream file(dir + "/" + name, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
  if (!file) fail("cannot write a seed file");
}

void write_seeds(const std::string& dir) {
  cluster::member_state minimal;
  minimal.identity = "tcp://127.0.1.1:5941";
  minimal.address = v4("127.0.1.1", 5941);
  minimal.incarnation = 1700000000000;
  minimal.start_time_ms = 1700000000000;

  cluster::member_state full = minimal;
  full.identity = "tcp://[::1]:5942";
  full.address = v6("::1", 5942);
  full.load = 1234;
  full.balances.push_back({"wss://gateway.example.com:8443/app1",
                           {"wss://gw1.example.com:8443/app1", "wss://[2001:db8::1]:8443/app1"},
                           v4("127.0.1.1", 8443), true});
  full.balances.push_back({"wss://gateway.example.com:8443/app2", {}, {}, false});
  full.balances.push_back({"tcp://gateway.example.com:9000", {"tcp://gw1.example.com:9000"},
                           v6("2001:db8::2", 9000), true});

  cluster::member_state leaving = minimal;
  leaving.leaving = true;

  auto& plain = keyless_codec();
  auto& keyed = keyed_codec();
  const std::byte datagrams{0};
  {
    bytes seed{datagrams};
    append_record(seed, plain, minimal, 1);
    write_file(dir, "keyless-minimal", seed);
  }
  {
    bytes seed{datagrams};
    append_record(seed, plain, full, 7);
    append_record(seed, plain, leaving, 8);
    write_file(dir, "keyless-full-then-leaving", seed);
  }
  {
    bytes seed{datagrams};
    append_record(seed, keyed, minimal, 1);
    write_file(dir, "keyed-minimal", seed);
  }
  {
    bytes seed{datagrams};
    append_record(seed, keyed, full, 42);
    append_record(seed, keyed, full, 41);
    append_record(seed, keyed, full, 42);
    append_record(seed, keyed, leaving, 43);
    write_file(dir, "keyed-full-reordered-replayed", seed);
  }
  // Replay operations: in order, a gap of 70, a replay, a restart, an old incarnation, the top.
  write_file(dir, "replay-ops",
             bytes{std::byte{1}, std::byte{1}, std::byte{0}, std::byte{1}, std::byte{1}, std::byte{0}, std::byte{2},
                   std::byte{1}, std::byte{0}, std::byte{70}, std::byte{1}, std::byte{0}, std::byte{3},
                   std::byte{1}, std::byte{0}, std::byte{70}, std::byte{2}, std::byte{0}, std::byte{1},
                   std::byte{1}, std::byte{0}, std::byte{9}, std::byte{6}, std::byte{0}, std::byte{0},
                   std::byte{6}, std::byte{0}, std::byte{64}, std::byte{6}, std::byte{0}, std::byte{63}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("POSTERN_GOSSIP_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    run_datagrams(rest);
  } else {
    run_replay(rest);
  }
  return 0;
}
