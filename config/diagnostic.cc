#include "config/diagnostic.h"

namespace postern::config {

std::string format_diagnostic(const source_location& where, std::string_view severity, std::string_view message) {
  std::string out = where.file;
  if (where.line != 0) {
    out += ':';
    out += std::to_string(where.line);
    out += ':';
    out += std::to_string(where.column);
  }
  out += ": ";
  out += severity;
  out += ": ";
  out += message;
  return out;
}

config_error::config_error(source_location where, const std::string& message)
    : std::runtime_error(format_diagnostic(where, "error", message)), _where(std::move(where)) {}

void fail(const std::string& file, xml_position at, const std::string& message) {
  throw config_error(locate(file, at), message);
}

std::string warning_text(const xml_document& doc, xml_position at, std::string_view message) {
  return format_diagnostic(locate(doc.file, at), "warning", message);
}

std::string tag(std::string_view name) {
  std::string out = "<";
  out += name;
  out += '>';
  return out;
}

std::string quoted(std::string_view text) {
  constexpr std::size_t max_shown = 80;
  std::string out = "'";
  if (text.size() > max_shown) {
    std::size_t cut = max_shown;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
    out += text.substr(0, cut);
    out += "...";
  } else {
    out += text;
  }
  out += '\'';
  return out;
}

}  // namespace postern::config
