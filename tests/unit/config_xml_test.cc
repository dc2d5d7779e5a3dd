// config/xml_tree: positions, limits, refusals, and the same tree for every split of the input.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/xml_tree.h"

namespace postern::config {
namespace {

using pos = xml_position;

std::string error_of(std::string_view text) {
  try {
    parse_xml(text, "t.xml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigXml, ElementAttributeAndTextPositions) {
  const std::string text =
      "<?xml version=\"1.0\"?>\n"
      "<a xmlns=\"urn:x\">\n"
      "  <b c=\"1\"  d='x&amp;y${p}'>text</b>\n"
      "</a>\n";
  const xml_document doc = parse_xml(text, "t.xml");
  EXPECT_EQ(doc.file, "t.xml");
  EXPECT_EQ(doc.root.name, "a");
  EXPECT_EQ(doc.root.namespace_uri, "urn:x");
  EXPECT_EQ(doc.root.position, (pos{2, 1}));
  ASSERT_EQ(doc.root.children.size(), 1u);
  const xml_element& b = doc.root.children[0];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.namespace_uri, "urn:x");
  EXPECT_EQ(b.position, (pos{3, 3}));
  ASSERT_EQ(b.attributes.size(), 2u);
  EXPECT_EQ(b.attributes[0].name, "c");
  EXPECT_EQ(b.attributes[0].namespace_uri, "");
  EXPECT_EQ(b.attributes[0].position, (pos{3, 6}));
  EXPECT_EQ(b.attributes[0].value.value, "1");
  EXPECT_EQ(b.attributes[0].value.start, (pos{3, 9}));
  const xml_text& d = b.attributes[1].value;
  EXPECT_EQ(b.attributes[1].position, (pos{3, 13}));
  EXPECT_EQ(d.value, "x&y${p}");
  EXPECT_EQ(d.position_of(0), (pos{3, 16}));
  EXPECT_EQ(d.position_of(1), (pos{3, 17}));  // the &amp; reference
  EXPECT_EQ(d.position_of(2), (pos{3, 22}));
  EXPECT_EQ(d.position_of(3), (pos{3, 23}));  // the '$'
  EXPECT_EQ(b.text.value, "text");
  EXPECT_EQ(b.text.start, (pos{3, 29}));
  EXPECT_FALSE(doc.root.has_text());
  EXPECT_TRUE(b.has_text());
}

TEST(ConfigXml, TextPositionsCountCharactersAndLines) {
  // 'é' is two bytes and one column; &lt; is four columns and one byte of text.
  const std::string text = "<a>\n  h\xc3\xa9&lt;${x}\n  z</a>";
  const xml_document doc = parse_xml(text, "t.xml");
  const xml_text& t = doc.root.text;
  EXPECT_EQ(t.value, "\n  h\xc3\xa9<${x}\n  z");
  EXPECT_EQ(t.start, (pos{2, 3}));
  EXPECT_EQ(t.position_of(t.value.find('$')), (pos{2, 9}));
  EXPECT_EQ(t.position_of(t.value.find('z')), (pos{3, 3}));
  EXPECT_EQ(t.trimmed(), "h\xc3\xa9<${x}\n  z");
}

TEST(ConfigXml, CrLfIsOneLineBreak) {
  const xml_document doc = parse_xml("<a>\r\n  ${x}\r\n<b/></a>", "t.xml");
  EXPECT_EQ(doc.root.text.value, "\n  ${x}\n");
  EXPECT_EQ(doc.root.text.position_of(3), (pos{2, 3}));
  EXPECT_EQ(doc.root.children.at(0).position, (pos{3, 1}));
}

TEST(ConfigXml, AttributePositionsAcrossLinesAndPrefixes) {
  const std::string text =
      "<g:a xmlns:g=\"urn:g\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
      "     xsi:schemaLocation=\"one\n two ${x}\"/>";
  const xml_document doc = parse_xml(text, "t.xml");
  EXPECT_EQ(doc.root.name, "a");
  EXPECT_EQ(doc.root.namespace_uri, "urn:g");
  ASSERT_EQ(doc.root.attributes.size(), 1u);  // xmlns declarations are not attributes
  const xml_attribute& a = doc.root.attributes[0];
  EXPECT_EQ(a.namespace_uri, "http://www.w3.org/2001/XMLSchema-instance");
  EXPECT_EQ(a.name, "schemaLocation");
  EXPECT_EQ(a.qualified_name, "xsi:schemaLocation");
  EXPECT_EQ(a.position, (pos{2, 6}));
  EXPECT_EQ(a.value.value, "one  two ${x}");  // the line break is normalized to a space
  EXPECT_EQ(a.value.position_of(a.value.value.find('$')), (pos{3, 6}));
}

TEST(ConfigXml, DoctypeIsRefused) {
  EXPECT_EQ(error_of("<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY e \"x\">]>\n<a>&e;</a>"),
            "t.xml:2:1: error: DOCTYPE is not allowed in gateway-config.xml");
  // The classic entity expansion attack never gets as far as its entities.
  EXPECT_EQ(error_of("<!DOCTYPE\n a\n [ ]><a/>"), "t.xml:1:1: error: DOCTYPE is not allowed in gateway-config.xml");
  EXPECT_EQ(error_of("<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>"),
            "t.xml:1:1: error: DOCTYPE is not allowed in gateway-config.xml");
}

TEST(ConfigXml, SyntaxErrorsCarryExpatsPositionAndMessage) {
  EXPECT_EQ(error_of("<a>\n  <b></c>\n</a>"), "t.xml:2:8: error: XML is not well-formed: mismatched tag");
  EXPECT_EQ(error_of("<a>\n  <b x=1/>\n</a>"),
            "t.xml:2:8: error: XML is not well-formed: not well-formed (invalid token)");
  EXPECT_EQ(error_of("<p:a/>"), "t.xml:1:1: error: XML is not well-formed: unbound prefix");
  EXPECT_EQ(error_of(""), "t.xml:1:1: error: XML is not well-formed: no element found");
  EXPECT_EQ(error_of("<a>&nbsp;</a>"), "t.xml:1:4: error: XML is not well-formed: undefined entity");
  // Read as UTF-8 whatever the declaration says: a Latin-1 byte is not UTF-8.
  EXPECT_EQ(error_of("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>"),
            "t.xml:1:47: error: XML is not well-formed: not well-formed (invalid token)");
}

TEST(ConfigXml, DepthLimit) {
  std::string deep_enough;
  for (unsigned i = 0; i < max_element_depth; ++i) deep_enough = "<e>" + deep_enough + "</e>";
  EXPECT_EQ(error_of(deep_enough), "");
  const std::string too_deep = "<e>" + deep_enough + "</e>";
  EXPECT_EQ(error_of(too_deep),
            "t.xml:1:" + std::to_string(1 + 3 * max_element_depth) +
                ": error: elements are nested deeper than 32 levels, the limit for gateway-config.xml");
}

TEST(ConfigXml, TextAndAttributeLimits) {
  EXPECT_EQ(error_of("<a>" + std::string(max_text_bytes, 'x') + "</a>"), "");
  EXPECT_EQ(error_of("<a>\n<b>" + std::string(max_text_bytes + 1, 'x') + "</b></a>"),
            "t.xml:2:4: error: the text of <b> is longer than 65536 bytes, the limit for one text");
  EXPECT_EQ(error_of("<a>\n <b v='" + std::string(max_text_bytes + 1, 'x') + "'/></a>"),
            "t.xml:2:5: error: the value of attribute 'v' is longer than 65536 bytes, the limit for one value");
}

TEST(ConfigXml, InputSizeLimit) {
  xml_tree_builder builder("t.xml");
  const std::string spaces(max_config_file_bytes - 7, ' ');
  builder.feed("<a><!--", false);
  builder.feed(spaces, false);  // exactly the limit so far
  try {
    builder.feed(" ", false);
    FAIL() << "no error past the size limit";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "t.xml: error: the file is larger than 4194304 bytes, the limit for gateway-config.xml");
    EXPECT_EQ(e.where().line, 0u);
  }
}

TEST(ConfigXml, DoubleDashInsideCommentsIsAcceptedAndNothingElseChanges) {
  const std::string text =
      "<a x='a--b'><!-- run 'postern --check' --->x--y<![CDATA[--]]><!---->"
      "<?pi a--b?></a>";
  const xml_document doc = parse_xml(text, "t.xml");
  EXPECT_EQ(doc.root.attributes.at(0).value.value, "a--b");
  EXPECT_EQ(doc.root.text.value, "x--y--");
  EXPECT_EQ(error_of("<a><!-- -- x</a>"), "t.xml:1:4: error: XML is not well-formed: unclosed token");
}

// Every field the loader reads, compared between two trees.
void expect_same_text(const xml_text& a, const xml_text& b) {
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.start, b.start);
  for (std::size_t i = 0; i <= a.value.size(); ++i) {
    ASSERT_EQ(a.position_of(i), b.position_of(i)) << "offset " << i << " of '" << a.value << "'";
  }
}

void expect_same(const xml_element& a, const xml_element& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.namespace_uri, b.namespace_uri);
  EXPECT_EQ(a.position, b.position) << a.name;
  expect_same_text(a.text, b.text);
  ASSERT_EQ(a.attributes.size(), b.attributes.size());
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    EXPECT_EQ(a.attributes[i].qualified_name, b.attributes[i].qualified_name);
    EXPECT_EQ(a.attributes[i].position, b.attributes[i].position);
    expect_same_text(a.attributes[i].value, b.attributes[i].value);
  }
  ASSERT_EQ(a.children.size(), b.children.size());
  for (std::size_t i = 0; i < a.children.size(); ++i) expect_same(a.children[i], b.children[i]);
}

const std::string split_sample =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
    "<!-- a comment -- with 'postern --check' in it -->\n"
    "<gateway-config xmlns=\"http://xmlns.kaazing.org/2016/06/gateway\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation='a &amp; ${b}'>\n"
    "  <service>\n"
    "    <name>h\xc3\xa9llo &lt;${x}&gt; &#x263A;</name>\n"
    "    <accept><![CDATA[ws://a:1/]]]]><![CDATA[>]]></accept>\r\n"
    "    <?pi ?> <!---->\n"
    "  </service>\n"
    "</gateway-config>\n";

TEST(ConfigXml, EverySplitGivesTheSameTree) {
  const xml_document whole = parse_xml(split_sample, "t.xml");
  EXPECT_EQ(whole.root.children.at(0).children.at(1).text.value, "ws://a:1/]]>");
  for (std::size_t k = 0; k <= split_sample.size(); ++k) {
    SCOPED_TRACE("split at " + std::to_string(k));
    xml_tree_builder builder("t.xml");
    builder.feed(std::string_view(split_sample).substr(0, k), false);
    builder.feed(std::string_view(split_sample).substr(k), true);
    expect_same(whole.root, builder.take().root);
  }
}

TEST(ConfigXml, ByteByByteGivesTheSameTree) {
  const xml_document whole = parse_xml(split_sample, "t.xml");
  xml_tree_builder builder("t.xml");
  for (char c : split_sample) builder.feed(std::string_view(&c, 1), false);
  builder.feed("", true);
  expect_same(whole.root, builder.take().root);
}

TEST(ConfigXml, EverySplitGivesTheSameError) {
  for (const std::string& text : {std::string("<a>\n<!-- x -- y -->\n  <b></c>\n</a>"),
                                  std::string("<?xml version=\"1.0\"?>\n<!DOCTYPE a>\n<a/>")}) {
    const std::string expected = error_of(text);
    ASSERT_NE(expected, "");
    for (std::size_t k = 0; k <= text.size(); ++k) {
      std::string actual;
      try {
        xml_tree_builder builder("t.xml");
        builder.feed(std::string_view(text).substr(0, k), false);
        builder.feed(std::string_view(text).substr(k), true);
      } catch (const config_error& e) {
        actual = e.what();
      }
      EXPECT_EQ(actual, expected) << "split at " << k;
    }
  }
}

}  // namespace
}  // namespace postern::config
