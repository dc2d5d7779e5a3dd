// values: the scalar values of gateway-config.xml. Pure functions over trimmed or untrimmed
// text (surrounding whitespace is ignored); each returns the value or a sentence that quotes
// the text and says what was expected, for the loader to put behind file:line:column.
//
// Durations, as KAAZING writes them: a number, optionally with a fraction, and an optional unit
// after optional spaces. Units (any case): ms, msec(s), millisecond(s); s, sec(s), second(s);
// m, min(s), minute(s); h, hr(s), hour(s). No unit means seconds. "1.5 seconds" is 1500 ms; a
// value that is not a whole number of milliseconds ("0.5 ms") and a negative one are refused.
//
// Sizes: a whole number of bytes with an optional unit after optional spaces. Units (any case)
// are binary multiples: b (bytes); k, kb, kib (1024); m, mb, mib (1024^2); g, gb, gib (1024^3).
// So "128k", "128K", "128kB" and "128 KiB" are all 131072 bytes: KAAZING reads "kB" as 1024,
// and postern reads "MiB" rather than refuse a correct spelling. Fractions are refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace postern::config {

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);
std::expected<std::uint64_t, std::string> parse_size(std::string_view text);

// true, yes, on, enabled / false, no, off, disabled (any case).
std::expected<bool, std::string> parse_boolean(std::string_view text);

// A whole decimal number within [min, max].
std::expected<std::uint64_t, std::string> parse_unsigned(std::string_view text, std::uint64_t min, std::uint64_t max);

// CPU numbers as taskset writes them: "0,2", "0-3", "0-1,4" (spaces allowed around items).
// Every CPU is below max_cpu_count; none may appear twice; the order written is kept.
inline constexpr int max_cpu_count = 1024;  // CPU_SETSIZE
std::expected<std::vector<int>, std::string> parse_cpu_list(std::string_view text);

}  // namespace postern::config
