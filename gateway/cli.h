// cli: the postern command line. Pure: parses argv into cli_options or a message for the user.
//   postern -c FILE [-D name=value]... [--access-log FILE|-|off] [--check] [--version] [--help]
#pragma once

#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::gateway {

struct cli_options {
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> defines;  // -D name=value, in order
  std::string access_log = "-";  // a file, "-" (standard output) or "off"
  bool check = false;
  bool version = false;
  bool help = false;
};

// argv without the program name. On failure: a sentence naming the bad argument.
std::expected<cli_options, std::string> parse_cli(std::span<const std::string_view> args);

std::string usage_text(std::string_view program);

inline constexpr std::string_view postern_version = "0.1.0";

}  // namespace postern::gateway
