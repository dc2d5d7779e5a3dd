// diagnostic: the one format of every config message, "file:line:column: severity: text", and
// the throw used by every part of the loader. Cold code.
#pragma once

#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/xml_tree.h"

namespace postern::config {

// "file:line:column: severity: message"; "file: severity: message" when line is 0 (the file as
// a whole: cannot be read, too large).
std::string format_diagnostic(const source_location& where, std::string_view severity, std::string_view message);

inline source_location locate(const std::string& file, xml_position at) {
  return source_location{file, at.line, at.column};
}

// Throws config_error at that position of the document.
[[noreturn]] void fail(const std::string& file, xml_position at, const std::string& message);
[[noreturn]] inline void fail(const xml_document& doc, xml_position at, const std::string& message) {
  fail(doc.file, at, message);
}

// A warning line for gateway_config::warnings.
std::string warning_text(const xml_document& doc, xml_position at, std::string_view message);

// "<name>" for messages.
std::string tag(std::string_view name);

// Text quoted for a message: 'text', cut to 80 characters with "..." when longer.
std::string quoted(std::string_view text);

}  // namespace postern::config
