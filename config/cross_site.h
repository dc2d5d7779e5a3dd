// cross_site: <cross-site-constraint> of a service (KAAZING §2.5). Cold code.
//
// allow-origin (required) is "*" or http(s)://host[:port] with no path, query or fragment; it
// is stored with the default port filled in ("http://example.com:80"), the host lower-case.
// allow-methods (default GET, POST) and allow-headers are comma lists of HTTP tokens;
// maximum-age is a duration. Within one service an origin may appear once, and "*" must be the
// only constraint.
#pragma once

#include <vector>

#include "config/gateway_config.h"
#include "config/xml_tree.h"

namespace postern::config {

// Reads one <cross-site-constraint>.
cross_site_constraint parse_cross_site(const xml_document& doc, const xml_element& element);

// Reads every <cross-site-constraint> child of a <service> and checks them as a set.
std::vector<cross_site_constraint> parse_cross_sites(const xml_document& doc, const xml_element& service);

}  // namespace postern::config
