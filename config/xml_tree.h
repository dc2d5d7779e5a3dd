// xml_tree: gateway-config.xml read by expat into a small element tree that remembers the
// line and column of every element, attribute and text, so that every later message can point
// into the file. Cold code (config load only).
//
// What is refused while reading, each with a config_error at the offending position:
//  - anything that is not well-formed XML (expat's message and position);
//  - a DOCTYPE (so no DTD, no entity definitions, no external entities);
//  - elements nested deeper than max_element_depth;
//  - a text node or attribute value longer than max_text_bytes;
//  - more than max_config_file_bytes of input.
// One leniency: "--" inside a comment, which XML forbids, is accepted (shared configs hold
// comments such as "postern --check"); comments are dropped anyway.
// The input is read as UTF-8 whatever the XML declaration says. Lines and columns are 1-based;
// columns count characters, as expat does.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace postern::config {

struct xml_position {
  unsigned line = 0;
  unsigned column = 0;
  friend bool operator==(const xml_position&, const xml_position&) = default;
};

// Character data (of an element or an attribute value) as expat decoded it.
struct xml_text {
  std::string value;
  // Position of the first character that is not XML whitespace; of the text itself when the text
  // is empty or all whitespace. Stays valid after property substitution, which never changes
  // leading whitespace.
  xml_position start;

  // Where each piece that expat delivered began. A literal piece maps its bytes one to one to
  // the file; a piece that came from a reference (&amp;, &#65;, CR LF) maps only its start.
  struct piece {
    std::size_t offset = 0;  // into value
    xml_position position;
    bool literal = true;
  };
  std::vector<piece> pieces;  // describes the text as read; cleared by property substitution

  // The file position of value[offset], exact within literal pieces. Needs pieces.
  xml_position position_of(std::size_t offset) const;
  // The value without leading and trailing XML whitespace.
  std::string_view trimmed() const;
};

struct xml_attribute {
  std::string namespace_uri;   // empty for an unprefixed attribute
  std::string name;            // local name
  std::string qualified_name;  // as written ("xsi:schemaLocation")
  xml_position position;       // of the attribute's name
  xml_text value;              // value.start and pieces point at the characters inside the quotes
};

struct xml_element {
  std::string namespace_uri;  // empty when the element is in no namespace
  std::string name;           // local name
  xml_position position;      // of the '<' of the start tag
  std::vector<xml_attribute> attributes;
  std::vector<xml_element> children;
  xml_text text;  // all character data directly inside, between children too

  bool has_text() const;  // some character data that is not whitespace
};

struct xml_document {
  std::string file;  // name used in messages
  xml_element root;
};

// Reads a document that arrives in pieces (resumable: any split of the bytes gives the same
// tree). Throws config_error on the first problem; after that the builder is spent.
class xml_tree_builder {
 public:
  explicit xml_tree_builder(std::string file);
  ~xml_tree_builder();
  xml_tree_builder(const xml_tree_builder&) = delete;
  xml_tree_builder& operator=(const xml_tree_builder&) = delete;

  // Feeds the next bytes of the document; is_final on the last call (bytes may be empty then).
  void feed(std::string_view bytes, bool is_final);
  // The document, once the final feed returned. Moves the tree out.
  xml_document take();

  struct state;  // expat's parser and the tree under construction (xml_tree.cc)

 private:
  std::unique_ptr<state> _state;
};

// The whole document at once.
xml_document parse_xml(std::string_view text, const std::string& file);

// The element as content, without positions: names with their namespace, attributes sorted,
// text trimmed of XML whitespace, children in order. Two elements with equal canonical texts
// say the same thing (a reload compares services so).
std::string canonical_text(const xml_element& element);

}  // namespace postern::config
