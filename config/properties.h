// properties: the document's <properties> and ${name} substitution (DESIGN §7, KAAZING's
// ConfigParameter rules). Cold code.
//
// Rules:
//  - A reference is "${name}" where name holds no brace. "$${x}" is the literal "${x}" and, in
//    general, a run of two or more '$' before "{...}" loses one '$' and stays literal
//    ("$$${x}" gives "$${x}"). A '$' not followed by such a reference is kept as it is.
//  - A name resolves from, in order: the -D defines, the file's <properties>, the built-in
//    ${hostname}. The first non-empty value wins (as in KAAZING); a name with no non-empty
//    value anywhere is an error.
//  - Values are whitespace-trimmed and inserted as they are: one pass, so a value that
//    contains "${...}" is not expanded again.
#pragma once

#include <cstddef>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/xml_tree.h"

namespace postern::config {

struct property_sources {
  std::map<std::string, std::string, std::less<>> defines;  // -D name=value, trimmed
  std::map<std::string, std::string, std::less<>> file;     // <properties>, trimmed
  std::string hostname;                                     // ${hostname}

  // The value of name per the precedence above; nullopt when no source has a non-empty one.
  std::optional<std::string_view> lookup(std::string_view name) const;
};

struct expansion_error {
  std::size_t offset = 0;  // of the first '$' of the unresolved reference (or the one that overflowed)
  std::string name;
  bool too_long = false;   // the result would exceed max_bytes (bounded expansion, DESIGN §8)
};

// text with every reference replaced, at most max_bytes long (a text node's limit: a reference
// repeated many times must not turn a small file into gigabytes). Pure.
std::expected<std::string, expansion_error> expand_properties(std::string_view text, const property_sources& sources,
                                                              std::size_t max_bytes = 64 * 1024);

// Reads the <properties> children of the root (wherever they stand among its children) and the
// load options. Refuses a malformed <properties> block, with the position of the fault.
property_sources collect_properties(const xml_document& doc, const load_options& options);

// Substitutes references in every text and attribute value of the document. Throws config_error
// at the position of the first unresolved reference. Clears the text pieces it rewrites.
void substitute_properties(xml_document& doc, const property_sources& sources);

}  // namespace postern::config
