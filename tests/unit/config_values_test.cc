// config/values: durations, sizes, booleans, whole numbers and CPU lists.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/values.h"

namespace postern::config {
namespace {

using std::chrono::milliseconds;

TEST(ConfigValues, DurationsAsKaazingWritesThem) {
  const struct {
    std::string_view text;
    long long ms;
  } table[] = {
      {"500 ms", 500},
      {"500ms", 500},
      {"500 MS", 500},
      {"2 milliseconds", 2},
      {"1 millisecond", 1},
      {"3 msec", 3},
      {"2 seconds", 2000},
      {"1 second", 1000},
      {"2s", 2000},
      {"2 sec", 2000},
      {"3 secs", 3000},
      {"1 minute", 60'000},
      {"3 minutes", 180'000},
      {"1 min", 60'000},
      {"2m", 120'000},
      {"1 hour", 3'600'000},
      {"2 hours", 7'200'000},
      {"1h", 3'600'000},
      {"1 hr", 3'600'000},
      {"30", 30'000},
      {"0", 0},
      {"  60 seconds\n", 60'000},
      {"1.5 seconds", 1500},
      {"0.25s", 250},
      {"1.5 min", 90'000},
      {"2.5", 2500},
      {".5 s", 500},
      {"1.000 ms", 1},
      {"0.001", 1},
  };
  for (const auto& row : table) {
    const auto parsed = parse_duration(row.text);
    ASSERT_TRUE(parsed.has_value()) << row.text << ": " << parsed.error();
    EXPECT_EQ(*parsed, milliseconds(row.ms)) << row.text;
  }
}

TEST(ConfigValues, DurationErrorsQuoteTheTextAndTheUnits) {
  const std::string units =
      "; expected a number and a unit: ms, s (seconds), min (minutes) or h (hours), as in '500 ms', "
      "'2 seconds', '1.5 min'; a bare number is seconds";
  const struct {
    std::string_view text;
    std::string message;
  } table[] = {
      {"-5 s", "'-5 s' is not a duration (it is negative)" + units},
      {"fast", "'fast' is not a duration" + units},
      {"", "'' is not a duration" + units},
      {"5 fortnights", "'5 fortnights' is not a duration" + units},
      {"5 s 3", "'5 s 3' is not a duration" + units},
      {"h", "'h' is not a duration" + units},
      {"0.5 ms", "'0.5 ms' is not a duration (finer than a millisecond)" + units},
      {"1.0001", "'1.0001' is not a duration (finer than a millisecond)" + units},
      {"99999999999999999999 s", "'99999999999999999999 s' is not a duration (too large)" + units},
      {"9999999999999999 h", "'9999999999999999 h' is not a duration (too large)" + units},
      {"1,5 s", "'1,5 s' is not a duration" + units},
  };
  for (const auto& row : table) {
    const auto parsed = parse_duration(row.text);
    ASSERT_FALSE(parsed.has_value()) << row.text;
    EXPECT_EQ(parsed.error(), row.message);
  }
}

TEST(ConfigValues, Sizes) {
  const struct {
    std::string_view text;
    std::uint64_t bytes;
  } table[] = {
      {"0", 0},           {"1048576", 1048576}, {"512b", 512},      {"128k", 131072},       {"128K", 131072},
      {"128kB", 131072},  {"128 KiB", 131072},  {"128 kb", 131072}, {"64m", 67108864},      {"64M", 67108864},
      {"1 MiB", 1048576}, {"1MB", 1048576},     {"1g", 1073741824}, {"2 GiB", 2147483648u}, {" 16k \n", 16384},
  };
  for (const auto& row : table) {
    const auto parsed = parse_size(row.text);
    ASSERT_TRUE(parsed.has_value()) << row.text << ": " << parsed.error();
    EXPECT_EQ(*parsed, row.bytes) << row.text;
  }
}

TEST(ConfigValues, SizeErrors) {
  const std::string expected =
      "; expected a whole number of bytes, optionally with k, m or g (binary multiples: 128k is 131072 bytes)";
  const struct {
    std::string_view text;
    std::string message;
  } table[] = {
      {"big", "'big' is not a size" + expected},
      {"-1k", "'-1k' is not a size (it is negative)" + expected},
      {"1.5m", "'1.5m' is not a size (no fractions: write 1536k rather than 1.5m)" + expected},
      {"12 t", "'12 t' is not a size" + expected},
      {"k", "'k' is not a size" + expected},
      {"17179869184g", "'17179869184g' is not a size (too large)" + expected},
  };
  for (const auto& row : table) {
    const auto parsed = parse_size(row.text);
    ASSERT_FALSE(parsed.has_value()) << row.text;
    EXPECT_EQ(parsed.error(), row.message);
  }
}

TEST(ConfigValues, Booleans) {
  for (std::string_view yes : {"true", "TRUE", "yes", "on", "enabled", " true "}) {
    EXPECT_EQ(parse_boolean(yes), true) << yes;
  }
  for (std::string_view no : {"false", "False", "no", "off", "disabled"}) EXPECT_EQ(parse_boolean(no), false) << no;
  EXPECT_EQ(parse_boolean("maybe").error(),
            "'maybe' is not a boolean; expected true or false (or yes/no, on/off, enabled/disabled)");
}

TEST(ConfigValues, WholeNumbers) {
  EXPECT_EQ(parse_unsigned("0", 0, 10), 0u);
  EXPECT_EQ(parse_unsigned(" 10 ", 0, 10), 10u);
  EXPECT_EQ(parse_unsigned("11", 0, 10).error(), "'11' is not a whole number from 0 to 10");
  EXPECT_EQ(parse_unsigned("0", 1, 10).error(), "'0' is not a whole number from 1 to 10");
  EXPECT_EQ(parse_unsigned("-1", 0, 10).error(), "'-1' is not a whole number from 0 to 10");
  EXPECT_EQ(parse_unsigned("4x", 0, 10).error(), "'4x' is not a whole number from 0 to 10");
  EXPECT_EQ(parse_unsigned("99999999999999999999", 0, 10).error(),
            "'99999999999999999999' is not a whole number from 0 to 10");
}

TEST(ConfigValues, CpuLists) {
  EXPECT_EQ(parse_cpu_list("0,2"), (std::vector<int>{0, 2}));
  EXPECT_EQ(parse_cpu_list("0-3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(parse_cpu_list(" 0-1, 4 ,6-7"), (std::vector<int>{0, 1, 4, 6, 7}));
  EXPECT_EQ(parse_cpu_list("5"), (std::vector<int>{5}));
  EXPECT_EQ(parse_cpu_list("1023"), (std::vector<int>{1023}));
  const std::string expected =
      "; expected CPU numbers from 0 to 1023 and ranges separated by commas, as in '0,2' or '0-3' or '0-1,4'";
  EXPECT_EQ(parse_cpu_list("").error(), "'' is not a CPU list (it is empty)" + expected);
  EXPECT_EQ(parse_cpu_list("3-1").error(), "'3-1' is not a CPU list (range '3-1' runs backwards)" + expected);
  EXPECT_EQ(parse_cpu_list("0-2,2").error(), "'0-2,2' is not a CPU list (CPU 2 appears twice)" + expected);
  EXPECT_EQ(parse_cpu_list("1024").error(), "'1024' is not a CPU list" + expected);
  EXPECT_EQ(parse_cpu_list("0,,1").error(), "'0,,1' is not a CPU list" + expected);
  EXPECT_EQ(parse_cpu_list("a-b").error(), "'a-b' is not a CPU list" + expected);
}

}  // namespace
}  // namespace postern::config
