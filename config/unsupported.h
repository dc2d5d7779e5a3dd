// unsupported: KAAZING features that postern refuses by name, each with the reason shown to the
// user. Nothing of KAAZING's is ignored silently: a name found here is an error, a name found
// nowhere is "unknown". Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace postern::config {

// The reason a KAAZING service type is refused ("directory", "class:com.example.X", ...);
// nullopt when type is not one of KAAZING's.
std::optional<std::string_view> unsupported_service_type(std::string_view type);

// The reason the KAAZING element `name` is refused inside `parent` (e.g. "realm-name" in
// "service", "realm" in "security"); nullopt when it is not one of KAAZING's there.
std::optional<std::string_view> unsupported_element(std::string_view parent, std::string_view name);

// The reason a KAAZING accept/connect option is refused (tls.* spelled as ssl.*).
std::optional<std::string_view> unsupported_option(std::string_view name);

// The reason a KAAZING URI scheme is refused ("pipe", "sse", "wsn", ...).
std::optional<std::string_view> unsupported_scheme(std::string_view scheme);

// "<what> is a KAAZING feature postern does not implement (<reason>)".
std::string not_implemented(std::string_view what, std::string_view reason);

}  // namespace postern::config
