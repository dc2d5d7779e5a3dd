#include "gateway/cli.h"

namespace postern::gateway {

namespace {

// "-D name=value", "-Dname=value" and "--define name=value" all define a property.
std::expected<std::pair<std::string, std::string>, std::string> parse_define(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return std::unexpected("-D expects name=value, got '" + std::string(text) + "'");
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace

std::expected<cli_options, std::string> parse_cli(std::span<const std::string_view> args) {
  cli_options out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string_view flag) -> std::expected<std::string_view, std::string> {
      if (i + 1 >= args.size()) return std::unexpected(std::string(flag) + " needs a value");
      return args[++i];
    };
    if (a == "-c" || a == "--config") {
      auto v = value(a);
      if (!v) return std::unexpected(v.error());
      if (!out.config_path.empty()) return std::unexpected("-c given twice");
      out.config_path = std::string(*v);
    } else if (a == "-D" || a == "--define") {
      auto v = value(a);
      if (!v) return std::unexpected(v.error());
      auto d = parse_define(*v);
      if (!d) return std::unexpected(d.error());
      out.defines.push_back(std::move(*d));
    } else if (a.starts_with("-D") && a.size() > 2) {
      auto d = parse_define(a.substr(2));
      if (!d) return std::unexpected(d.error());
      out.defines.push_back(std::move(*d));
    } else if (a == "--access-log") {
      auto v = value(a);
      if (!v) return std::unexpected(v.error());
      if (v->empty()) return std::unexpected("--access-log needs a file, - (standard output) or off");
      out.access_log = std::string(*v);
    } else if (a == "--check") {
      out.check = true;
    } else if (a == "--version" || a == "-V") {
      out.version = true;
    } else if (a == "--help" || a == "-h") {
      out.help = true;
    } else {
      return std::unexpected("unknown argument '" + std::string(a) + "'");
    }
  }
  if (!out.help && !out.version && out.config_path.empty())
    return std::unexpected("no config file: use -c FILE");
  return out;
}

std::string usage_text(std::string_view program) {
  std::string p(program);
  return "usage: " + p + " -c FILE [-D name=value]... [--access-log FILE|-|off] [--check] [--version] [--help]\n"
         "  -c FILE          the gateway-config.xml to serve\n"
         "  -D name=value    set a property; wins over the file's <properties>\n"
         "  --access-log D   one line per closed connection to file D, - (standard output,\n"
         "                   the default) or off\n"
         "  --check          validate FILE, print the effective services, exit 0 or 1\n"
         "  --version        print the version\n"
         "  --help           this text\n"
         "environment: POSTERN_BACKEND=io_uring|epoll forces a reactor back end;\n"
         "             POSTERN_LOG_LEVEL=debug|info|warn|error\n";
}

}  // namespace postern::gateway
