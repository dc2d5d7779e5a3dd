// options: postern-load's command line, parsed by a pure function (no I/O, no name resolution)
// into one validated load_options. Errors are one sentence naming the option and the problem.
//
// Header-only: the unit-test binary links libpostern.a and its tests only, not bench/load/.
#pragma once

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "net/uri.h"

namespace postern::load {

inline constexpr std::string_view load_usage =
    "usage: postern-load --url ws://host:port/path|wss://host:port/path|tcp://host:port [options]\n"
    "  --connections N       connections to open (default 100)\n"
    "  --in-flight K         messages in flight per connection (default 1); with --rate, the cap\n"
    "  --size BYTES          message size, at least 16 (default 64; suffixes k, KiB, m, MiB)\n"
    "  --duration D          measured window (default 10s; units ms, s, m; a bare number is seconds)\n"
    "  --warmup D            traffic before the window, not measured (default 2s; not with --hold)\n"
    "  --rate R              open loop: R messages per second over all connections\n"
    "                        (default: closed loop, each echo sends the next message)\n"
    "  --threads T           reactor threads (default 1); connections are spread over them\n"
    "  --cpus LIST           pin reactor i to LIST[i % size], as 0,2-3 (default: the affinity mask)\n"
    "  --text                text frames instead of binary (ws, wss)\n"
    "  --ca FILE             PEM CA bundle that verifies the server (wss: required)\n"
    "  --source-addresses A  comma list of local addresses to spread connections over\n"
    "  --hold                upgrade, then hold the connections idle for --duration; report how\n"
    "                        many stay open\n"
    "  --json                print one JSON object instead of the summary\n"
    "  --help                this text\n";

struct load_options {
  std::string url;                     // as given
  net::uri target;                     // ws, wss or tcp
  unsigned connections = 100;
  unsigned in_flight = 1;              // closed loop: kept in flight; open loop: the cap
  std::size_t size_bytes = 64;
  std::uint64_t duration_ms = 10000;
  std::uint64_t warmup_ms = 2000;
  double rate_per_s = 0;               // 0: closed loop
  unsigned threads = 1;
  std::vector<int> cpus;               // empty: the affinity mask in order
  bool text = false;
  std::string ca_file;
  bool json = false;
  std::vector<std::string> source_addresses;  // IP literals, as given
  bool hold = false;
  bool help = false;                   // --help: nothing else was checked

  bool open_loop() const noexcept { return rate_per_s > 0; }
  bool websocket() const noexcept {
    return target.scheme == net::uri_scheme::ws || target.scheme == net::uri_scheme::wss;
  }
};

namespace detail {

inline std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

inline std::expected<std::uint64_t, std::string> parse_count(std::string_view option, std::string_view text,
                                                             std::uint64_t min, std::uint64_t max) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    return std::unexpected(std::string(option) + ": " + quoted(text) + " is not a whole number from " +
                           std::to_string(min) + " to " + std::to_string(max));
  return value;
}

// A non-negative decimal number followed by a suffix; the suffix is returned in suffix.
inline bool parse_number(std::string_view text, double& value, std::string_view& suffix) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec != std::errc() || !std::isfinite(value)) return false;
  suffix = text.substr(static_cast<std::size_t>(end - text.data()));
  return true;
}

}  // namespace detail

// "10s", "500ms", "2m", "1.5s", "10" (seconds). At most one day.
inline std::expected<std::uint64_t, std::string> parse_duration_ms(std::string_view option, std::string_view text) {
  double value = 0;
  std::string_view unit;
  double scale = 0;
  if (detail::parse_number(text, value, unit)) {
    if (unit == "ms") scale = 1;
    else if (unit.empty() || unit == "s") scale = 1000;
    else if (unit == "m" || unit == "min") scale = 60000;
  }
  const double ms = std::round(value * scale);
  if (scale == 0 || ms > 86'400'000.0)
    return std::unexpected(std::string(option) + ": " + detail::quoted(text) +
                           " is not a duration such as 10s, 500ms or 2m (at most one day)");
  return static_cast<std::uint64_t>(ms);
}

// "64", "4k", "4KiB", "1m", "1MiB". From 16 bytes to 64 MiB.
inline std::expected<std::size_t, std::string> parse_size_bytes(std::string_view option, std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit.empty()) scale = 1;
  else if (unit == "k" || unit == "K" || unit == "KiB") scale = 1024;
  else if (unit == "m" || unit == "M" || unit == "MiB") scale = 1024 * 1024;
  constexpr std::uint64_t max_bytes = 64u << 20;
  const auto number = detail::parse_count(option, text.substr(0, digits), 0, max_bytes);
  if (scale == 0 || !number || *number * scale < 16 || *number * scale > max_bytes)
    return std::unexpected(std::string(option) + ": " + detail::quoted(text) +
                           " is not a size from 16 bytes to 64 MiB (such as 64, 4k or 1MiB)");
  return static_cast<std::size_t>(*number * scale);
}

// "0", "0,2", "1-3,6". Each CPU below 65536; ranges ascending.
inline std::expected<std::vector<int>, std::string> parse_cpu_list(std::string_view option, std::string_view text) {
  std::vector<int> cpus;
  const std::string_view whole = text;
  const auto bad = [&] {
    return std::unexpected(std::string(option) + ": " + detail::quoted(whole) +
                           " is not a CPU list such as 0,2-3");
  };
  if (text.empty()) return bad();
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const std::size_t dash = item.find('-');
    const auto first = detail::parse_count(option, item.substr(0, dash), 0, 65535);
    const auto last = dash == std::string_view::npos ? first : detail::parse_count(option, item.substr(dash + 1), 0, 65535);
    if (!first || !last || *last < *first) return bad();
    for (std::uint64_t cpu = *first; cpu <= *last; ++cpu) cpus.push_back(static_cast<int>(cpu));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return cpus;
}

// "127.0.0.2,127.0.0.3" or IPv6 literals: each must be an IP literal (no names: they are bound).
inline std::expected<std::vector<std::string>, std::string> parse_address_list(std::string_view option,
                                                                              std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const std::size_t comma = text.find(',');
    std::string item(text.substr(0, comma));
    unsigned char scratch[sizeof(in6_addr)];
    if (inet_pton(AF_INET, item.c_str(), scratch) != 1 && inet_pton(AF_INET6, item.c_str(), scratch) != 1)
      return std::unexpected(std::string(option) + ": " + detail::quoted(item) +
                             " is not an IPv4 or IPv6 address literal");
    out.push_back(std::move(item));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// Parses the arguments after the program name. "--name value" and "--name=value" both work; a
// repeated option keeps its last value.
inline std::expected<load_options, std::string> parse_load_options(std::span<const std::string_view> args) {
  load_options o;
  bool have_url = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::string_view value;
    bool inline_value = false;
    if (const std::size_t eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const bool flag = name == "--text" || name == "--json" || name == "--hold" || name == "--help" || name == "-h";
    if (flag) {
      if (inline_value) return std::unexpected(std::string(name) + " takes no value");
      if (name == "--text") o.text = true;
      else if (name == "--json") o.json = true;
      else if (name == "--hold") o.hold = true;
      else o.help = true;
      continue;
    }
    static constexpr std::string_view valued[] = {"--url", "--connections", "--in-flight", "--size",
                                                  "--duration", "--warmup", "--rate", "--threads",
                                                  "--cpus", "--ca", "--source-addresses"};
    bool known = false;
    for (std::string_view v : valued) known = known || v == name;
    if (!known) return std::unexpected("unknown option " + detail::quoted(name));
    if (!inline_value) {
      if (i + 1 >= args.size()) return std::unexpected(std::string(name) + " needs a value");
      value = args[++i];
    }
    if (name == "--url") {
      auto parsed = net::parse_uri(value);
      if (!parsed) return std::unexpected("--url: " + parsed.error());
      o.url = std::string(value);
      o.target = std::move(*parsed);
      have_url = true;
    } else if (name == "--connections" || name == "--in-flight" || name == "--threads") {
      const std::uint64_t max = name == "--connections" ? 1'000'000 : name == "--in-flight" ? 65'536 : 1024;
      const auto n = detail::parse_count(name, value, 1, max);
      if (!n) return std::unexpected(n.error());
      (name == "--connections" ? o.connections : name == "--in-flight" ? o.in_flight : o.threads) =
          static_cast<unsigned>(*n);
    } else if (name == "--size") {
      const auto n = parse_size_bytes(name, value);
      if (!n) return std::unexpected(n.error());
      o.size_bytes = *n;
    } else if (name == "--duration" || name == "--warmup") {
      const auto ms = parse_duration_ms(name, value);
      if (!ms) return std::unexpected(ms.error());
      (name == "--duration" ? o.duration_ms : o.warmup_ms) = *ms;
    } else if (name == "--rate") {
      double rate = 0;
      std::string_view rest;
      if (!detail::parse_number(value, rate, rest) || !rest.empty() || rate <= 0 || rate > 1e9)
        return std::unexpected("--rate: " + detail::quoted(value) +
                               " is not a number of messages per second above 0 (at most 1e9)");
      o.rate_per_s = rate;
    } else if (name == "--cpus") {
      auto cpus = parse_cpu_list(name, value);
      if (!cpus) return std::unexpected(cpus.error());
      o.cpus = std::move(*cpus);
    } else if (name == "--ca") {
      if (value.empty()) return std::unexpected("--ca needs a file name");
      o.ca_file = std::string(value);
    } else {
      auto list = parse_address_list(name, value);
      if (!list) return std::unexpected(list.error());
      o.source_addresses = std::move(*list);
    }
  }
  if (o.help) return o;
  if (!have_url) return std::unexpected("--url is required (ws://, wss:// or tcp://)");
  const net::uri_scheme scheme = o.target.scheme;
  if (scheme != net::uri_scheme::ws && scheme != net::uri_scheme::wss && scheme != net::uri_scheme::tcp)
    return std::unexpected("--url: postern-load speaks ws://, wss:// and tcp://, not " +
                           std::string(net::to_string(scheme)) + "://");
  if (scheme == net::uri_scheme::wss && o.ca_file.empty())
    return std::unexpected("--url: wss:// needs --ca FILE, the CA bundle that verifies the server");
  if (scheme != net::uri_scheme::wss && !o.ca_file.empty())
    return std::unexpected("--ca applies to wss:// only");
  if (o.text && !o.websocket()) return std::unexpected("--text applies to ws:// and wss:// only");
  if (o.duration_ms == 0) return std::unexpected("--duration must be above 0");
  if (o.hold && o.open_loop()) return std::unexpected("--hold sends nothing: --rate does not apply");
  return o;
}

}  // namespace postern::load
