// The management service's pure parts: render_prometheus (metrics.h), the HTTP answers of
// management_response (management.h) and the two routes a management accept gets
// (build_endpoints). The access line and --access-log: gateway_access_log_test.cc.
#include "gateway/metrics.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <expected>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/management.h"
#include "gateway/routes.h"

namespace postern::gateway {
namespace {

// ---- a small parser of the text exposition format (version 0.0.4) --------------------------

struct parsed_sample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  std::string value_text;
};

struct parsed_exposition {
  std::vector<parsed_sample> samples;
  std::map<std::string, int> help_count, type_count;
  std::map<std::string, std::string> types;
  std::vector<std::string> errors;  // one sentence per line that does not parse
};

bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// name{label="value",...} value — every line must be a comment (# HELP / # TYPE) or this.
parsed_exposition parse_exposition(std::string_view text) {
  parsed_exposition out;
  std::set<std::string> finished;  // metrics whose block of samples has ended
  std::string current;             // the metric of the last sample or comment
  if (!text.empty() && text.back() != '\n') out.errors.push_back("the text does not end with a newline");
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    auto fail = [&](const std::string& why) { out.errors.push_back(why + ": '" + std::string(line) + "'"); };
    if (line.empty()) {
      fail("empty line");
      continue;
    }
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      std::string_view rest = line.substr(7);
      std::size_t sp = rest.find(' ');
      if (sp == std::string_view::npos || sp == 0 || sp + 1 >= rest.size()) {
        fail("a comment without a name and text");
        continue;
      }
      std::string name(rest.substr(0, sp));
      if (name != current && finished.contains(name)) fail("the comments of " + name + " are apart from its block");
      if (name != current && !current.empty()) finished.insert(current);
      current = name;
      if (help) {
        ++out.help_count[name];
      } else {
        ++out.type_count[name];
        out.types[name] = std::string(rest.substr(sp + 1));
        if (out.types[name] != "counter" && out.types[name] != "gauge") fail("an unknown type");
        if (!out.help_count.contains(name)) fail("# TYPE before # HELP");
      }
      continue;
    }
    if (line.front() == '#') {
      fail("a comment other than HELP and TYPE");
      continue;
    }
    parsed_sample s;
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0)) ++i;
    s.name = std::string(line.substr(0, i));
    if (s.name.empty()) {
      fail("no metric name");
      continue;
    }
    bool ok = true;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        std::size_t key_start = i;
        while (i < line.size() && name_char(line[i], i == key_start)) ++i;
        std::string key(line.substr(key_start, i - key_start));
        if (key.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
          ok = false;
          break;
        }
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size()) {
              ok = false;
              break;
            }
            char e = line[i + 1];
            if (e == 'n') value += '\n';
            else if (e == '\\' || e == '"') value += e;
            else ok = false;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        if (!ok || i >= line.size()) {
          ok = false;
          break;
        }
        ++i;  // the closing quote
        if (s.labels.contains(key)) ok = false;
        s.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (!ok || i >= line.size() || line[i] != '}') {
        fail("bad labels");
        continue;
      }
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no space before the value");
      continue;
    }
    s.value_text = std::string(line.substr(i + 1));
    char* value_end = nullptr;
    std::strtod(s.value_text.c_str(), &value_end);
    if (s.value_text.empty() || value_end != s.value_text.c_str() + s.value_text.size()) {
      fail("the value is not a number");
      continue;
    }
    if (!out.type_count.contains(s.name)) fail("a sample before its # TYPE");
    if (s.name != current) {
      if (finished.contains(s.name)) fail("the samples of " + s.name + " are not in one block");
      if (!current.empty()) finished.insert(current);
      current = s.name;
    }
    out.samples.push_back(std::move(s));
  }
  return out;
}

// The value of the one sample with exactly these labels; "" (and a test failure) when none or
// several match.
std::string value_of(const parsed_exposition& p, std::string_view name, const std::map<std::string, std::string>& labels) {
  std::vector<std::string> found;
  for (const parsed_sample& s : p.samples)
    if (s.name == name && s.labels == labels) found.push_back(s.value_text);
  EXPECT_EQ(found.size(), 1u) << name;
  return found.size() == 1 ? found.front() : std::string();
}

std::size_t count_of(const parsed_exposition& p, std::string_view name) {
  std::size_t n = 0;
  for (const parsed_sample& s : p.samples) n += s.name == name;
  return n;
}

// The lines of text that keep(line) accepts, in order.
template <class Keep>
std::vector<std::string> lines_where(std::string_view text, Keep keep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (keep(line)) out.emplace_back(line);
    start = end + 1;
  }
  return out;
}

// The sample lines only (comments left out), in order.
std::vector<std::string> sample_lines(std::string_view text) {
  return lines_where(text, [](std::string_view line) { return !line.starts_with("#"); });
}

std::vector<std::string> type_lines(std::string_view text) {
  return lines_where(text, [](std::string_view line) { return line.starts_with("# TYPE "); });
}

const std::vector<std::string> base_metrics = {
    "postern_ready",
    "postern_connections_open",
    "postern_connections_total",
    "postern_bytes_total",
    "postern_messages_total",
    "postern_handshake_failures_total",
    "postern_close_codes_total",
    "postern_access_log_lines_dropped_total",
    "postern_connections_refused_at_limit_total",
    "postern_event_loop_lag_seconds",
    "postern_open_sockets",
    "postern_balancer_decisions_total",
    "postern_reverse_links",
    "postern_reverse_links_claimed_total",
    "postern_reverse_link_dial_failures_total",
};

service_metrics service_with(std::uint64_t open, std::uint64_t total, std::uint64_t bytes_in, std::uint64_t bytes_out,
                             std::uint64_t messages_in, std::uint64_t messages_out) {
  service_metrics s;
  s.open = open;
  s.total = total;
  s.traffic.bytes_in = bytes_in;
  s.traffic.bytes_out = bytes_out;
  s.traffic.messages_in = messages_in;
  s.traffic.messages_out = messages_out;
  return s;
}

// One service, one reactor, no cluster.
metrics_snapshot small_snapshot() {
  metrics_snapshot m;
  m.service_names = {"echo"};
  m.healthy = true;
  reactor_snapshot r;
  r.reactor = 0;
  r.services = {service_with(1, 3, 120, 100, 3, 2)};
  r.refused = {{404, 2}};
  r.close_codes = {{1000, 2}};
  r.balancer_decisions = {{"gw1", 4}};
  r.refused_at_limit = 5;
  r.loop_lag_ms = 1234;
  r.open_sockets = 6;
  r.reverse_links_idle_dmz = 2;
  r.reverse_links_idle_internal = 0;
  r.reverse_links_in_use_dmz = 3;
  r.reverse_links_in_use_internal = 1;
  r.reverse_links_claimed = 7;
  r.reverse_dial_failures = 8;
  m.reactors.push_back(r);
  return m;
}

// Two services, two reactors.
metrics_snapshot two_reactor_snapshot() {
  metrics_snapshot m;
  m.service_names = {"a", "b"};
  reactor_snapshot r0, r1;
  r0.reactor = 0;
  r1.reactor = 1;
  r0.services = {service_with(1, 2, 10, 20, 1, 2), service_with(0, 1, 100, 200, 10, 20)};
  r1.services = {service_with(2, 5, 1000, 2000, 100, 200), service_with(3, 4, 10000, 20000, 1000, 2000)};
  r0.refused = {{404, 1}, {400, 2}};
  r1.refused = {{404, 10}, {503, 3}};
  r0.close_codes = {{1000, 4}, {1001, 1}};
  r1.close_codes = {{1000, 6}, {1009, 2}};
  r0.balancer_decisions = {{"m1", 1}};
  r1.balancer_decisions = {{"m1", 2}, {"(none ready)", 3}};
  r0.refused_at_limit = 1;
  r1.refused_at_limit = 2;
  r0.loop_lag_ms = 5;
  r1.loop_lag_ms = 0;
  r0.open_sockets = 3;
  r1.open_sockets = 4;
  r0.reverse_links_idle_dmz = 1;
  r1.reverse_links_idle_dmz = 2;
  r0.reverse_links_idle_internal = 3;
  r1.reverse_links_idle_internal = 4;
  r0.reverse_links_in_use_dmz = 10;
  r1.reverse_links_in_use_dmz = 20;
  r0.reverse_links_in_use_internal = 30;
  r1.reverse_links_in_use_internal = 40;
  r0.reverse_links_claimed = 5;
  r1.reverse_links_claimed = 6;
  r0.reverse_dial_failures = 7;
  r1.reverse_dial_failures = 8;
  m.reactors = {r0, r1};
  return m;
}

// The parser above finds what the format forbids (else the tests below could not fail).
TEST(metrics_render, the_test_parser_rejects_what_the_format_forbids) {
  const std::string good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"\"} 1\n";
  EXPECT_TRUE(parse_exposition(good).errors.empty()) << ::testing::PrintToString(parse_exposition(good).errors);
  for (std::string bad : {
           std::string("a_total 1\n"),                                                    // no TYPE
           std::string("# HELP a x\n# TYPE a gauge\na{k=\"v} 1\n"),                      // unclosed value
           std::string("# HELP a x\n# TYPE a gauge\na{k=v} 1\n"),                        // unquoted
           std::string("# HELP a x\n# TYPE a gauge\na 1x\n"),                            // not a number
           std::string("# HELP a x\n# TYPE a gauge\na 1"),                               // no newline
           std::string("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n"),  // split
           std::string("# TYPE a gauge\n# HELP a x\na 1\n"),                             // TYPE first
           std::string("# HELP a x\n# TYPE a histogram\na 1\n"),                         // unknown type
       }) {
    EXPECT_FALSE(parse_exposition(bad).errors.empty()) << bad;
  }
}

// ---- render_prometheus ------------------------------------------------------------------------

TEST(metrics_render, small_case_exact_sample_and_type_lines) {
  const std::string text = render_prometheus(small_snapshot());
  const std::vector<std::string> want_samples = {
      "postern_ready 1",
      "postern_connections_open{service=\"echo\",reactor=\"0\"} 1",
      "postern_connections_total{service=\"echo\",reactor=\"0\"} 3",
      "postern_bytes_total{service=\"echo\",direction=\"in\"} 120",
      "postern_bytes_total{service=\"echo\",direction=\"out\"} 100",
      "postern_messages_total{service=\"echo\",direction=\"in\"} 3",
      "postern_messages_total{service=\"echo\",direction=\"out\"} 2",
      "postern_handshake_failures_total{status=\"404\"} 2",
      "postern_close_codes_total{code=\"1000\"} 2",
      "postern_access_log_lines_dropped_total 0",
      "postern_connections_refused_at_limit_total 5",
      "postern_event_loop_lag_seconds{reactor=\"0\"} 1.234",
      "postern_open_sockets{reactor=\"0\"} 6",
      "postern_balancer_decisions_total{member=\"gw1\"} 4",
      "postern_reverse_links{side=\"dmz\",state=\"idle\"} 2",
      "postern_reverse_links{side=\"dmz\",state=\"in_use\"} 3",
      "postern_reverse_links{side=\"internal\",state=\"idle\"} 0",
      "postern_reverse_links{side=\"internal\",state=\"in_use\"} 1",
      "postern_reverse_links_claimed_total 7",
      "postern_reverse_link_dial_failures_total 8",
  };
  EXPECT_EQ(sample_lines(text), want_samples) << text;
  const std::vector<std::string> want_types = {
      "# TYPE postern_ready gauge",
      "# TYPE postern_connections_open gauge",
      "# TYPE postern_connections_total counter",
      "# TYPE postern_bytes_total counter",
      "# TYPE postern_messages_total counter",
      "# TYPE postern_handshake_failures_total counter",
      "# TYPE postern_close_codes_total counter",
      "# TYPE postern_access_log_lines_dropped_total counter",
      "# TYPE postern_connections_refused_at_limit_total counter",
      "# TYPE postern_event_loop_lag_seconds gauge",
      "# TYPE postern_open_sockets gauge",
      "# TYPE postern_balancer_decisions_total counter",
      "# TYPE postern_reverse_links gauge",
      "# TYPE postern_reverse_links_claimed_total counter",
      "# TYPE postern_reverse_link_dial_failures_total counter",
  };
  EXPECT_EQ(type_lines(text), want_types) << text;
  EXPECT_EQ(text.find("postern_cluster_member"), std::string::npos);
  EXPECT_EQ(text.find("postern_gossip_datagrams_total"), std::string::npos);
}

TEST(metrics_render, not_healthy_is_ready_0) {
  metrics_snapshot m = small_snapshot();
  m.healthy = false;
  const auto p = parse_exposition(render_prometheus(m));
  EXPECT_EQ(value_of(p, "postern_ready", {}), "0");
}

TEST(metrics_render, every_metric_has_one_help_and_one_type_and_every_line_parses) {
  for (bool with_cluster : {false, true}) {
    metrics_snapshot m = two_reactor_snapshot();
    if (with_cluster) m.cluster = cluster_snapshot{{{"self-id", "self"}, {"other", "alive"}}, 1, 2, 3, 4};
    const std::string text = render_prometheus(m);
    const parsed_exposition p = parse_exposition(text);
    EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors) << "\n" << text;
    std::vector<std::string> expected = base_metrics;
    if (with_cluster) {
      expected.push_back("postern_cluster_member");
      expected.push_back("postern_gossip_datagrams_total");
    }
    EXPECT_EQ(p.help_count.size(), expected.size()) << text;
    EXPECT_EQ(p.type_count.size(), expected.size()) << text;
    for (const std::string& name : expected) {
      EXPECT_EQ(p.help_count.count(name) ? p.help_count.at(name) : 0, 1) << name;
      EXPECT_EQ(p.type_count.count(name) ? p.type_count.at(name) : 0, 1) << name;
      EXPECT_GE(count_of(p, name), 1u) << name << " has no sample";
    }
    // Counters end in _total (the format's naming rule); gauges do not.
    for (const auto& [name, type] : p.types) EXPECT_EQ(name.ends_with("_total"), type == "counter") << name;
    // No sample repeats a label set.
    std::set<std::string> seen;
    for (const parsed_sample& s : p.samples)
      EXPECT_TRUE(seen.insert(s.name + ::testing::PrintToString(s.labels)).second) << s.name;
  }
}

TEST(metrics_render, counters_are_summed_over_reactors) {
  const std::string text = render_prometheus(two_reactor_snapshot());
  const parsed_exposition p = parse_exposition(text);
  ASSERT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
  // Per service: bytes and messages summed over the two reactors.
  EXPECT_EQ(value_of(p, "postern_bytes_total", {{"service", "a"}, {"direction", "in"}}), "1010");
  EXPECT_EQ(value_of(p, "postern_bytes_total", {{"service", "a"}, {"direction", "out"}}), "2020");
  EXPECT_EQ(value_of(p, "postern_bytes_total", {{"service", "b"}, {"direction", "in"}}), "10100");
  EXPECT_EQ(value_of(p, "postern_bytes_total", {{"service", "b"}, {"direction", "out"}}), "20200");
  EXPECT_EQ(value_of(p, "postern_messages_total", {{"service", "a"}, {"direction", "in"}}), "101");
  EXPECT_EQ(value_of(p, "postern_messages_total", {{"service", "a"}, {"direction", "out"}}), "202");
  EXPECT_EQ(value_of(p, "postern_messages_total", {{"service", "b"}, {"direction", "in"}}), "1010");
  EXPECT_EQ(value_of(p, "postern_messages_total", {{"service", "b"}, {"direction", "out"}}), "2020");
  EXPECT_EQ(count_of(p, "postern_bytes_total"), 4u);
  EXPECT_EQ(count_of(p, "postern_messages_total"), 4u);
  // Handshake failures and close codes: merged by key.
  EXPECT_EQ(value_of(p, "postern_handshake_failures_total", {{"status", "400"}}), "2");
  EXPECT_EQ(value_of(p, "postern_handshake_failures_total", {{"status", "404"}}), "11");
  EXPECT_EQ(value_of(p, "postern_handshake_failures_total", {{"status", "503"}}), "3");
  EXPECT_EQ(count_of(p, "postern_handshake_failures_total"), 3u);
  EXPECT_EQ(value_of(p, "postern_close_codes_total", {{"code", "1000"}}), "10");
  EXPECT_EQ(value_of(p, "postern_close_codes_total", {{"code", "1001"}}), "1");
  EXPECT_EQ(value_of(p, "postern_close_codes_total", {{"code", "1009"}}), "2");
  EXPECT_EQ(count_of(p, "postern_close_codes_total"), 3u);
  EXPECT_EQ(value_of(p, "postern_balancer_decisions_total", {{"member", "m1"}}), "3");
  EXPECT_EQ(value_of(p, "postern_balancer_decisions_total", {{"member", "(none ready)"}}), "3");
  EXPECT_EQ(value_of(p, "postern_connections_refused_at_limit_total", {}), "3");
  EXPECT_EQ(value_of(p, "postern_reverse_links", {{"side", "dmz"}, {"state", "idle"}}), "3");
  EXPECT_EQ(value_of(p, "postern_reverse_links", {{"side", "internal"}, {"state", "idle"}}), "7");
  EXPECT_EQ(value_of(p, "postern_reverse_links", {{"side", "dmz"}, {"state", "in_use"}}), "30");
  EXPECT_EQ(value_of(p, "postern_reverse_links", {{"side", "internal"}, {"state", "in_use"}}), "70");
  EXPECT_EQ(count_of(p, "postern_reverse_links"), 4u);
  EXPECT_EQ(value_of(p, "postern_reverse_links_claimed_total", {}), "11");
  EXPECT_EQ(value_of(p, "postern_reverse_link_dial_failures_total", {}), "15");
  // Per reactor: kept apart.
  EXPECT_EQ(value_of(p, "postern_connections_open", {{"service", "a"}, {"reactor", "0"}}), "1");
  EXPECT_EQ(value_of(p, "postern_connections_open", {{"service", "a"}, {"reactor", "1"}}), "2");
  EXPECT_EQ(value_of(p, "postern_connections_open", {{"service", "b"}, {"reactor", "0"}}), "0");
  EXPECT_EQ(value_of(p, "postern_connections_open", {{"service", "b"}, {"reactor", "1"}}), "3");
  EXPECT_EQ(value_of(p, "postern_connections_total", {{"service", "a"}, {"reactor", "0"}}), "2");
  EXPECT_EQ(value_of(p, "postern_connections_total", {{"service", "a"}, {"reactor", "1"}}), "5");
  EXPECT_EQ(value_of(p, "postern_connections_total", {{"service", "b"}, {"reactor", "0"}}), "1");
  EXPECT_EQ(value_of(p, "postern_connections_total", {{"service", "b"}, {"reactor", "1"}}), "4");
  EXPECT_EQ(value_of(p, "postern_event_loop_lag_seconds", {{"reactor", "0"}}), "0.005");
  EXPECT_EQ(value_of(p, "postern_event_loop_lag_seconds", {{"reactor", "1"}}), "0.000");
  EXPECT_EQ(value_of(p, "postern_open_sockets", {{"reactor", "0"}}), "3");
  EXPECT_EQ(value_of(p, "postern_open_sockets", {{"reactor", "1"}}), "4");
}

TEST(metrics_render, label_values_are_escaped) {
  metrics_snapshot m = small_snapshot();
  const std::string name = "say \"hi\" \\ back\nslash";
  m.service_names = {name};
  m.reactors[0].balancer_decisions = {{"m\"1\\\n", 1}};
  m.cluster = cluster_snapshot{{{"id \"x\"\n", "alive"}}, 0, 0, 0, 0};
  const std::string text = render_prometheus(m);
  EXPECT_NE(text.find("postern_connections_open{service=\"say \\\"hi\\\" \\\\ back\\nslash\",reactor=\"0\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("postern_balancer_decisions_total{member=\"m\\\"1\\\\\\n\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("postern_cluster_member{member=\"id \\\"x\\\"\\n\",state=\"alive\"} 1\n"), std::string::npos)
      << text;
  const parsed_exposition p = parse_exposition(text);
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors) << "\n" << text;
  // Unescaped by a parser, the label is the name again.
  EXPECT_EQ(value_of(p, "postern_bytes_total", {{"service", name}, {"direction", "in"}}), "120");
  EXPECT_EQ(value_of(p, "postern_messages_total", {{"service", name}, {"direction", "out"}}), "2");
}

TEST(metrics_render, cluster_section_only_with_a_cluster) {
  metrics_snapshot m = small_snapshot();
  EXPECT_EQ(render_prometheus(m).find("cluster"), std::string::npos);
  m.cluster = cluster_snapshot{{{"10.0.0.1:5000", "self"}, {"10.0.0.2:5000", "suspect"}}, 11, 12, 13, 14};
  const std::string text = render_prometheus(m);
  const parsed_exposition p = parse_exposition(text);
  ASSERT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
  EXPECT_EQ(p.types.at("postern_cluster_member"), "gauge");
  EXPECT_EQ(p.types.at("postern_gossip_datagrams_total"), "counter");
  EXPECT_EQ(value_of(p, "postern_cluster_member", {{"member", "10.0.0.1:5000"}, {"state", "self"}}), "1");
  EXPECT_EQ(value_of(p, "postern_cluster_member", {{"member", "10.0.0.2:5000"}, {"state", "suspect"}}), "1");
  EXPECT_EQ(count_of(p, "postern_cluster_member"), 2u);
  EXPECT_EQ(value_of(p, "postern_gossip_datagrams_total", {{"kind", "sent"}}), "11");
  EXPECT_EQ(value_of(p, "postern_gossip_datagrams_total", {{"kind", "received"}}), "12");
  EXPECT_EQ(value_of(p, "postern_gossip_datagrams_total", {{"kind", "rejected"}}), "13");
  EXPECT_EQ(value_of(p, "postern_gossip_datagrams_total", {{"kind", "dropped"}}), "14");
  // A cluster with no members yet still has both metrics' comments and the datagram counters.
  m.cluster = cluster_snapshot{};
  const parsed_exposition empty = parse_exposition(render_prometheus(m));
  EXPECT_TRUE(empty.errors.empty()) << ::testing::PrintToString(empty.errors);
  EXPECT_EQ(empty.type_count.count("postern_cluster_member"), 1u);
  EXPECT_EQ(count_of(empty, "postern_cluster_member"), 0u);
  EXPECT_EQ(count_of(empty, "postern_gossip_datagrams_total"), 4u);
}

TEST(metrics_render, lag_seconds_keep_milliseconds) {
  metrics_snapshot m = small_snapshot();
  for (auto [ms, text] : std::vector<std::pair<std::uint64_t, std::string>>{
           {0, "0.000"}, {5, "0.005"}, {999, "0.999"}, {1000, "1.000"}, {61001, "61.001"}}) {
    m.reactors[0].loop_lag_ms = ms;
    const parsed_exposition p = parse_exposition(render_prometheus(m));
    EXPECT_EQ(value_of(p, "postern_event_loop_lag_seconds", {{"reactor", "0"}}), text) << ms;
  }
}

TEST(metrics_render, no_reactors_and_no_services_still_parse) {
  metrics_snapshot m;
  const std::string text = render_prometheus(m);
  const parsed_exposition p = parse_exposition(text);
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors) << "\n" << text;
  EXPECT_EQ(value_of(p, "postern_ready", {}), "0");
  EXPECT_EQ(p.type_count.size(), base_metrics.size());
}

// ---- management_response ----------------------------------------------------------------------

struct http_answer {
  std::string status_line;
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

http_answer split(const std::string& response) {
  http_answer a;
  const std::size_t head_end = response.find("\r\n\r\n");
  EXPECT_NE(head_end, std::string::npos) << response;
  if (head_end == std::string::npos) return a;
  std::string head = response.substr(0, head_end);
  a.body = response.substr(head_end + 4);
  std::size_t start = 0;
  bool first = true;
  while (start <= head.size()) {
    std::size_t end = head.find("\r\n", start);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(start, end - start);
    start = end + 2;
    if (first) {
      a.status_line = line;
      first = false;
      continue;
    }
    const std::size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    EXPECT_FALSE(a.headers.contains(name)) << "header " << name << " twice";
    a.headers[name] = value;
  }
  return a;
}

TEST(management_response, get_metrics_is_the_prometheus_text) {
  const metrics_snapshot snap = small_snapshot();
  http_answer a = split(management_response("GET", "metrics", snap));
  EXPECT_EQ(a.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(a.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(a.headers["content-length"], std::to_string(a.body.size()));
  EXPECT_EQ(a.headers["connection"], "close");
  EXPECT_EQ(a.headers["cache-control"], "no-store");
  EXPECT_EQ(a.body, render_prometheus(snap));
}

TEST(management_response, health_follows_the_snapshot) {
  metrics_snapshot snap = small_snapshot();
  snap.healthy = true;
  http_answer up = split(management_response("GET", "health", snap));
  EXPECT_EQ(up.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(up.body, "ready\n");
  EXPECT_EQ(up.headers["content-length"], "6");
  EXPECT_EQ(up.headers["content-type"].substr(0, 10), "text/plain");
  snap.healthy = false;
  http_answer down = split(management_response("GET", "health", snap));
  EXPECT_EQ(down.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(down.body, "not ready\n");
  EXPECT_EQ(down.headers["content-length"], "10");
}

TEST(management_response, head_has_the_headers_without_the_body) {
  const metrics_snapshot snap = small_snapshot();
  const std::string get = management_response("GET", "metrics", snap);
  const std::string head = management_response("HEAD", "metrics", snap);
  http_answer g = split(get), h = split(head);
  EXPECT_EQ(h.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(h.body, "");
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  EXPECT_EQ(h.headers, g.headers);  // Content-Length is the GET body's
  EXPECT_EQ(h.headers["content-length"], std::to_string(render_prometheus(snap).size()));
  http_answer health = split(management_response("HEAD", "health", snap));
  EXPECT_EQ(health.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(health.body, "");
  EXPECT_EQ(health.headers["content-length"], "6");
}

TEST(management_response, other_methods_get_405_with_allow) {
  const metrics_snapshot snap = small_snapshot();
  for (std::string_view method : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
    for (std::string_view what : {"metrics", "health"}) {
      http_answer a = split(management_response(method, what, snap));
      EXPECT_EQ(a.status_line, "HTTP/1.1 405 Method Not Allowed") << method << " " << what;
      EXPECT_EQ(a.headers["allow"], "GET, HEAD") << method;
      EXPECT_EQ(a.headers["content-length"], std::to_string(a.body.size())) << method;
      EXPECT_EQ(a.body.find("postern_"), std::string::npos) << method;
    }
  }
}

// ---- routes of a management accept ------------------------------------------------------------

net::uri must_parse(std::string_view text) {
  auto u = net::parse_uri(text);
  EXPECT_TRUE(u) << text;
  return *u;
}

config::service_config service_of(config::service_type type, std::string name, std::string_view accept) {
  config::service_config s;
  s.name = std::move(name);
  s.type = type;
  s.accepts.push_back(must_parse(accept));
  return s;
}

std::vector<std::string> paths_of(const endpoint& ep) {
  std::vector<std::string> out;
  for (const route& r : ep.routes) out.push_back(r.path);
  return out;
}

TEST(management_routes, at_the_root_metrics_and_health) {
  config::gateway_config c;
  c.services.push_back(service_of(config::service_type::management, "m", "http://127.0.80.1:1/"));
  auto eps = build_endpoints(c);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].kind, endpoint_kind::http);
  EXPECT_EQ(paths_of(eps[0]), (std::vector<std::string>{"/metrics", "/health"}));
  EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/metrics").found, &eps[0].routes[0]);
  EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/health").found, &eps[0].routes[1]);
  EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/").miss, route_miss::unknown_path);
  EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/nope").miss, route_miss::unknown_path);
}

TEST(management_routes, under_a_path) {
  for (std::string_view accept : {"http://127.0.80.1:1/admin", "http://127.0.80.1:1/admin/"}) {
    config::gateway_config c;
    c.services.push_back(service_of(config::service_type::management, "m", accept));
    auto eps = build_endpoints(c);
    ASSERT_EQ(eps.size(), 1u) << accept;
    EXPECT_EQ(paths_of(eps[0]), (std::vector<std::string>{"/admin/metrics", "/admin/health"})) << accept;
    EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/admin/metrics").found->service->name, "m");
    EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/admin").miss, route_miss::unknown_path);
    EXPECT_EQ(find_route(eps[0], "127.0.80.1:1", "/metrics").miss, route_miss::unknown_path);
  }
}

TEST(management_routes, shares_a_listener_with_a_websocket_service) {
  config::gateway_config c;
  c.services.push_back(service_of(config::service_type::echo, "e", "ws://127.0.80.1:8080/echo"));
  c.services.push_back(service_of(config::service_type::management, "m", "http://127.0.80.1:8080/ops"));
  auto eps = build_endpoints(c);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(paths_of(eps[0]), (std::vector<std::string>{"/echo", "/ops/metrics", "/ops/health"}));
  EXPECT_EQ(find_route(eps[0], "127.0.80.1:8080", "/echo").found->service->name, "e");
  EXPECT_EQ(find_route(eps[0], "127.0.80.1:8080", "/ops/health").found->service->name, "m");
}

TEST(management_routes, a_clash_with_another_service_path_is_refused) {
  config::gateway_config c;
  c.services.push_back(service_of(config::service_type::echo, "e", "ws://127.0.80.1:8080/metrics"));
  c.services.push_back(service_of(config::service_type::management, "m", "http://127.0.80.1:8080/"));
  try {
    build_endpoints(c);
    FAIL() << "no error";
  } catch (const route_error& e) {
    EXPECT_NE(std::string(e.what()).find("service 'm'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("service 'e'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace postern::gateway
