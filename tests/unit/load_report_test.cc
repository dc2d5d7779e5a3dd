#include "bench/load/report.h"

#include <gtest/gtest.h>

#include <string>

namespace postern::load {
namespace {

load_report sample() {
  load_report r;
  r.url = "ws://127.0.40.1:8000/echo";
  r.loop = "closed";
  r.backend = "io_uring";
  r.connections = 100;
  r.in_flight = 8;
  r.size_bytes = 64;
  r.threads = 1;
  r.warmup_s = 2;
  r.duration_s = 5.0004;
  r.messages = 1'000'000;
  r.msgs_per_s = 199'984.0;
  r.mb_per_s = 12.799;
  r.p50_us = 31.25;
  r.p90_us = 40.0;
  r.p99_us = 77.7;
  r.p999_us = 120.05;
  r.max_us = 2001.0;
  r.client_cpu_s = 2.5;
  r.client_cpu_percent = 50.0;
  r.open_connections = 100;
  return r;
}

TEST(load_report, json_has_every_field_in_order) {
  EXPECT_EQ(format_json(sample()),
            "{\"url\": \"ws://127.0.40.1:8000/echo\", \"loop\": \"closed\", \"connections\": 100, "
            "\"in_flight\": 8, \"size\": 64, \"text\": false, \"rate\": 0.0, \"threads\": 1, "
            "\"backend\": \"io_uring\", \"warmup_s\": 2.000, \"duration_s\": 5.000, \"messages\": 1000000, "
            "\"errors\": 0, \"msgs_per_s\": 199984.0, \"mb_per_s\": 12.799, \"p50_us\": 31.2, \"p90_us\": 40.0, "
            "\"p99_us\": 77.7, \"p999_us\": 120.0, \"max_us\": 2001.0, \"client_cpu_s\": 2.500, "
            "\"client_cpu_percent\": 50.0, \"open_connections\": 100, \"connect_errors\": 0, "
            "\"echo_errors\": 0, \"connection_errors\": 0, \"lost_messages\": 0, \"held_sends\": 0}");
}

TEST(load_report, json_escapes_the_url) {
  load_report r = sample();
  r.url = "ws://h/\"a\\b\x01";
  const std::string json = format_json(r);
  EXPECT_NE(json.find("\"url\": \"ws://h/\\\"a\\\\b\\u0001\""), std::string::npos) << json;
}

TEST(load_report, errors_add_up) {
  load_report r = sample();
  r.connect_errors = 1;
  r.echo_errors = 2;
  r.connection_errors = 3;
  r.lost_messages = 40;
  EXPECT_EQ(r.errors(), 46u);
  EXPECT_NE(format_json(r).find("\"errors\": 46,"), std::string::npos);
  const std::string summary = format_summary(r);
  EXPECT_NE(summary.find("errors: 46 (connect 1, echo mismatch 2, connection lost 3, messages lost 40)\n"),
            std::string::npos)
      << summary;
}

TEST(load_report, summary_of_a_closed_loop_run) {
  EXPECT_EQ(format_summary(sample()),
            "postern-load ws://127.0.40.1:8000/echo: 100 connections, 8 in flight, 64 B binary, closed loop, "
            "1 thread(s), io_uring\n"
            "window 5.00 s after 2.00 s warmup: 1000000 messages, 199984 msgs/s, 12.80 MB/s\n"
            "latency us: p50 31.2  p90 40.0  p99 77.7  p99.9 120.0  max 2001.0\n"
            "client CPU: 2.50 s (50 % of one core)\n"
            "errors: 0\n");
}

TEST(load_report, summary_of_open_loop_and_saturation) {
  load_report r = sample();
  r.loop = "open";
  r.rate_per_s = 50'000;
  r.held_sends = 12;
  r.text = true;
  r.threads = 2;
  r.client_cpu_percent = 185;
  const std::string summary = format_summary(r);
  EXPECT_NE(summary.find("64 B text, open loop at 50000 msgs/s, 2 thread(s)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("held sends: 12 messages waited for a free in-flight slot\n"), std::string::npos);
  EXPECT_NE(summary.find("(185 % of one core): the load generator was saturated"), std::string::npos) << summary;
  r.client_cpu_percent = 170;  // below 90 % of two threads
  EXPECT_EQ(format_summary(r).find("saturated"), std::string::npos);
}

TEST(load_report, summary_of_a_hold_run) {
  load_report r = sample();
  r.loop = "hold";
  r.open_connections = 97;
  r.connection_errors = 3;
  const std::string summary = format_summary(r);
  EXPECT_NE(summary.find("100 connections, held idle, 1 thread(s), io_uring\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("held 5.00 s: 97 of 100 connections open at the end\n"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("latency"), std::string::npos);
}

}  // namespace
}  // namespace postern::load
