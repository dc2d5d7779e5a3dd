#include "gateway/metrics.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "config/gateway_config.h"
#include "core/log.h"

namespace postern::gateway {
namespace {

// A label value with \, " and newline escaped as the text format asks.
std::string label(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  out += '"';
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, std::uint64_t value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void sample_seconds(std::string& out, const char* name, const std::string& labels, std::uint64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += text;
  out += '\n';
}

std::string service_label(const metrics_snapshot& m, std::size_t i) {
  return "service=" + label(i < m.service_names.size() ? m.service_names[i] : std::string("?"));
}

template <class Map>
void merge(Map& into, const Map& from) {
  for (const auto& [k, v] : from) into[k] += v;
}

}  // namespace

std::string render_prometheus(const metrics_snapshot& m) {
  std::string out;
  out.reserve(4096);
  header(out, "postern_ready", "gauge", "1 while this member is ready for at least one of its balanced services (/health answers 200).");
  sample(out, "postern_ready", "", m.healthy ? 1 : 0);

  header(out, "postern_connections_open", "gauge", "Client connections open, per service and reactor.");
  for (const reactor_snapshot& r : m.reactors)
    for (std::size_t i = 0; i < r.services.size(); ++i)
      sample(out, "postern_connections_open", service_label(m, i) + ",reactor=\"" + std::to_string(r.reactor) + "\"",
             r.services[i].open);
  header(out, "postern_connections_total", "counter", "Client connections accepted, per service and reactor.");
  for (const reactor_snapshot& r : m.reactors)
    for (std::size_t i = 0; i < r.services.size(); ++i)
      sample(out, "postern_connections_total", service_label(m, i) + ",reactor=\"" + std::to_string(r.reactor) + "\"",
             r.services[i].total);

  std::vector<traffic_totals> traffic(m.service_names.size());
  for (const reactor_snapshot& r : m.reactors)
    for (std::size_t i = 0; i < r.services.size() && i < traffic.size(); ++i) traffic[i].add(r.services[i].traffic);
  header(out, "postern_bytes_total", "counter", "Bytes from clients (in) and to clients (out), per service.");
  for (std::size_t i = 0; i < traffic.size(); ++i) {
    sample(out, "postern_bytes_total", service_label(m, i) + ",direction=\"in\"", traffic[i].bytes_in);
    sample(out, "postern_bytes_total", service_label(m, i) + ",direction=\"out\"", traffic[i].bytes_out);
  }
  header(out, "postern_messages_total", "counter", "WebSocket messages from clients (in) and to clients (out), per service.");
  for (std::size_t i = 0; i < traffic.size(); ++i) {
    sample(out, "postern_messages_total", service_label(m, i) + ",direction=\"in\"", traffic[i].messages_in);
    sample(out, "postern_messages_total", service_label(m, i) + ",direction=\"out\"", traffic[i].messages_out);
  }

  std::map<std::uint16_t, std::uint64_t> refused, codes;
  std::map<std::string, std::uint64_t, std::less<>> decisions;
  std::uint64_t at_limit = 0, claimed = 0, dial_failures = 0, idle_dmz = 0, idle_internal = 0, busy_dmz = 0,
                busy_internal = 0;
  for (const reactor_snapshot& r : m.reactors) {
    merge(refused, r.refused);
    merge(codes, r.close_codes);
    merge(decisions, r.balancer_decisions);
    at_limit += r.refused_at_limit;
    claimed += r.reverse_links_claimed;
    dial_failures += r.reverse_dial_failures;
    idle_dmz += r.reverse_links_idle_dmz;
    idle_internal += r.reverse_links_idle_internal;
    busy_dmz += r.reverse_links_in_use_dmz;
    busy_internal += r.reverse_links_in_use_internal;
  }
  header(out, "postern_handshake_failures_total", "counter", "Requests refused before the upgrade, by the HTTP status they got.");
  for (const auto& [status, n] : refused) sample(out, "postern_handshake_failures_total", "status=\"" + std::to_string(status) + "\"", n);
  header(out, "postern_close_codes_total", "counter", "Ended WebSocket sessions by the first close code sent or received.");
  for (const auto& [code, n] : codes) sample(out, "postern_close_codes_total", "code=\"" + std::to_string(code) + "\"", n);
  header(out, "postern_access_log_lines_dropped_total", "counter", "Access log lines lost because their reader did not keep up.");
  sample(out, "postern_access_log_lines_dropped_total", "", m.access_log_dropped);
  header(out, "postern_connections_refused_at_limit_total", "counter", "Clients refused because the connection limit was reached.");
  sample(out, "postern_connections_refused_at_limit_total", "", at_limit);

  header(out, "postern_event_loop_lag_seconds", "gauge", "The largest delay of a reactor's 100 ms tick over the last two seconds.");
  for (const reactor_snapshot& r : m.reactors)
    sample_seconds(out, "postern_event_loop_lag_seconds", "reactor=\"" + std::to_string(r.reactor) + "\"", r.loop_lag_ms);
  header(out, "postern_open_sockets", "gauge", "Sockets of clients, backends and links open on each reactor.");
  for (const reactor_snapshot& r : m.reactors)
    sample(out, "postern_open_sockets", "reactor=\"" + std::to_string(r.reactor) + "\"", r.open_sockets);

  header(out, "postern_balancer_decisions_total", "counter", "Balancer choices, by the member chosen (or none ready).");
  for (const auto& [member, n] : decisions) sample(out, "postern_balancer_decisions_total", "member=" + label(member), n);

  header(out, "postern_reverse_links", "gauge", "Reverse links parked on this DMZ member or dialed out by this internal gateway: idle, or in use by a client.");
  sample(out, "postern_reverse_links", "side=\"dmz\",state=\"idle\"", idle_dmz);
  sample(out, "postern_reverse_links", "side=\"dmz\",state=\"in_use\"", busy_dmz);
  sample(out, "postern_reverse_links", "side=\"internal\",state=\"idle\"", idle_internal);
  sample(out, "postern_reverse_links", "side=\"internal\",state=\"in_use\"", busy_internal);
  header(out, "postern_reverse_links_claimed_total", "counter", "Reverse links handed to a client (put in use).");
  sample(out, "postern_reverse_links_claimed_total", "", claimed);
  header(out, "postern_reverse_link_dial_failures_total", "counter", "Reverse link dials that failed (internal side).");
  sample(out, "postern_reverse_link_dial_failures_total", "", dial_failures);

  if (m.cluster) {
    const cluster_snapshot& c = *m.cluster;
    header(out, "postern_cluster_member", "gauge", "Cluster members this member knows of, with their state (self, alive, suspect).");
    for (const auto& member : c.members)
      sample(out, "postern_cluster_member", "member=" + label(member.identity) + ",state=" + label(member.state), 1);
    header(out, "postern_gossip_datagrams_total", "counter", "Gossip datagrams sent, received, rejected (no valid tag) and dropped (stale or replayed).");
    sample(out, "postern_gossip_datagrams_total", "kind=\"sent\"", c.datagrams_sent);
    sample(out, "postern_gossip_datagrams_total", "kind=\"received\"", c.datagrams_received);
    sample(out, "postern_gossip_datagrams_total", "kind=\"rejected\"", c.datagrams_rejected);
    sample(out, "postern_gossip_datagrams_total", "kind=\"dropped\"", c.datagrams_dropped);
  }
  return out;
}

std::string format_access_line(const session& s, std::string_view service_name, std::uint64_t wall_ms,
                               std::uint64_t duration_ms) {
  std::time_t secs = static_cast<std::time_t>(wall_ms / 1000);
  std::tm utc{};
  ::gmtime_r(&secs, &utc);
  char stamp[80];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<unsigned>(wall_ms % 1000));
  std::string end;
  if (s.http_status) end = "status:" + std::to_string(s.http_status);
  else if (s.close_code) end = "close:" + std::to_string(s.close_code);
  else end = s.ending ? s.ending : "eof";
  char numbers[200];
  std::snprintf(numbers, sizeof numbers,
                " duration=%" PRIu64 ".%03" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " messages_in=%" PRIu64
                " messages_out=%" PRIu64 " end=",
                duration_ms / 1000, duration_ms % 1000, s.bytes_in, s.bytes_out, s.messages_in, s.messages_out);
  std::string name = service_name.empty() ? std::string("-") : label(service_name.substr(0, 200));
  std::string line;
  line.reserve(160 + name.size());
  line += stamp;
  line += " client=";
  line += s.peer.to_string();
  line += " service=";
  line += name;
  line += numbers;
  line += end;
  line += '\n';
  return line;
}

access_log::access_log(const std::string& destination) : _destination(destination) {
  if (destination != "-") {
    int fd = ::open(destination.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
      throw std::runtime_error("cannot open the access log " + destination + ": " + std::strerror(errno));
    _own.reset(fd);
    _fd = fd;
    return;
  }
  struct stat st{};
  if (::fstat(STDOUT_FILENO, &st) != 0) return;  // closed: write fails and counts the line
  if (S_ISSOCK(st.st_mode)) {
    _socket = true;
  } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    // O_NONBLOCK on descriptor 1 itself would change the open file description that the
    // parent (a shell, a supervisor) shares: open our own instead.
    int fd = ::open("/proc/self/fd/1", O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      _own.reset(fd);
      _fd = fd;
    }
  }
}

void access_log::write(std::string_view line) const noexcept {
  while (!line.empty()) {
    ssize_t n = _socket ? ::send(_fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL)
                        : ::write(_fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.remove_prefix(static_cast<std::size_t>(n));
  }
  if (line.empty()) return;
  // A stalled reader, a full disk or a closed pipe costs the line, never the connection.
  const std::uint64_t lost = _dropped.fetch_add(1, std::memory_order_relaxed) + 1;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const std::uint64_t now_ms = static_cast<std::uint64_t>(now.tv_sec) * 1000 + static_cast<std::uint64_t>(now.tv_nsec) / 1'000'000;
  std::uint64_t last = _warned_ms.load(std::memory_order_relaxed);
  if ((last == 0 || now_ms - last >= 10'000) &&
      _warned_ms.compare_exchange_strong(last, now_ms == 0 ? 1 : now_ms, std::memory_order_relaxed))
    LOG_WARN("access log %s: its reader is not keeping up (%s); %llu line(s) lost so far",
             _destination.c_str(), std::strerror(errno), static_cast<unsigned long long>(lost));
}

}  // namespace postern::gateway
