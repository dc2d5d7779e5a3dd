// schema: the structural checks every element of gateway-config.xml goes through: which
// children it takes and how many of each, no stray text, no attributes, one namespace. Each
// check throws config_error at the offending element or text. Cold code.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/xml_tree.h"

namespace postern::config {

inline constexpr unsigned unbounded = 0;

// A child an element takes: between min and max of them (max unbounded: any number).
struct child_rule {
  std::string_view name;
  unsigned min = 0;
  unsigned max = 1;
};

// Checks an element that holds elements only: no attributes, no text, every child in the
// document's namespace and named in rules (a KAAZING name refused by unsupported.h gets its
// reason; any other name is unknown, with the list of expected ones), counts within bounds.
// child_kind names the children in messages ("element", "property", ...).
void check_element(const xml_document& doc, const xml_element& element, std::span<const child_rule> rules,
                   std::string_view child_kind = "element");

// check_element without the attribute and text checks (for the root, which may carry
// xsi: attributes).
void check_children(const xml_document& doc, const xml_element& element, std::span<const child_rule> rules,
                    std::string_view child_kind = "element");

// The pieces of check_element, for elements whose children are checked in another way.
void refuse_attributes(const xml_document& doc, const xml_element& element);
void refuse_text(const xml_document& doc, const xml_element& element);
void check_namespace(const xml_document& doc, const xml_element& element);

// The trimmed text of an element that holds text only (no attributes, no child elements).
std::string_view text_of(const xml_document& doc, const xml_element& element);
// The same, refusing an empty text ("<name> is empty").
std::string_view required_text(const xml_document& doc, const xml_element& element);

// The children named name, in document order.
std::vector<const xml_element*> children_named(const xml_element& element, std::string_view name);
// The only child named name (check_element has bounded it to one), or nullptr.
const xml_element* child_named(const xml_element& element, std::string_view name);

// "a, b, c" from the rule names.
std::string name_list(std::span<const child_rule> rules);

}  // namespace postern::config
