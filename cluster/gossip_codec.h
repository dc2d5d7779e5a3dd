// gossip_codec: the cluster heartbeat datagram, its HMAC-SHA256 tag, the cluster key file and
// the per-sender replay window. Pure: no socket, no clock, no logging.
//
// Wire format, version 1 (integers big-endian; "str" is a 1-byte length 1..255 then the bytes;
// "addr" is a family byte 4 or 6 then 4 or 16 address bytes and a 2-byte port, or the family
// byte 0 alone for "no address"):
//    0  4  magic "PSTG"
//    4  1  version 1
//    5  1  flags: bit 0 tagged, bit 1 leaving; the other bits are 0
//    6  8  cluster name hash (cluster_name_hash)
//   14  8  incarnation
//   22  8  sequence
//   30     str sender identity, addr sender address (never 0)
//          8 start time ms, 4 load, 1 balance count (0..max_balances), then per balance:
//            str balance URI, 1 ready (0 or 1), addr backplane,
//            1 accept count (0..max_accepts), str accept URI per accept
//   end    32-byte tag: HMAC-SHA256 under the cluster key of every byte before it (tagged only)
// A datagram is at most max_datagram_bytes (fits one Ethernet frame with IP/UDP headers).
//
// The sender identity and incarnation are the state's own: a datagram carries its sender's own
// state, so a seed can forward a member's datagram verbatim and the receiver still checks the
// member's own tag and sequence.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/member_state.h"

namespace postern::cluster {

inline constexpr std::size_t max_datagram_bytes = 1400;
inline constexpr std::size_t gossip_header_bytes = 30;
inline constexpr std::size_t gossip_tag_bytes = 32;
inline constexpr std::size_t max_gossip_string_bytes = 255;
inline constexpr std::size_t max_balances = 32;
inline constexpr std::size_t max_accepts = 16;
inline constexpr std::uint8_t gossip_version = 1;

enum class gossip_error : std::uint8_t {
  truncated,       // decode: fewer bytes than the fields announce
  oversized,       // decode: more than max_datagram_bytes
  bad_magic,       // decode: not a postern gossip datagram
  bad_version,     // decode: another version of the format
  other_cluster,   // decode: a cluster with another name shares the group or port
  bad_tag,         // decode, keyed codec: the tag is missing or wrong (forged, corrupted, other key)
  unexpected_tag,  // decode, keyless codec: a tagged datagram (its sender has a key; we do not)
  malformed,       // decode: a field out of its bounds, an empty string, a duplicate balance
                   // URI, an unknown flag bit, or bytes after the last field
  invalid_state,   // encode: the state breaks a limit above (empty identity, a string over 255
                   // bytes, too many balances or accepts, a duplicate balance URI, an address
                   // neither IPv4 nor IPv6), or OpenSSL failed to compute the tag
  too_large,       // encode: the state does not fit in max_datagram_bytes (or in `out`)
};
std::string_view to_string(gossip_error error) noexcept;

// FNV-1a 64 of the cluster <name>: tells clusters apart, not a secret.
std::uint64_t cluster_name_hash(std::string_view name) noexcept;

// The cluster key: at least min_bytes secret bytes, wiped from memory when destroyed.
class cluster_key {
 public:
  static constexpr std::size_t min_bytes = 32;
  static constexpr std::size_t max_bytes = 4096;

  // bytes must hold min_bytes to max_bytes bytes; otherwise the error names the rule.
  static std::expected<cluster_key, std::string> from_bytes(std::string_view bytes);

  cluster_key(cluster_key&& other) noexcept = default;
  cluster_key& operator=(cluster_key&& other) noexcept;
  cluster_key(const cluster_key&) = delete;
  cluster_key& operator=(const cluster_key&) = delete;
  ~cluster_key();

  std::span<const std::byte> bytes() const noexcept { return _bytes; }

 private:
  cluster_key() = default;
  void wipe() noexcept;
  std::vector<std::byte> _bytes;
};

// Reads <key-file> at start-up (cold code). The key is the file's bytes with trailing
// whitespace (space, tab, CR, LF, VT, FF) stripped. Refused, with a sentence naming the file:
// a file that cannot be opened, is not a regular file, is readable or writable by group or
// others (only the owner may see or change the key), is larger than cluster_key::max_bytes,
// or holds fewer than cluster_key::min_bytes bytes once stripped.
std::expected<cluster_key, std::string> load_cluster_key(const std::string& path);

// A decoded datagram. sequence orders the sender's datagrams within one incarnation.
struct gossip_datagram {
  std::uint64_t sequence = 0;
  member_state state;
};

// Encoder and decoder for one cluster. With a key every datagram is tagged and only datagrams
// with a valid tag decode; without a key (a cluster with no <key-file>) datagrams carry no tag
// and only untagged ones decode. Holds an HMAC context keyed once (no key set-up per
// datagram); OpenSSL 3's digest provider still makes two small allocations per tag, which is
// fine at heartbeat rates (this is not a per-client-message path). One codec per thread
// (reactor 0). Move-only; a moved-from codec must not be used.
class gossip_codec {
 public:
  // Throws std::runtime_error only when OpenSSL cannot provide HMAC-SHA256 (start-up).
  gossip_codec(std::string_view cluster_name, std::optional<cluster_key> key);
  gossip_codec(gossip_codec&&) noexcept = default;
  gossip_codec& operator=(gossip_codec&&) noexcept = default;
  ~gossip_codec() = default;

  bool keyed() const noexcept { return _key.has_value(); }
  std::uint64_t cluster_hash() const noexcept { return _cluster_hash; }

  // The bytes encode(state, ...) would write, or invalid_state / too_large. Depends only on
  // the strings and counts of the state, so a start-up check with the configured balances
  // tells whether every later heartbeat fits.
  std::expected<std::size_t, gossip_error> encoded_size(const member_state& state) const noexcept;

  // Writes the datagram for state with this sequence into out and returns its size. On
  // invalid_state or too_large (including an `out` smaller than the datagram) nothing useful
  // is written. Allocates nothing itself (see the class comment for the tag).
  std::expected<std::size_t, gossip_error> encode(const member_state& state, std::uint64_t sequence,
                                                  std::span<std::byte> out);

  // Decodes in into out. Total: every input gives ok or one error. With a key the tag is
  // checked before any other field is read. On error out holds unspecified values and the
  // caller must not use it; out is scratch whose capacity is reused, so decoding into the same
  // object again allocates nothing itself once it has seen datagrams of that size.
  std::expected<void, gossip_error> decode(std::span<const std::byte> in, gossip_datagram& out);

 private:
  struct mac_ctx_free {
    void operator()(EVP_MAC_CTX* ctx) const noexcept;
  };
  // HMAC-SHA256 of data under the key into tag. False if OpenSSL fails.
  bool compute_tag(std::span<const std::byte> data, std::span<std::byte, gossip_tag_bytes> tag);

  std::uint64_t _cluster_hash;
  std::optional<cluster_key> _key;
  std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> _mac;  // keyed once; re-initialised per tag
};

// The replay filter of one sender (RFC 4303 §3.4.3 style): the highest sequence accepted in
// the sender's current incarnation and a 64-entry bitmap of the sequences just below it. Feed
// it only datagrams whose tag has been checked.
class replay_window {
 public:
  static constexpr std::uint64_t window_size = 64;

  enum class verdict : std::uint8_t {
    newest,          // accepted: the highest sequence so far (or a new incarnation)
    out_of_order,    // accepted: below the highest, inside the window, not seen before
    replayed,        // dropped: this sequence was accepted before
    too_old,         // dropped: window_size or more below the highest
    old_incarnation, // dropped: the sender has since restarted
  };

  // Records (incarnation, sequence) when accepted. A higher incarnation than any seen resets
  // the window to that incarnation with this sequence as its highest.
  verdict accept(std::uint64_t incarnation, std::uint64_t sequence) noexcept;

  bool empty() const noexcept { return !_seen; }
  std::uint64_t incarnation() const noexcept { return _incarnation; }
  std::uint64_t highest() const noexcept { return _highest; }

 private:
  bool _seen = false;
  std::uint64_t _incarnation = 0;
  std::uint64_t _highest = 0;
  std::uint64_t _bitmap = 0;  // bit i: sequence _highest - i was accepted
};
std::string_view to_string(replay_window::verdict verdict) noexcept;

}  // namespace postern::cluster
