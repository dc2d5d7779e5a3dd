#include "cluster/gossip_codec.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "core/unique_fd.h"

namespace postern::cluster {
namespace {

constexpr std::array<std::byte, 4> magic = {std::byte{'P'}, std::byte{'S'}, std::byte{'T'},
                                            std::byte{'G'}};
constexpr std::uint8_t flag_tagged = 0x01;
constexpr std::uint8_t flag_leaving = 0x02;
constexpr std::uint8_t address_none = 0;
constexpr std::uint8_t address_v4 = 4;
constexpr std::uint8_t address_v6 = 6;

static_assert(gossip_header_bytes == 4 + 1 + 1 + 8 + 8 + 8);

// Bytes of an "addr" field for a, or 0 for a family the format does not carry.
std::size_t address_field_bytes(const net::socket_address& a) noexcept {
  if (a.length == 0) return 1;
  if (a.family() == AF_INET) return 1 + 4 + 2;
  if (a.family() == AF_INET6) return 1 + 16 + 2;
  return 0;
}

bool valid_string(const std::string& s) noexcept {
  return !s.empty() && s.size() <= max_gossip_string_bytes;
}

// Sequential writer over a span that is known (by encoded_size) to be large enough.
class writer {
 public:
  explicit writer(std::span<std::byte> out) noexcept : _out(out) {}

  void u8(std::uint8_t v) noexcept { _out[_at++] = std::byte{v}; }
  void u16(std::uint16_t v) noexcept { be(v, 2); }
  void u32(std::uint32_t v) noexcept { be(v, 4); }
  void u64(std::uint64_t v) noexcept { be(v, 8); }
  void raw(const void* data, std::size_t size) noexcept {
    if (size != 0) std::memcpy(_out.data() + _at, data, size);
    _at += size;
  }
  void str(const std::string& s) noexcept {
    u8(static_cast<std::uint8_t>(s.size()));
    raw(s.data(), s.size());
  }
  void address(const net::socket_address& a) noexcept {
    if (a.length == 0) {
      u8(address_none);
    } else if (a.family() == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
      u8(address_v4);
      raw(&in->sin_addr, 4);
      u16(ntohs(in->sin_port));
    } else {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
      u8(address_v6);
      raw(&in6->sin6_addr, 16);
      u16(ntohs(in6->sin6_port));
    }
  }
  std::size_t size() const noexcept { return _at; }

 private:
  void be(std::uint64_t v, int bytes) noexcept {
    for (int i = bytes - 1; i >= 0; --i) _out[_at++] = static_cast<std::byte>(v >> (8 * i));
  }
  std::span<std::byte> _out;
  std::size_t _at = 0;
};

// Sequential reader: every read checks the remaining length; the first failure sticks.
class reader {
 public:
  explicit reader(std::span<const std::byte> in) noexcept : _in(in) {}

  bool ok() const noexcept { return !_error; }
  gossip_error error() const noexcept { return *_error; }
  bool at_end() const noexcept { return _at == _in.size(); }
  void fail(gossip_error e) noexcept {
    if (!_error) _error = e;
  }

  std::uint8_t u8() noexcept { return static_cast<std::uint8_t>(be(1)); }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(be(2)); }
  std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(be(4)); }
  std::uint64_t u64() noexcept { return be(8); }
  const std::byte* take(std::size_t size) noexcept {
    if (_error || _in.size() - _at < size) {
      fail(gossip_error::truncated);
      return nullptr;
    }
    const std::byte* p = _in.data() + _at;
    _at += size;
    return p;
  }
  // A "str" into out (capacity reused): 1..255 bytes.
  void str(std::string& out) {
    const std::size_t size = u8();
    const std::byte* p = take(size);
    if (!p) return;
    if (size == 0) return fail(gossip_error::malformed);
    out.assign(reinterpret_cast<const char*>(p), size);
  }
  void address(net::socket_address& out) noexcept {
    const std::uint8_t family = u8();
    out = net::socket_address{};
    if (!ok() || family == address_none) return;
    if (family == address_v4) {
      const std::byte* p = take(4);
      const std::uint16_t port = u16();
      if (!ok()) return;
      auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
      in->sin_family = AF_INET;
      std::memcpy(&in->sin_addr, p, 4);
      in->sin_port = htons(port);
      out.length = sizeof(sockaddr_in);
    } else if (family == address_v6) {
      const std::byte* p = take(16);
      const std::uint16_t port = u16();
      if (!ok()) return;
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
      in6->sin6_family = AF_INET6;
      std::memcpy(&in6->sin6_addr, p, 16);
      in6->sin6_port = htons(port);
      out.length = sizeof(sockaddr_in6);
    } else {
      fail(gossip_error::malformed);
    }
  }

 private:
  std::uint64_t be(std::size_t bytes) noexcept {
    const std::byte* p = take(bytes);
    if (!p) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
    return v;
  }
  std::span<const std::byte> _in;
  std::size_t _at = 0;
  std::optional<gossip_error> _error;
};

void decode_body(reader& r, member_state& state) {
  r.str(state.identity);
  r.address(state.address);
  if (r.ok() && state.address.length == 0) r.fail(gossip_error::malformed);
  state.start_time_ms = r.u64();
  state.load = r.u32();
  const std::size_t balance_count = r.u8();
  if (!r.ok()) return;
  if (balance_count > max_balances) return r.fail(gossip_error::malformed);
  state.balances.resize(balance_count);
  for (std::size_t i = 0; i < balance_count && r.ok(); ++i) {
    balance_entry& entry = state.balances[i];
    r.str(entry.balance_uri);
    const std::uint8_t ready = r.u8();
    if (r.ok() && ready > 1) r.fail(gossip_error::malformed);
    entry.ready = ready == 1;
    r.address(entry.backplane);
    const std::size_t accept_count = r.u8();
    if (!r.ok()) return;
    if (accept_count > max_accepts) return r.fail(gossip_error::malformed);
    entry.accept_uris.resize(accept_count);
    for (std::string& accept : entry.accept_uris) r.str(accept);
    for (std::size_t j = 0; j < i && r.ok(); ++j)
      if (state.balances[j].balance_uri == entry.balance_uri) r.fail(gossip_error::malformed);
  }
  if (r.ok() && !r.at_end()) r.fail(gossip_error::malformed);
}

bool is_trailing_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

}  // namespace

std::string_view to_string(gossip_error error) noexcept {
  switch (error) {
    case gossip_error::truncated: return "truncated";
    case gossip_error::oversized: return "oversized";
    case gossip_error::bad_magic: return "bad magic";
    case gossip_error::bad_version: return "bad version";
    case gossip_error::other_cluster: return "other cluster";
    case gossip_error::bad_tag: return "bad tag";
    case gossip_error::unexpected_tag: return "unexpected tag";
    case gossip_error::malformed: return "malformed";
    case gossip_error::invalid_state: return "invalid state";
    case gossip_error::too_large: return "too large";
  }
  return "?";
}

std::uint64_t cluster_name_hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// --- cluster_key --------------------------------------------------------------------------

std::expected<cluster_key, std::string> cluster_key::from_bytes(std::string_view bytes) {
  if (bytes.size() < min_bytes)
    return std::unexpected("the cluster key is " + std::to_string(bytes.size()) +
                           " bytes; at least " + std::to_string(min_bytes) + " are needed");
  if (bytes.size() > max_bytes)
    return std::unexpected("the cluster key is longer than " + std::to_string(max_bytes) + " bytes");
  cluster_key key;
  key._bytes.resize(bytes.size());
  std::memcpy(key._bytes.data(), bytes.data(), bytes.size());
  return key;
}

cluster_key& cluster_key::operator=(cluster_key&& other) noexcept {
  if (this != &other) {
    wipe();
    _bytes = std::move(other._bytes);
  }
  return *this;
}

cluster_key::~cluster_key() { wipe(); }

void cluster_key::wipe() noexcept {
  if (!_bytes.empty()) OPENSSL_cleanse(_bytes.data(), _bytes.size());
}

std::expected<cluster_key, std::string> load_cluster_key(const std::string& path) {
  const std::string name = "key file '" + path + "'";
  // O_NONBLOCK: a FIFO must not block the start-up; it is refused below as not a regular file.
  core::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return std::unexpected(name + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(name + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return std::unexpected(name + " is not a regular file");
  if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::unexpected(name + " can be read or written by group or others (mode " + mode +
                           "); only its owner may (chmod 600)");
  }
  std::string bytes(cluster_key::max_bytes + 1, '\0');
  std::size_t have = 0;
  while (have < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + have, bytes.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return std::unexpected(name + ": cannot read: " + std::strerror(errno));
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  std::size_t size = have;
  if (size > cluster_key::max_bytes) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return std::unexpected(name + " is larger than " + std::to_string(cluster_key::max_bytes) +
                           " bytes: not a key file");
  }
  while (size > 0 && is_trailing_space(bytes[size - 1])) --size;
  auto key = cluster_key::from_bytes(std::string_view(bytes.data(), size));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (!key)
    return std::unexpected(name + " holds " + std::to_string(size) +
                           " bytes once trailing whitespace is stripped; at least " +
                           std::to_string(cluster_key::min_bytes) + " are needed");
  return key;
}

// --- gossip_codec -------------------------------------------------------------------------

void gossip_codec::mac_ctx_free::operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }

gossip_codec::gossip_codec(std::string_view cluster_name, std::optional<cluster_key> key)
    : _cluster_hash(cluster_name_hash(cluster_name)), _key(std::move(key)) {
  if (!_key) return;
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  _mac.reset(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  const auto key_bytes = _key->bytes();
  if (!_mac || EVP_MAC_init(_mac.get(), reinterpret_cast<const unsigned char*>(key_bytes.data()),
                            key_bytes.size(), params) != 1)
    throw std::runtime_error("OpenSSL cannot key HMAC-SHA256");
}

bool gossip_codec::compute_tag(std::span<const std::byte> data,
                               std::span<std::byte, gossip_tag_bytes> tag) {
  // A null key re-initialises the context with the key set in the constructor.
  std::size_t size = 0;
  return EVP_MAC_init(_mac.get(), nullptr, 0, nullptr) == 1 &&
         EVP_MAC_update(_mac.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
         EVP_MAC_final(_mac.get(), reinterpret_cast<unsigned char*>(tag.data()), &size, tag.size()) == 1 &&
         size == gossip_tag_bytes;
}

std::expected<std::size_t, gossip_error> gossip_codec::encoded_size(const member_state& state) const noexcept {
  if (!valid_string(state.identity) || state.address.length == 0) return std::unexpected(gossip_error::invalid_state);
  std::size_t size = gossip_header_bytes + 1 + state.identity.size();
  const std::size_t own_address = address_field_bytes(state.address);
  if (own_address == 0) return std::unexpected(gossip_error::invalid_state);
  size += own_address + 8 + 4 + 1;
  if (state.balances.size() > max_balances) return std::unexpected(gossip_error::invalid_state);
  for (std::size_t i = 0; i < state.balances.size(); ++i) {
    const balance_entry& entry = state.balances[i];
    const std::size_t backplane = address_field_bytes(entry.backplane);
    if (!valid_string(entry.balance_uri) || backplane == 0 || entry.accept_uris.size() > max_accepts)
      return std::unexpected(gossip_error::invalid_state);
    for (std::size_t j = 0; j < i; ++j)
      if (state.balances[j].balance_uri == entry.balance_uri) return std::unexpected(gossip_error::invalid_state);
    size += 1 + entry.balance_uri.size() + 1 + backplane + 1;
    for (const std::string& accept : entry.accept_uris) {
      if (!valid_string(accept)) return std::unexpected(gossip_error::invalid_state);
      size += 1 + accept.size();
    }
  }
  if (keyed()) size += gossip_tag_bytes;
  if (size > max_datagram_bytes) return std::unexpected(gossip_error::too_large);
  return size;
}

std::expected<std::size_t, gossip_error> gossip_codec::encode(const member_state& state, std::uint64_t sequence,
                                                              std::span<std::byte> out) {
  const auto size = encoded_size(state);
  if (!size) return size;
  if (out.size() < *size) return std::unexpected(gossip_error::too_large);
  writer w(out);
  w.raw(magic.data(), magic.size());
  w.u8(gossip_version);
  w.u8(static_cast<std::uint8_t>((keyed() ? flag_tagged : 0) | (state.leaving ? flag_leaving : 0)));
  w.u64(_cluster_hash);
  w.u64(state.incarnation);
  w.u64(sequence);
  w.str(state.identity);
  w.address(state.address);
  w.u64(state.start_time_ms);
  w.u32(state.load);
  w.u8(static_cast<std::uint8_t>(state.balances.size()));
  for (const balance_entry& entry : state.balances) {
    w.str(entry.balance_uri);
    w.u8(entry.ready ? 1 : 0);
    w.address(entry.backplane);
    w.u8(static_cast<std::uint8_t>(entry.accept_uris.size()));
    for (const std::string& accept : entry.accept_uris) w.str(accept);
  }
  if (keyed()) {
    const std::size_t body = w.size();
    if (!compute_tag(out.first(body), out.subspan(body).first<gossip_tag_bytes>()))
      return std::unexpected(gossip_error::invalid_state);
    return body + gossip_tag_bytes;
  }
  return w.size();
}

std::expected<void, gossip_error> gossip_codec::decode(std::span<const std::byte> in, gossip_datagram& out) {
  if (in.size() > max_datagram_bytes) return std::unexpected(gossip_error::oversized);
  const std::size_t tag_bytes = keyed() ? gossip_tag_bytes : 0;
  if (in.size() < gossip_header_bytes + tag_bytes) return std::unexpected(gossip_error::truncated);
  if (keyed()) {
    // Nothing unauthenticated is interpreted: the tag comes first.
    const std::size_t body = in.size() - gossip_tag_bytes;
    std::array<std::byte, gossip_tag_bytes> expected_tag;
    if (!compute_tag(in.first(body), expected_tag) ||
        CRYPTO_memcmp(expected_tag.data(), in.data() + body, gossip_tag_bytes) != 0)
      return std::unexpected(gossip_error::bad_tag);
    in = in.first(body);
  }
  reader r(in);
  const std::byte* m = r.take(magic.size());
  if (!m || std::memcmp(m, magic.data(), magic.size()) != 0) return std::unexpected(gossip_error::bad_magic);
  if (r.u8() != gossip_version) return std::unexpected(gossip_error::bad_version);
  const std::uint8_t flags = r.u8();
  if (r.u64() != _cluster_hash) return std::unexpected(gossip_error::other_cluster);
  if ((flags & flag_tagged) != 0 && !keyed()) return std::unexpected(gossip_error::unexpected_tag);
  // A keyed codec verified a tag, so the sender set flag_tagged; a clear bit is a bug or forgery.
  if ((flags & flag_tagged) == 0 && keyed()) return std::unexpected(gossip_error::malformed);
  if ((flags & ~(flag_tagged | flag_leaving)) != 0) return std::unexpected(gossip_error::malformed);
  out.state.leaving = (flags & flag_leaving) != 0;
  out.state.incarnation = r.u64();
  out.sequence = r.u64();
  decode_body(r, out.state);
  if (!r.ok()) return std::unexpected(r.error());
  return {};
}

// --- replay_window ------------------------------------------------------------------------

replay_window::verdict replay_window::accept(std::uint64_t incarnation, std::uint64_t sequence) noexcept {
  if (!_seen || incarnation > _incarnation) {
    _seen = true;
    _incarnation = incarnation;
    _highest = sequence;
    _bitmap = 1;
    return verdict::newest;
  }
  if (incarnation < _incarnation) return verdict::old_incarnation;
  if (sequence > _highest) {
    const std::uint64_t shift = sequence - _highest;
    _bitmap = shift >= window_size ? 1 : (_bitmap << shift) | 1;
    _highest = sequence;
    return verdict::newest;
  }
  const std::uint64_t behind = _highest - sequence;
  if (behind >= window_size) return verdict::too_old;
  const std::uint64_t bit = std::uint64_t{1} << behind;
  if ((_bitmap & bit) != 0) return verdict::replayed;
  _bitmap |= bit;
  return verdict::out_of_order;
}

std::string_view to_string(replay_window::verdict verdict) noexcept {
  switch (verdict) {
    case replay_window::verdict::newest: return "newest";
    case replay_window::verdict::out_of_order: return "out of order";
    case replay_window::verdict::replayed: return "replayed";
    case replay_window::verdict::too_old: return "too old";
    case replay_window::verdict::old_incarnation: return "old incarnation";
  }
  return "?";
}

}  // namespace postern::cluster
