#include "config/properties.h"

#include <unistd.h>

#include <climits>

#include "config/diagnostic.h"
#include "config/schema.h"

namespace postern::config {

namespace {

std::string_view trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::string local_hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return {};
  return name;
}

constexpr child_rule properties_rules[] = {{"property", 0, unbounded}};
constexpr child_rule property_rules[] = {{"name", 1, 1}, {"value", 1, 1}};

void read_properties_block(const xml_document& doc, const xml_element& block, property_sources& sources,
                           std::map<std::string, xml_position, std::less<>>& defined_at) {
  for (const xml_element& child : block.children) {
    if (child.name == "name" || child.name == "value") {
      fail(doc, child.position,
           tag(child.name) +
               " directly inside <properties>: wrap each name and value in <property> "
               "(<property><name>...</name><value>...</value></property>); KAAZING's "
               "Enterprise Shield walkthrough leaves the wrapper out, which the product refuses too");
    }
  }
  check_element(doc, block, properties_rules);
  for (const xml_element& property : block.children) {
    check_element(doc, property, property_rules);
    const xml_element& name_element = *child_named(property, "name");
    const std::string_view name = required_text(doc, name_element);
    if (name.find_first_of("{}") != std::string_view::npos) {
      fail(doc, name_element.text.start, "property name " + quoted(name) + " cannot hold '{' or '}'");
    }
    const std::string_view value = text_of(doc, *child_named(property, "value"));
    if (const auto seen = defined_at.find(name); seen != defined_at.end()) {
      fail(doc, name_element.text.start,
           "property " + quoted(name) + " is defined twice (the first is at " + std::to_string(seen->second.line) +
               ":" + std::to_string(seen->second.column) + ")");
    }
    defined_at.emplace(std::string(name), name_element.text.start);
    sources.file.emplace(std::string(name), std::string(value));
  }
}

std::string unresolved_message(const property_sources& sources, const std::string& name) {
  if (name.empty()) return "property reference ${} names no property";
  const bool defined_empty = sources.defines.contains(name) || sources.file.contains(name);
  if (defined_empty) {
    return "property ${" + name + "} is empty (give it a value in <properties> or with -D " + name + "=value)";
  }
  return "property ${" + name + "} is not defined (define it in <properties> or with -D " + name + "=value)";
}

void substitute(const xml_document& doc, xml_text& text, const property_sources& sources) {
  if (text.value.find('$') == std::string::npos) return;
  auto expanded = expand_properties(text.value, sources, max_text_bytes);
  if (!expanded && expanded.error().too_long)
    fail(doc, text.position_of(expanded.error().offset),
         "substituting ${" + expanded.error().name + "} here makes the text longer than " +
             std::to_string(max_text_bytes / 1024) + " KiB");
  if (!expanded)
    fail(doc, text.position_of(expanded.error().offset), unresolved_message(sources, expanded.error().name));
  text.value = std::move(*expanded);
  text.pieces.clear();
}

void substitute_element(const xml_document& doc, xml_element& element, const property_sources& sources) {
  for (xml_attribute& attribute : element.attributes) substitute(doc, attribute.value, sources);
  substitute(doc, element.text, sources);
  for (xml_element& child : element.children) substitute_element(doc, child, sources);
}

}  // namespace

std::optional<std::string_view> property_sources::lookup(std::string_view name) const {
  if (auto it = defines.find(name); it != defines.end() && !it->second.empty()) return it->second;
  if (auto it = file.find(name); it != file.end() && !it->second.empty()) return it->second;
  if (name == "hostname" && !hostname.empty()) return hostname;
  return std::nullopt;
}

std::expected<std::string, expansion_error> expand_properties(std::string_view text, const property_sources& sources,
                                                              std::size_t max_bytes) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    std::size_t run_end = dollar;
    while (run_end < text.size() && text[run_end] == '$') ++run_end;
    const std::size_t run = run_end - dollar;
    if (run_end < text.size() && text[run_end] == '{') {
      const std::size_t close = text.find_first_of("{}", run_end + 1);
      if (close != std::string_view::npos && text[close] == '}') {
        const std::string_view name = text.substr(run_end + 1, close - run_end - 1);
        if (run == 1) {
          const auto value = sources.lookup(name);
          if (!value) return std::unexpected(expansion_error{dollar, std::string(name)});
          if (out.size() + value->size() > max_bytes)
            return std::unexpected(expansion_error{dollar, std::string(name), true});
          out.append(*value);
        } else {
          out.append(run - 1, '$');  // an escaped reference loses one '$' and stays literal
          out.append(text.substr(run_end, close + 1 - run_end));
        }
        i = close + 1;
        continue;
      }
    }
    out.append(run, '$');  // not a reference
    i = run_end;
  }
  return out;
}

property_sources collect_properties(const xml_document& doc, const load_options& options) {
  property_sources sources;
  for (const auto& [name, value] : options.defines) sources.defines[name] = std::string(trim(value));
  sources.hostname = options.hostname.empty() ? local_hostname() : options.hostname;

  std::map<std::string, xml_position, std::less<>> defined_at;
  const xml_element* first_block = nullptr;
  for (const xml_element& child : doc.root.children) {
    if (child.name != "properties") continue;
    if (first_block != nullptr) {
      fail(doc, child.position,
           "duplicate <properties> in <gateway-config> (the first is at " + std::to_string(first_block->position.line) +
               ":" + std::to_string(first_block->position.column) + "); put every <property> in one block");
    }
    first_block = &child;
    read_properties_block(doc, child, sources, defined_at);
  }
  return sources;
}

void substitute_properties(xml_document& doc, const property_sources& sources) {
  substitute_element(doc, doc.root, sources);
}

}  // namespace postern::config
