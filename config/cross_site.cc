#include "config/cross_site.h"

#include <string>

#include "config/diagnostic.h"
#include "config/schema.h"
#include "config/values.h"

namespace postern::config {

namespace {

constexpr child_rule constraint_rules[] = {
    {"allow-origin", 1, 1}, {"allow-methods", 0, 1}, {"allow-headers", 0, 1}, {"maximum-age", 0, 1}};

// RFC 9110 tchar.
bool is_token_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A comma list of tokens, as allow-methods and allow-headers write them.
std::vector<std::string> token_list(const xml_document& doc, const xml_element& element) {
  const std::string_view text = required_text(doc, element);
  std::vector<std::string> out;
  std::string_view rest = text;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    bool valid = !item.empty();
    for (char c : item) valid = valid && is_token_char(c);
    if (!valid) {
      fail(doc, element.text.start,
           tag(element.name) + " " + quoted(text) + " must be HTTP tokens separated by commas, as in 'GET, POST'");
    }
    out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::string origin_of(const xml_document& doc, const xml_element& element) {
  const std::string_view text = required_text(doc, element);
  if (text == "*") return "*";
  const std::string expectation =
      "<allow-origin> " + quoted(text) + " must be * or http(s)://host[:port], with no path, query or fragment";
  const std::size_t separator = text.find("://");
  const std::string_view scheme = text.substr(0, separator);
  if (separator == std::string_view::npos || (scheme != "http" && scheme != "https") ||
      text.find_first_of("/?#", separator + 3) != std::string_view::npos) {
    fail(doc, element.text.start, expectation);
  }
  const auto parsed = net::parse_uri(text);
  if (!parsed) fail(doc, element.text.start, expectation + ": " + parsed.error());
  return std::string(scheme) + "://" + parsed->host_port();
}

std::string at_text(xml_position at) { return std::to_string(at.line) + ":" + std::to_string(at.column); }

}  // namespace

cross_site_constraint parse_cross_site(const xml_document& doc, const xml_element& element) {
  check_element(doc, element, constraint_rules);
  cross_site_constraint out;
  out.allow_origin = origin_of(doc, *child_named(element, "allow-origin"));
  out.allow_methods = {"GET", "POST"};
  if (const xml_element* methods = child_named(element, "allow-methods")) out.allow_methods = token_list(doc, *methods);
  if (const xml_element* headers = child_named(element, "allow-headers")) out.allow_headers = token_list(doc, *headers);
  if (const xml_element* age = child_named(element, "maximum-age")) {
    const auto parsed = parse_duration(required_text(doc, *age));
    if (!parsed) fail(doc, age->text.start, "<maximum-age>: " + parsed.error());
    out.maximum_age = *parsed;
  }
  return out;
}

std::vector<cross_site_constraint> parse_cross_sites(const xml_document& doc, const xml_element& service) {
  std::vector<cross_site_constraint> out;
  std::vector<xml_position> origin_at;
  for (const xml_element* element : children_named(service, "cross-site-constraint")) {
    cross_site_constraint constraint = parse_cross_site(doc, *element);
    const xml_element& origin = *child_named(*element, "allow-origin");
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].allow_origin == constraint.allow_origin) {
        fail(doc, origin.text.start,
             "duplicate <allow-origin> " + quoted(constraint.allow_origin) + " in this service (the first is at " +
                 at_text(origin_at[i]) + ")");
      }
      if (out[i].allow_origin == "*" || constraint.allow_origin == "*") {
        fail(doc, origin.text.start,
             "<allow-origin> '*' must be the only cross-site constraint of a service (the other one is at " +
                 at_text(origin_at[i]) + ")");
      }
    }
    out.push_back(std::move(constraint));
    origin_at.push_back(origin.text.start);
  }
  return out;
}

}  // namespace postern::config
