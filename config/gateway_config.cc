#include "config/gateway_config.h"

namespace postern::config {

std::string_view to_string(service_type type) {
  switch (type) {
    case service_type::echo:
      return "echo";
    case service_type::proxy:
      return "proxy";
    case service_type::balancer:
      return "balancer";
    case service_type::management:
      return "management";
  }
  return "unknown";
}

}  // namespace postern::config
