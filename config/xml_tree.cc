#include "config/xml_tree.h"

#include <expat.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "config/diagnostic.h"

namespace postern::config {

namespace {

// Separates namespace URI, local name and prefix in the names expat reports. A control
// character cannot appear in a well-formed XML 1.0 name or attribute value.
constexpr char ns_separator = '\x01';

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Advances a position over one byte of the file, as expat counts: CR, LF and CR LF are one
// line break each; a column is a character (UTF-8 continuation bytes do not count).
void advance(xml_position& at, std::string_view bytes, std::size_t i) {
  const char c = bytes[i];
  if (c == '\n') {
    if (i > 0 && bytes[i - 1] == '\r') return;  // second half of CR LF
    ++at.line;
    at.column = 1;
  } else if (c == '\r') {
    ++at.line;
    at.column = 1;
  } else if (!is_utf8_continuation(c)) {
    ++at.column;
  }
}

struct split_name {
  std::string namespace_uri;
  std::string name;
  std::string prefix;
};

// expat's "uri\x01local\x01prefix", "uri\x01local" or "local".
split_name split(std::string_view expat_name) {
  split_name out;
  const auto first = expat_name.find(ns_separator);
  if (first == std::string_view::npos) {
    out.name = expat_name;
    return out;
  }
  out.namespace_uri = expat_name.substr(0, first);
  const auto rest = expat_name.substr(first + 1);
  const auto second = rest.find(ns_separator);
  out.name = rest.substr(0, second);
  if (second != std::string_view::npos) out.prefix = rest.substr(second + 1);
  return out;
}

// One attribute as written in a start tag.
struct raw_attribute {
  std::string_view qualified_name;
  xml_position name_position;
  std::string_view raw_value;   // between the quotes, undecoded
  xml_position value_position;  // of the first character inside the quotes
};

// Finds the attributes of a start tag that expat has already checked for well-formedness.
std::vector<raw_attribute> scan_start_tag(std::string_view tag, xml_position at) {
  std::vector<raw_attribute> out;
  std::size_t i = 0;
  auto step = [&] {
    advance(at, tag, i);
    ++i;
  };
  auto skip_space = [&] {
    while (i < tag.size() && is_xml_space(tag[i])) step();
  };
  step();  // '<'
  while (i < tag.size() && !is_xml_space(tag[i]) && tag[i] != '/' && tag[i] != '>') step();
  for (;;) {
    skip_space();
    if (i >= tag.size() || tag[i] == '/' || tag[i] == '>') break;
    raw_attribute attribute;
    attribute.name_position = at;
    const std::size_t name_begin = i;
    while (i < tag.size() && !is_xml_space(tag[i]) && tag[i] != '=') step();
    attribute.qualified_name = tag.substr(name_begin, i - name_begin);
    skip_space();
    step();  // '='
    skip_space();
    if (i >= tag.size()) break;
    const char quote = tag[i];
    step();
    attribute.value_position = at;
    const std::size_t value_begin = i;
    while (i < tag.size() && tag[i] != quote) step();
    attribute.raw_value = tag.substr(value_begin, i - value_begin);
    step();  // closing quote
    out.push_back(attribute);
  }
  return out;
}

std::size_t utf8_length(unsigned long code_point) {
  if (code_point < 0x80) return 1;
  if (code_point < 0x800) return 2;
  if (code_point < 0x10000) return 3;
  return 4;
}

// The pieces of an attribute value: literal runs map byte to byte; a reference (&amp;, &#10;)
// or a line break (which expat turns into a space) is a piece of its own.
std::vector<xml_text::piece> attribute_pieces(std::string_view raw, xml_position at) {
  std::vector<xml_text::piece> pieces;
  std::size_t decoded = 0;
  bool in_literal = false;
  std::size_t i = 0;
  while (i < raw.size()) {
    const char c = raw[i];
    if (c == '&') {
      const std::size_t end = raw.find(';', i);
      const std::string_view reference = raw.substr(i, end - i + 1);
      std::size_t length = 1;
      if (reference.size() > 3 && reference[1] == '#') {
        const bool hex = reference[2] == 'x';
        const std::string digits(reference.substr(hex ? 3 : 2, reference.size() - (hex ? 4 : 3)));
        length = utf8_length(std::stoul(digits, nullptr, hex ? 16 : 10));
      }
      pieces.push_back({decoded, at, false});
      decoded += length;
      for (std::size_t k = 0; k < reference.size(); ++k) advance(at, raw, i + k);
      i += reference.size();
      in_literal = false;
    } else if (c == '\r' || c == '\n') {
      pieces.push_back({decoded, at, false});
      decoded += 1;
      const std::size_t width = (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ? 2 : 1;
      for (std::size_t k = 0; k < width; ++k) advance(at, raw, i + k);
      i += width;
      in_literal = false;
    } else {
      if (!in_literal) pieces.push_back({decoded, at, true});
      in_literal = true;
      advance(at, raw, i);
      ++decoded;
      ++i;
    }
  }
  return pieces;
}

void set_start(xml_text& text, xml_position fallback) {
  const auto& v = text.value;
  const auto first = std::find_if(v.begin(), v.end(), [](char c) { return !is_xml_space(c); });
  if (text.pieces.empty()) {
    text.start = fallback;
  } else {
    text.start = text.position_of(first == v.end() ? 0 : static_cast<std::size_t>(first - v.begin()));
  }
}

}  // namespace

xml_position xml_text::position_of(std::size_t offset) const {
  if (pieces.empty()) return start;
  auto it = std::upper_bound(pieces.begin(), pieces.end(), offset,
                             [](std::size_t o, const piece& p) { return o < p.offset; });
  if (it != pieces.begin()) --it;
  xml_position at = it->position;
  if (!it->literal) return at;
  const std::size_t end = std::min(offset, value.size());
  for (std::size_t i = it->offset; i < end; ++i) advance(at, value, i);
  return at;
}

std::string_view xml_text::trimmed() const {
  std::string_view v = value;
  while (!v.empty() && is_xml_space(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_xml_space(v.back())) v.remove_suffix(1);
  return v;
}

bool xml_element::has_text() const { return !text.trimmed().empty(); }

// Where the comment scanner stands in the markup.
enum class scan_context : std::uint8_t {
  content,     // character data between markup
  tag,         // inside <...> (start or end tag, DOCTYPE), outside quotes
  tag_quoted,  // inside a quoted attribute value
  comment,     // after "<!--"; "-->" ends it
  cdata,       // after "<![CDATA["; "]]>" ends it
  pi,          // after "<?"; "?>" ends it
};

struct xml_tree_builder::state {
  XML_Parser parser = nullptr;
  std::string file;
  std::string raw;          // every byte fed so far, comments blanked (see scan)
  std::size_t scanned = 0;  // raw[0, scanned) is decided and handed to expat
  scan_context context = scan_context::content;
  char quote = 0;
  xml_element root;
  bool have_root = false;
  std::vector<xml_element*> stack;  // the open elements; ancestors never move while open
  std::optional<std::pair<xml_position, std::string>> error;
  bool finished = false;
  bool spent = false;

  // XML forbids "--" inside a comment, and shared configs hold comments such as
  // "'postern --check'". Every '-' of a comment body becomes a space, byte for byte, so that
  // expat reads it and every position stays true; nothing else changes. Advances scanned as far
  // as the bytes decide (a construct cut by the end of the input waits for more, unless final).
  void scan(bool final) {
    while (scanned < raw.size() && scan_one(final)) {
    }
  }

  // Decides raw[scanned] (and the bytes of an opener or closer that starts there); false when
  // that needs bytes that have not arrived yet.
  bool scan_one(bool final) {
    std::size_t& i = scanned;
    auto ahead = [&](std::size_t count) { return final || i + count <= raw.size(); };
    auto at = [&](std::string_view word) { return std::string_view(raw).substr(i, word.size()) == word; };
    auto enter = [&](scan_context next, std::size_t width) {
      context = next;
      i += width;
      return true;
    };
    const char c = raw[i];
    switch (context) {
      case scan_context::content:
        if (c != '<') break;
        if (!ahead(9)) return false;  // "<![CDATA[" is the longest opener
        if (at("<!--")) return enter(scan_context::comment, 4);
        if (at("<![CDATA[")) return enter(scan_context::cdata, 9);
        if (at("<?")) return enter(scan_context::pi, 2);
        context = scan_context::tag;
        break;
      case scan_context::tag:
        if (c == '"' || c == '\'') {
          context = scan_context::tag_quoted;
          quote = c;
        } else if (c == '>') {
          context = scan_context::content;
        }
        break;
      case scan_context::tag_quoted:
        if (c == quote) context = scan_context::tag;
        break;
      case scan_context::comment:
        if (c != '-') break;
        if (!ahead(3)) return false;
        if (at("-->")) return enter(scan_context::content, 3);
        raw[i] = ' ';
        break;
      case scan_context::cdata:
        if (c != ']') break;
        if (!ahead(3)) return false;
        if (at("]]>")) return enter(scan_context::content, 3);
        break;
      case scan_context::pi:
        if (c != '?') break;
        if (!ahead(2)) return false;
        if (at("?>")) return enter(scan_context::content, 2);
        break;
    }
    ++i;
    return true;
  }

  xml_position here() const {
    return {static_cast<unsigned>(XML_GetCurrentLineNumber(parser)),
            static_cast<unsigned>(XML_GetCurrentColumnNumber(parser)) + 1};
  }

  void stop(xml_position at, std::string message) {
    if (error) return;
    error.emplace(at, std::move(message));
    XML_StopParser(parser, XML_FALSE);
  }

  void on_start(const XML_Char* expat_name, const XML_Char** attributes) {
    if (error) return;
    const xml_position at = here();
    if (stack.size() + 1 > max_element_depth) {
      stop(at, "elements are nested deeper than " + std::to_string(max_element_depth) +
                   " levels, the limit for gateway-config.xml");
      return;
    }
    xml_element* element = nullptr;
    if (stack.empty()) {
      element = &root;
      have_root = true;
    } else {
      element = &stack.back()->children.emplace_back();
    }
    split_name name = split(expat_name);
    element->namespace_uri = std::move(name.namespace_uri);
    element->name = std::move(name.name);
    element->position = at;

    const auto index = static_cast<std::size_t>(XML_GetCurrentByteIndex(parser));
    const auto count = static_cast<std::size_t>(XML_GetCurrentByteCount(parser));
    const std::string_view tag = std::string_view(raw).substr(index, count);
    const std::vector<raw_attribute> written = scan_start_tag(tag, at);
    for (const XML_Char** a = attributes; *a != nullptr; a += 2) {
      split_name attribute_name = split(a[0]);
      xml_attribute& attribute = element->attributes.emplace_back();
      attribute.qualified_name =
          attribute_name.prefix.empty() ? attribute_name.name : attribute_name.prefix + ":" + attribute_name.name;
      attribute.namespace_uri = std::move(attribute_name.namespace_uri);
      attribute.name = std::move(attribute_name.name);
      attribute.value.value = a[1];
      attribute.position = at;
      for (const raw_attribute& w : written) {
        if (w.qualified_name != attribute.qualified_name) continue;
        attribute.position = w.name_position;
        attribute.value.pieces = attribute_pieces(w.raw_value, w.value_position);
        set_start(attribute.value, w.value_position);
        break;
      }
      if (attribute.value.value.size() > max_text_bytes) {
        stop(attribute.position, "the value of attribute '" + attribute.qualified_name + "' is longer than " +
                                     std::to_string(max_text_bytes) + " bytes, the limit for one value");
        return;
      }
    }
    stack.push_back(element);
  }

  void on_end() {
    if (error || stack.empty()) return;
    xml_element* element = stack.back();
    set_start(element->text, element->position);
    stack.pop_back();
  }

  void on_text(const XML_Char* bytes, int length) {
    if (error || stack.empty()) return;
    xml_text& text = stack.back()->text;
    const auto size = static_cast<std::size_t>(length);
    const bool literal = XML_GetCurrentByteCount(parser) == length;
    text.pieces.push_back({text.value.size(), here(), literal});
    if (text.value.size() + size > max_text_bytes) {
      stop(text.pieces.front().position, "the text of " + tag(stack.back()->name) + " is longer than " +
                                             std::to_string(max_text_bytes) + " bytes, the limit for one text");
      return;
    }
    text.value.append(bytes, size);
  }
};

namespace {

void XMLCALL start_handler(void* user, const XML_Char* name, const XML_Char** attributes) {
  static_cast<xml_tree_builder::state*>(user)->on_start(name, attributes);
}
void XMLCALL end_handler(void* user, const XML_Char*) { static_cast<xml_tree_builder::state*>(user)->on_end(); }
void XMLCALL text_handler(void* user, const XML_Char* bytes, int length) {
  static_cast<xml_tree_builder::state*>(user)->on_text(bytes, length);
}
void XMLCALL doctype_handler(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  auto* s = static_cast<xml_tree_builder::state*>(user);
  // expat reports a position inside the declaration; point at its "<!DOCTYPE" instead.
  const auto index = static_cast<std::size_t>(XML_GetCurrentByteIndex(s->parser));
  const std::size_t start = s->raw.rfind("<!DOCTYPE", index);
  xml_position at{1, 1};
  for (std::size_t i = 0; i < start && i < s->raw.size(); ++i) advance(at, s->raw, i);
  s->stop(start == std::string::npos ? s->here() : at, "DOCTYPE is not allowed in gateway-config.xml");
}

}  // namespace

xml_tree_builder::xml_tree_builder(std::string file) : _state(std::make_unique<state>()) {
  _state->file = std::move(file);
  _state->parser = XML_ParserCreateNS("UTF-8", ns_separator);
  if (_state->parser == nullptr) throw std::bad_alloc();
  XML_SetReturnNSTriplet(_state->parser, 1);
  XML_SetUserData(_state->parser, _state.get());
  XML_SetElementHandler(_state->parser, start_handler, end_handler);
  XML_SetCharacterDataHandler(_state->parser, text_handler);
  XML_SetStartDoctypeDeclHandler(_state->parser, doctype_handler);
  XML_SetParamEntityParsing(_state->parser, XML_PARAM_ENTITY_PARSING_NEVER);
}

xml_tree_builder::~xml_tree_builder() {
  if (_state->parser != nullptr) XML_ParserFree(_state->parser);
}

void xml_tree_builder::feed(std::string_view bytes, bool is_final) {
  state& s = *_state;
  if (s.spent || s.finished) throw std::logic_error("xml_tree_builder::feed after the end or an error");
  if (s.raw.size() + bytes.size() > max_config_file_bytes) {
    s.spent = true;
    fail(s.file, xml_position{},
         "the file is larger than " + std::to_string(max_config_file_bytes) +
             " bytes, the limit for gateway-config.xml");
  }
  const std::size_t handed = s.scanned;
  s.raw.append(bytes);
  s.scan(is_final);
  const auto status =
      XML_Parse(s.parser, s.raw.data() + handed, static_cast<int>(s.scanned - handed), is_final ? 1 : 0);
  if (s.error) {
    s.spent = true;
    fail(s.file, s.error->first, s.error->second);
  }
  if (status != XML_STATUS_OK) {
    s.spent = true;
    const XML_Error code = XML_GetErrorCode(s.parser);
    const xml_position at{static_cast<unsigned>(XML_GetErrorLineNumber(s.parser)),
                          static_cast<unsigned>(XML_GetErrorColumnNumber(s.parser)) + 1};
    fail(s.file, at, std::string("XML is not well-formed: ") + XML_ErrorString(code));
  }
  if (is_final) s.finished = true;
}

xml_document xml_tree_builder::take() {
  state& s = *_state;
  if (!s.finished || !s.have_root) throw std::logic_error("xml_tree_builder::take before the final feed");
  s.spent = true;
  return xml_document{s.file, std::move(s.root)};
}

xml_document parse_xml(std::string_view text, const std::string& file) {
  xml_tree_builder builder(file);
  builder.feed(text, true);
  return builder.take();
}

namespace {

std::string_view trim_xml_space(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// Length-prefixed pieces, so that no text can imitate the structure around it.
void put(std::string& out, std::string_view piece) {
  out += std::to_string(piece.size());
  out += ':';
  out += piece;
}

void canonical_into(std::string& out, const xml_element& e) {
  out += '<';
  put(out, e.namespace_uri);
  put(out, e.name);
  std::vector<const xml_attribute*> attributes;
  for (const xml_attribute& a : e.attributes) attributes.push_back(&a);
  std::sort(attributes.begin(), attributes.end(), [](const xml_attribute* a, const xml_attribute* b) {
    return std::tie(a->namespace_uri, a->name) < std::tie(b->namespace_uri, b->name);
  });
  for (const xml_attribute* a : attributes) {
    out += '@';
    put(out, a->namespace_uri);
    put(out, a->name);
    put(out, a->value.value);
  }
  out += '"';
  put(out, trim_xml_space(e.text.value));
  for (const xml_element& c : e.children) canonical_into(out, c);
  out += '>';
}

}  // namespace

std::string canonical_text(const xml_element& element) {
  std::string out;
  canonical_into(out, element);
  return out;
}

}  // namespace postern::config
