// report: postern-load's results and their two renderings, the human summary and the --json
// object. Pure formatting; the numbers are filled in by main.cc.
//
// Definitions: messages are the echoes that came back whole and identical during the measured
// window; msgs_per_s = messages / window; mb_per_s = messages * size / window / 10^6 (payload
// bytes echoed, one direction, frame headers not counted); latencies in µs from the histogram;
// client_cpu_s is the process's user + system CPU time over the window, client_cpu_percent that
// divided by the window (100 per fully busy thread).
//
// Header-only: the unit-test binary links libpostern.a and its tests only, not bench/load/.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace postern::load {

struct load_report {
  std::string url;
  std::string loop;              // "closed", "open" or "hold"
  std::string backend;           // "io_uring" or "epoll"
  unsigned connections = 0;
  unsigned in_flight = 0;
  std::uint64_t size_bytes = 0;
  bool text = false;
  double rate_per_s = 0;         // open loop: the rate asked for
  unsigned threads = 0;
  double warmup_s = 0;
  double duration_s = 0;         // the measured window as it really lasted
  std::uint64_t messages = 0;
  double msgs_per_s = 0;
  double mb_per_s = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  double client_cpu_s = 0;
  double client_cpu_percent = 0;
  unsigned open_connections = 0;         // open when the window ended
  std::uint64_t connect_errors = 0;      // connect, TLS or upgrade failures (connections)
  std::uint64_t echo_errors = 0;         // echoes that differed from what was sent (connections)
  std::uint64_t connection_errors = 0;   // connections lost, reset or closed by the peer early
  std::uint64_t lost_messages = 0;       // sent but never echoed when their connection ended
  std::uint64_t held_sends = 0;          // open loop: messages due while in-flight was at its cap

  std::uint64_t errors() const noexcept {
    return connect_errors + echo_errors + connection_errors + lost_messages;
  }
};

namespace detail {

inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace detail

// One line of JSON (no trailing newline). Field order is fixed.
inline std::string format_json(const load_report& r) {
  using detail::fixed;
  std::string out = "{";
  const auto field = [&out](std::string_view name, const std::string& value) {
    if (out.size() > 1) out += ", ";
    out += detail::json_string(name);
    out += ": ";
    out += value;
  };
  field("url", detail::json_string(r.url));
  field("loop", detail::json_string(r.loop));
  field("connections", std::to_string(r.connections));
  field("in_flight", std::to_string(r.in_flight));
  field("size", std::to_string(r.size_bytes));
  field("text", r.text ? "true" : "false");
  field("rate", fixed(r.rate_per_s, 1));
  field("threads", std::to_string(r.threads));
  field("backend", detail::json_string(r.backend));
  field("warmup_s", fixed(r.warmup_s, 3));
  field("duration_s", fixed(r.duration_s, 3));
  field("messages", std::to_string(r.messages));
  field("errors", std::to_string(r.errors()));
  field("msgs_per_s", fixed(r.msgs_per_s, 1));
  field("mb_per_s", fixed(r.mb_per_s, 3));
  field("p50_us", fixed(r.p50_us, 1));
  field("p90_us", fixed(r.p90_us, 1));
  field("p99_us", fixed(r.p99_us, 1));
  field("p999_us", fixed(r.p999_us, 1));
  field("max_us", fixed(r.max_us, 1));
  field("client_cpu_s", fixed(r.client_cpu_s, 3));
  field("client_cpu_percent", fixed(r.client_cpu_percent, 1));
  field("open_connections", std::to_string(r.open_connections));
  field("connect_errors", std::to_string(r.connect_errors));
  field("echo_errors", std::to_string(r.echo_errors));
  field("connection_errors", std::to_string(r.connection_errors));
  field("lost_messages", std::to_string(r.lost_messages));
  field("held_sends", std::to_string(r.held_sends));
  return out + "}";
}

// The human summary, several lines each ending in a newline.
inline std::string format_summary(const load_report& r) {
  using detail::fixed;
  std::string out = "postern-load " + r.url + ": " + std::to_string(r.connections) + " connections, ";
  if (r.loop == "hold") {
    out += "held idle, " + std::to_string(r.threads) + " thread(s), " + r.backend + "\n";
    out += "held " + fixed(r.duration_s, 2) + " s: " + std::to_string(r.open_connections) + " of " +
           std::to_string(r.connections) + " connections open at the end\n";
  } else {
    out += std::to_string(r.in_flight) + " in flight, " + std::to_string(r.size_bytes) + " B " +
           (r.text ? "text" : "binary") + ", ";
    out += r.loop == "open" ? "open loop at " + fixed(r.rate_per_s, 0) + " msgs/s" : std::string("closed loop");
    out += ", " + std::to_string(r.threads) + " thread(s), " + r.backend + "\n";
    out += "window " + fixed(r.duration_s, 2) + " s after " + fixed(r.warmup_s, 2) +
           " s warmup: " + std::to_string(r.messages) + " messages, " + fixed(r.msgs_per_s, 0) + " msgs/s, " +
           fixed(r.mb_per_s, 2) + " MB/s\n";
    out += "latency us: p50 " + fixed(r.p50_us, 1) + "  p90 " + fixed(r.p90_us, 1) + "  p99 " +
           fixed(r.p99_us, 1) + "  p99.9 " + fixed(r.p999_us, 1) + "  max " + fixed(r.max_us, 1) + "\n";
    if (r.loop == "open" && r.held_sends > 0)
      out += "held sends: " + std::to_string(r.held_sends) + " messages waited for a free in-flight slot\n";
  }
  out += "client CPU: " + fixed(r.client_cpu_s, 2) + " s (" + fixed(r.client_cpu_percent, 0) + " % of one core)";
  if (r.threads > 0 && r.client_cpu_percent >= 90.0 * r.threads)
    out += ": the load generator was saturated and may have been the bottleneck";
  out += "\n";
  out += "errors: " + std::to_string(r.errors());
  if (r.errors() > 0) {
    out += " (connect " + std::to_string(r.connect_errors) + ", echo mismatch " + std::to_string(r.echo_errors) +
           ", connection lost " + std::to_string(r.connection_errors) + ", messages lost " +
           std::to_string(r.lost_messages) + ")";
  }
  return out + "\n";
}

}  // namespace postern::load
