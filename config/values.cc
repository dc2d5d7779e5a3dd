#include "config/values.h"

#include <algorithm>
#include <limits>

namespace postern::config {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

std::string quote(std::string_view text) { return "'" + std::string(text) + "'"; }

// Reads leading decimal digits into value; false on overflow. Advances text past them.
bool read_digits(std::string_view& text, std::uint64_t& value, std::size_t& count) {
  value = 0;
  count = 0;
  while (!text.empty() && is_digit(text.front())) {
    if (__builtin_mul_overflow(value, 10u, &value) ||
        __builtin_add_overflow(value, static_cast<std::uint64_t>(text.front() - '0'), &value)) {
      return false;
    }
    text.remove_prefix(1);
    ++count;
  }
  return true;
}

template <std::size_t N>
bool one_of(const std::string& word, const std::string_view (&words)[N]) {
  return std::find(std::begin(words), std::end(words), word) != std::end(words);
}

constexpr std::string_view duration_expectation =
    "expected a number and a unit: ms, s (seconds), min (minutes) or h (hours), as in '500 ms', "
    "'2 seconds', '1.5 min'; a bare number is seconds";

std::expected<std::uint64_t, std::string> duration_unit_ms(const std::string& unit) {
  static constexpr std::string_view ms[] = {"ms", "msec", "msecs", "millisecond", "milliseconds"};
  static constexpr std::string_view s[] = {"", "s", "sec", "secs", "second", "seconds"};
  static constexpr std::string_view m[] = {"m", "min", "mins", "minute", "minutes"};
  static constexpr std::string_view h[] = {"h", "hr", "hrs", "hour", "hours"};
  if (one_of(unit, ms)) return 1;
  if (one_of(unit, s)) return 1000;
  if (one_of(unit, m)) return 60'000;
  if (one_of(unit, h)) return 3'600'000;
  return std::unexpected(std::string());
}

}  // namespace

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  const std::string_view original = trim(text);
  auto refuse = [&](std::string_view why) {
    return std::unexpected(quote(original) + " is not a duration" + std::string(why) + "; " +
                           std::string(duration_expectation));
  };
  std::string_view rest = original;
  if (!rest.empty() && rest.front() == '-') return refuse(" (it is negative)");
  std::uint64_t whole = 0;
  std::uint64_t fraction = 0;
  std::size_t whole_digits = 0;
  std::size_t fraction_digits = 0;
  if (!read_digits(rest, whole, whole_digits)) return refuse(" (too large)");
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    if (!read_digits(rest, fraction, fraction_digits) || fraction_digits > 18) return refuse(" (too many decimals)");
  }
  if (whole_digits + fraction_digits == 0) return refuse("");
  const auto unit = duration_unit_ms(lower(trim(rest)));
  if (!unit) return refuse("");

  using wide = unsigned __int128;
  wide scale = 1;
  for (std::size_t i = 0; i < fraction_digits; ++i) scale *= 10;
  const wide fraction_ms = static_cast<wide>(fraction) * *unit;
  if (fraction_ms % scale != 0) return refuse(" (finer than a millisecond)");
  const wide total = static_cast<wide>(whole) * *unit + fraction_ms / scale;
  if (total > static_cast<wide>(std::numeric_limits<std::chrono::milliseconds::rep>::max())) {
    return refuse(" (too large)");
  }
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(total));
}

std::expected<std::uint64_t, std::string> parse_size(std::string_view text) {
  const std::string_view original = trim(text);
  auto refuse = [&](std::string_view why) {
    return std::unexpected(quote(original) + " is not a size" + std::string(why) +
                           "; expected a whole number of bytes, optionally with k, m or g (binary multiples: "
                           "128k is 131072 bytes)");
  };
  std::string_view rest = original;
  if (!rest.empty() && rest.front() == '-') return refuse(" (it is negative)");
  std::uint64_t count = 0;
  std::size_t digits = 0;
  if (!read_digits(rest, count, digits)) return refuse(" (too large)");
  if (digits == 0) return refuse("");
  if (!rest.empty() && rest.front() == '.') return refuse(" (no fractions: write 1536k rather than 1.5m)");
  const std::string unit = lower(trim(rest));
  static constexpr std::string_view bytes[] = {"", "b"};
  static constexpr std::string_view kilo[] = {"k", "kb", "kib"};
  static constexpr std::string_view mega[] = {"m", "mb", "mib"};
  static constexpr std::string_view giga[] = {"g", "gb", "gib"};
  std::uint64_t multiple = 0;
  if (one_of(unit, bytes))
    multiple = 1;
  else if (one_of(unit, kilo))
    multiple = 1ull << 10;
  else if (one_of(unit, mega))
    multiple = 1ull << 20;
  else if (one_of(unit, giga))
    multiple = 1ull << 30;
  else
    return refuse("");
  std::uint64_t total = 0;
  if (__builtin_mul_overflow(count, multiple, &total)) return refuse(" (too large)");
  return total;
}

std::expected<bool, std::string> parse_boolean(std::string_view text) {
  const std::string word = lower(trim(text));
  if (word == "true" || word == "yes" || word == "on" || word == "enabled") return true;
  if (word == "false" || word == "no" || word == "off" || word == "disabled") return false;
  return std::unexpected(quote(trim(text)) +
                         " is not a boolean; expected true or false (or yes/no, on/off, "
                         "enabled/disabled)");
}

std::expected<std::uint64_t, std::string> parse_unsigned(std::string_view text, std::uint64_t min, std::uint64_t max) {
  const std::string_view original = trim(text);
  std::string_view rest = original;
  std::uint64_t value = 0;
  std::size_t digits = 0;
  const bool fits = read_digits(rest, value, digits);
  if (!fits || digits == 0 || !rest.empty() || value < min || value > max) {
    return std::unexpected(quote(original) + " is not a whole number from " + std::to_string(min) + " to " +
                           std::to_string(max));
  }
  return value;
}

std::expected<std::vector<int>, std::string> parse_cpu_list(std::string_view text) {
  const std::string_view original = trim(text);
  auto refuse = [&](const std::string& why) {
    return std::unexpected(quote(original) + " is not a CPU list" + why + "; expected CPU numbers from 0 to " +
                           std::to_string(max_cpu_count - 1) +
                           " and ranges separated by commas, as in '0,2' or '0-3' or '0-1,4'");
  };
  std::vector<int> cpus;
  std::string_view rest = original;
  if (rest.empty()) return refuse(" (it is empty)");
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    const std::size_t dash = item.find('-');
    const auto first = parse_unsigned(item.substr(0, dash), 0, max_cpu_count - 1);
    if (!first) return refuse("");
    auto last = first;
    if (dash != std::string_view::npos) {
      last = parse_unsigned(item.substr(dash + 1), 0, max_cpu_count - 1);
      if (!last) return refuse("");
      if (*last < *first) return refuse(" (range " + quote(item) + " runs backwards)");
    }
    for (auto cpu = *first; cpu <= *last; ++cpu) {
      if (std::find(cpus.begin(), cpus.end(), static_cast<int>(cpu)) != cpus.end()) {
        return refuse(" (CPU " + std::to_string(cpu) + " appears twice)");
      }
      cpus.push_back(static_cast<int>(cpu));
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return cpus;
}

}  // namespace postern::config
