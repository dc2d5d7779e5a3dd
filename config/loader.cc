// loader: the document as a whole. Reads the file, checks the root, substitutes properties,
// then reads each section and checks what spans services (unique names, unique accepts).
#include "config/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/diagnostic.h"
#include "config/properties.h"
#include "config/schema.h"
#include "config/sections.h"
#include "config/service.h"
#include "core/unique_fd.h"

namespace postern::config {

namespace {

constexpr std::string_view gateway_namespace = "http://xmlns.kaazing.org/2016/06/gateway";
constexpr std::string_view xsi_namespace = "http://www.w3.org/2001/XMLSchema-instance";

constexpr child_rule root_rules[] = {
    {"properties", 0, 1}, {"service", 1, unbounded}, {"service-defaults", 0, 1},
    {"security", 0, 1},   {"cluster", 0, 1},         {"reactor", 0, 1},
};

std::string at_text(xml_position at) { return std::to_string(at.line) + ":" + std::to_string(at.column); }

void check_root(const xml_document& doc) {
  const xml_element& root = doc.root;
  if (root.name != "gateway-config") {
    fail(doc, root.position,
         "the root element is " + tag(root.name) + "; expected <gateway-config xmlns=\"" +
             std::string(gateway_namespace) + "\">");
  }
  const std::string& ns = root.namespace_uri;
  if (!ns.empty() && ns != gateway_namespace) {
    if (ns.starts_with("http://xmlns.kaazing.com/") || ns.starts_with("http://xmlns.kaazing.org/")) {
      fail(doc, root.position,
           "<gateway-config> is in the namespace " + ns +
               ", an older KAAZING schema; postern reads the 2016/06 "
               "schema: update the xmlns to " +
               std::string(gateway_namespace) + " (and the file to that schema)");
    }
    fail(doc, root.position,
         "<gateway-config> is in the namespace " + ns + "; expected " + std::string(gateway_namespace) +
             " or no namespace");
  }
  for (const xml_attribute& attribute : root.attributes) {
    if (attribute.namespace_uri == xsi_namespace) continue;  // xsi:schemaLocation and the like
    fail(doc, attribute.position,
         "unknown attribute '" + attribute.qualified_name +
             "' on <gateway-config>; it takes only xmlns and xsi: "
             "attributes");
  }
  refuse_text(doc, root);
}

// Names are unique across services; so is every accept URI (a balancer's accept may equal
// other services' <balance>: that is how balancing is written).
void check_across_services(const xml_document& doc, const std::vector<parsed_service>& services) {
  for (std::size_t i = 0; i < services.size(); ++i) {
    const parsed_service& later = services[i];
    for (std::size_t j = 0; j < i; ++j) {
      const parsed_service& earlier = services[j];
      if (earlier.config.name == later.config.name) {
        fail(doc, later.name_position,
             "duplicate service name " + quoted(later.config.name) + " (the first is at " +
                 at_text(earlier.name_position) + "); service names must be unique");
      }
      for (std::size_t a = 0; a < later.config.accepts.size(); ++a) {
        for (std::size_t b = 0; b < earlier.config.accepts.size(); ++b) {
          if (later.config.accepts[a] != earlier.config.accepts[b]) continue;
          fail(doc, later.accept_positions[a],
               "<accept> " + quoted(later.accept_texts[a]) + " is also an accept of service " +
                   quoted(earlier.config.name) + " (at " + at_text(earlier.accept_positions[b]) +
                   "); an accept URI belongs to one service");
        }
      }
    }
  }
}

std::shared_ptr<const gateway_config> build(xml_document& doc, const load_options& options) {
  check_root(doc);
  substitute_properties(doc, collect_properties(doc, options));
  check_children(doc, doc.root, root_rules);

  auto config = std::make_shared<gateway_config>();
  config->source_file = doc.file;
  if (const xml_element* security = child_named(doc.root, "security")) {
    config->security = parse_security(doc, *security);
  }
  service_defaults defaults;
  if (const xml_element* element = child_named(doc.root, "service-defaults")) {
    defaults = parse_service_defaults(doc, *element);
  }
  std::string shared_fingerprint;
  for (const char* name : {"service-defaults", "security"})
    if (const xml_element* element = child_named(doc.root, name)) shared_fingerprint += canonical_text(*element);
  for (const char* name : {"cluster", "reactor"})
    if (const xml_element* element = child_named(doc.root, name)) config->fixed_fingerprint += canonical_text(*element);
  std::vector<parsed_service> services;
  for (const xml_element* element : children_named(doc.root, "service")) {
    parsed_service service = parse_service(doc, *element);
    service.config.fingerprint = canonical_text(*element) + shared_fingerprint;
    complete_service(doc, service, defaults.accept_options, defaults.connect_options, config->security);
    services.push_back(std::move(service));
  }
  check_across_services(doc, services);
  for (parsed_service& service : services) config->services.push_back(std::move(service.config));
  if (const xml_element* cluster = child_named(doc.root, "cluster")) {
    config->cluster = parse_cluster(doc, *cluster, config->warnings);
  }
  if (const xml_element* reactor = child_named(doc.root, "reactor")) config->reactor = parse_reactor(doc, *reactor);
  return config;
}

[[noreturn]] void fail_file(const std::string& path, const std::string& message) {
  throw config_error(source_location{path, 0, 0}, message);
}

std::string too_large(std::size_t bytes) {
  return "the file is " + std::to_string(bytes) + " bytes; the limit for gateway-config.xml is " +
         std::to_string(max_config_file_bytes) + " bytes (4 MiB)";
}

}  // namespace

std::shared_ptr<const gateway_config> load_config_text(const std::string& text, const std::string& name,
                                                       const load_options& options) {
  if (text.size() > max_config_file_bytes) fail_file(name, too_large(text.size()));
  xml_document doc = parse_xml(text, name);
  return build(doc, options);
}

std::shared_ptr<const gateway_config> load_config(const std::string& path, const load_options& options) {
  core::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail_file(path, std::string("cannot open the file: ") + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) fail_file(path, std::string("cannot read the file: ") + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail_file(path, "not a regular file");
  if (static_cast<std::uint64_t>(info.st_size) > max_config_file_bytes) {
    fail_file(path, too_large(static_cast<std::size_t>(info.st_size)));
  }
  std::string text;
  text.resize(max_config_file_bytes + 1);
  std::size_t length = 0;
  while (length < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + length, text.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_file(path, std::string("cannot read the file: ") + std::strerror(errno));
    if (n == 0) break;
    length += static_cast<std::size_t>(n);
  }
  if (length > max_config_file_bytes) fail_file(path, too_large(length));  // it grew while we read
  text.resize(length);
  return load_config_text(text, path, options);
}

}  // namespace postern::config
