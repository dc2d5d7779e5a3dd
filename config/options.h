// options: <accept-options> and <connect-options>, of a service or of <service-defaults>.
// Cold code.
//
// Every "tls." spelling is an alias of "ssl." (tls.bind, tls.ciphers, socks.tls.verify-client),
// as in KAAZING: an option and its alias in one block are a duplicate. The *.bind options other
// than tcp.bind name listening addresses and are refused in <connect-options> (tcp.bind there
// is the local source address). KAAZING options postern does not implement are refused by name
// (unsupported.h); any other unknown option is an error listing the known ones.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "config/gateway_config.h"
#include "config/xml_tree.h"

namespace postern::config {

struct parsed_options {
  service_options values;
  // Where and how each option was written, by canonical name ("ssl.ciphers" for tls.ciphers too).
  struct written_option {
    xml_position position;  // of the option element
    std::string name;       // as written ("tls.ciphers")
    std::string text;       // trimmed value, after substitution
  };
  std::map<std::string, written_option, std::less<>> written;

  // The option as written, or nullptr when the block does not set it.
  const written_option* find(std::string_view canonical_name) const;
};

// "ssl.x" for "tls.x", "socks.ssl.x" for "socks.tls.x"; other names unchanged.
std::string canonical_option_name(std::string_view name);

// Reads one <accept-options> or <connect-options> element.
parsed_options parse_options(const xml_document& doc, const xml_element& block);

// Fills every option that own leaves unset from defaults: a service's own value wins, option by
// option (the TLS options field by field).
void merge_defaults(parsed_options& own, const parsed_options& defaults);

}  // namespace postern::config
