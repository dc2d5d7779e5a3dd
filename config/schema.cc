#include "config/schema.h"

#include "config/diagnostic.h"
#include "config/unsupported.h"

namespace postern::config {

namespace {

std::string at_text(xml_position at) { return std::to_string(at.line) + ":" + std::to_string(at.column); }

}  // namespace

std::string name_list(std::span<const child_rule> rules) {
  std::string out;
  for (const child_rule& rule : rules) {
    if (!out.empty()) out += ", ";
    out += rule.name;
  }
  return out;
}

void refuse_attributes(const xml_document& doc, const xml_element& element) {
  if (element.attributes.empty()) return;
  const xml_attribute& first = element.attributes.front();
  fail(doc, first.position,
       "unknown attribute '" + first.qualified_name + "' on " + tag(element.name) + "; it takes no attributes");
}

void refuse_text(const xml_document& doc, const xml_element& element) {
  if (!element.has_text()) return;
  fail(doc, element.text.start,
       tag(element.name) + " holds elements, not text: unexpected text " + quoted(element.text.trimmed()));
}

void check_namespace(const xml_document& doc, const xml_element& element) {
  if (element.namespace_uri == doc.root.namespace_uri) return;
  const std::string expected =
      doc.root.namespace_uri.empty() ? "no namespace" : "the namespace " + doc.root.namespace_uri;
  const std::string actual = element.namespace_uri.empty() ? "no namespace" : "the namespace " + element.namespace_uri;
  fail(doc, element.position,
       "element " + tag(element.name) + " is in " + actual + "; the elements of this document are in " + expected);
}

void check_element(const xml_document& doc, const xml_element& element, std::span<const child_rule> rules,
                   std::string_view child_kind) {
  refuse_attributes(doc, element);
  refuse_text(doc, element);
  check_children(doc, element, rules, child_kind);
}

void check_children(const xml_document& doc, const xml_element& element, std::span<const child_rule> rules,
                    std::string_view child_kind) {
  std::vector<const xml_element*> first_of(rules.size(), nullptr);
  std::vector<unsigned> counts(rules.size(), 0);
  for (const xml_element& child : element.children) {
    check_namespace(doc, child);
    std::size_t index = 0;
    while (index < rules.size() && rules[index].name != child.name) ++index;
    if (index == rules.size()) {
      if (auto reason = unsupported_element(element.name, child.name)) {
        fail(doc, child.position, not_implemented(tag(child.name) + " in " + tag(element.name), *reason));
      }
      fail(doc, child.position,
           "unknown " + std::string(child_kind) + " " + tag(child.name) + " in " + tag(element.name) +
               "; expected one of: " + name_list(rules));
    }
    const child_rule& rule = rules[index];
    ++counts[index];
    if (first_of[index] == nullptr) first_of[index] = &child;
    if (rule.max != unbounded && counts[index] > rule.max) {
      fail(doc, child.position,
           "duplicate " + tag(child.name) + " in " + tag(element.name) + " (the first is at " +
               at_text(first_of[index]->position) + "); " + tag(element.name) + " takes " +
               (rule.max == 1 ? std::string("one") : "at most " + std::to_string(rule.max)));
    }
  }
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (counts[i] < rules[i].min) {
      fail(doc, element.position, "missing " + tag(rules[i].name) + " in " + tag(element.name));
    }
  }
}

std::string_view text_of(const xml_document& doc, const xml_element& element) {
  refuse_attributes(doc, element);
  if (!element.children.empty()) {
    const xml_element& child = element.children.front();
    fail(doc, child.position, tag(element.name) + " holds text, not elements: unexpected element " + tag(child.name));
  }
  return element.text.trimmed();
}

std::string_view required_text(const xml_document& doc, const xml_element& element) {
  const std::string_view text = text_of(doc, element);
  if (text.empty()) fail(doc, element.position, tag(element.name) + " is empty");
  return text;
}

std::vector<const xml_element*> children_named(const xml_element& element, std::string_view name) {
  std::vector<const xml_element*> out;
  for (const xml_element& child : element.children) {
    if (child.name == name) out.push_back(&child);
  }
  return out;
}

const xml_element* child_named(const xml_element& element, std::string_view name) {
  for (const xml_element& child : element.children) {
    if (child.name == name) return &child;
  }
  return nullptr;
}

}  // namespace postern::config
