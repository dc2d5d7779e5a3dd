// loader: reads gateway-config.xml with expat into a gateway_config (DESIGN §7). Cold code: it
// throws config_error, whose message starts with file:line:column and says what was expected.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/gateway_config.h"

namespace postern::config {

class config_error : public std::runtime_error {
 public:
  config_error(source_location where, const std::string& message);
  const source_location& where() const noexcept { return _where; }

 private:
  source_location _where;
};

struct load_options {
  // -D name=value from the command line: they win over the file's <properties>.
  std::vector<std::pair<std::string, std::string>> defines;
  // ${hostname}; empty means gethostname().
  std::string hostname;
};

// Limits that keep a hostile file from costing much.
inline constexpr std::size_t max_config_file_bytes = 4 * 1024 * 1024;
inline constexpr unsigned max_element_depth = 32;
inline constexpr std::size_t max_text_bytes = 64 * 1024;

std::shared_ptr<const gateway_config> load_config(const std::string& path, const load_options& options);
// The same from a string (tests): name is used as the file name in messages.
std::shared_ptr<const gateway_config> load_config_text(const std::string& text, const std::string& name,
                                                       const load_options& options);

}  // namespace postern::config
