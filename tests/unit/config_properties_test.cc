// config/properties: ${name} substitution, its escapes and precedence, and <properties> itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "config/loader.h"
#include "config/properties.h"

namespace postern::config {
namespace {

const std::string head = "<gateway-config xmlns=\"http://xmlns.kaazing.org/2016/06/gateway\">\n";
const std::string echo_service =
    "  <service><name>s</name><accept>ws://localhost:8000/</accept><type>echo</type></service>\n";

std::string wrap(const std::string& body) { return head + body + "</gateway-config>\n"; }

std::string error_of(const std::string& text, const load_options& options = {}) {
  try {
    load_config_text(text, "t.xml", options);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

// The description of the one service, after substitution.
std::string description_with(const std::string& properties, const std::string& description,
                             const load_options& options = {}) {
  const std::string text = wrap(properties + "  <service><name>s</name><description>" + description +
                                "</description><accept>ws://localhost:8000/</accept><type>echo</type></service>\n");
  return load_config_text(text, "t.xml", options)->services.at(0).description;
}

std::string property(const std::string& name, const std::string& value) {
  return "<property><name>" + name + "</name><value>" + value + "</value></property>";
}

property_sources sample_sources() {
  property_sources s;
  s.file = {{"x", "X"}, {"empty", ""}, {"a", "${x}"}};
  s.hostname = "host.example";
  return s;
}

TEST(ConfigProperties, ExpansionRules) {
  const property_sources s = sample_sources();
  const struct {
    std::string_view in;
    std::string_view out;
  } table[] = {
      {"${x}", "X"},
      {"a${x}b${x}", "aXbX"},
      {"$${x}", "${x}"},
      {"$$${x}", "$${x}"},
      {"$$$${x}", "$$${x}"},
      {"$${nope}", "${nope}"},
      {"$x", "$x"},
      {"$", "$"},
      {"$$", "$$"},
      {"${x", "${x"},
      {"${a{b}", "${a{b}"},
      {"x}${x}$", "x}X$"},
      {"${a}", "${x}"},  // single pass: a's value is not expanded again
      {"${hostname}", "host.example"},
      {"no references", "no references"},
  };
  for (const auto& row : table) {
    const auto expanded = expand_properties(row.in, s);
    ASSERT_TRUE(expanded.has_value()) << row.in;
    EXPECT_EQ(*expanded, row.out) << row.in;
  }
}

TEST(ConfigProperties, ExpansionErrorsNameTheReferenceAndItsOffset) {
  const property_sources s = sample_sources();
  auto unresolved = expand_properties("ab ${nope} ${x}", s);
  ASSERT_FALSE(unresolved.has_value());
  EXPECT_EQ(unresolved.error().offset, 3u);
  EXPECT_EQ(unresolved.error().name, "nope");
  auto empty = expand_properties("$${x}${empty}", s);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().offset, 5u);
  EXPECT_EQ(empty.error().name, "empty");
  EXPECT_EQ(expand_properties("${}", s).error().name, "");
}

TEST(ConfigProperties, ExpansionIsBounded) {
  property_sources s;
  s.file = {{"a", std::string(1000, 'v')}};
  auto ok = expand_properties("${a}${a}", s, 2000);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->size(), 2000u);
  auto over = expand_properties("${a}${a} ${a}", s, 2000);
  ASSERT_FALSE(over.has_value());
  EXPECT_TRUE(over.error().too_long);
  EXPECT_EQ(over.error().offset, 9u);  // the reference that would cross the limit
  EXPECT_EQ(over.error().name, "a");
}

// tests/fuzz/regressions/config_fuzz/property-expansion-unbounded.xml: 9,000 references to a
// 30,000-byte property in one text expanded to 270 MB; now refused where the text crosses 64 KiB.
TEST(ConfigProperties, ManyReferencesToALongValueAreRefusedNotExpanded) {
  std::string refs;
  for (int i = 0; i < 9000; ++i) refs += "${a}";
  const std::string text = wrap("  <properties>" + property("a", std::string(30000, 'v')) + "</properties>\n" +
                                "  <service><name>" + refs +
                                "</name><accept>ws://localhost:8000/</accept><type>echo</type></service>\n");
  const std::string error = error_of(text);
  EXPECT_NE(error.find("t.xml:3:"), std::string::npos) << error;
  EXPECT_NE(error.find("substituting ${a} here makes the text longer than 64 KiB"), std::string::npos) << error;
}

TEST(ConfigProperties, Precedence) {
  property_sources s;
  s.defines = {{"x", "D"}, {"blank", ""}, {"hostname", "from-d"}};
  s.file = {{"x", "F"}, {"blank", "file"}, {"y", "F"}};
  s.hostname = "builtin";
  EXPECT_EQ(s.lookup("x"), "D");
  EXPECT_EQ(s.lookup("blank"), "file");  // an empty value does not count (KAAZING)
  EXPECT_EQ(s.lookup("y"), "F");
  EXPECT_EQ(s.lookup("hostname"), "from-d");
  s.defines.erase("hostname");
  EXPECT_EQ(s.lookup("hostname"), "builtin");
  s.file["hostname"] = "from-file";
  EXPECT_EQ(s.lookup("hostname"), "from-file");
  EXPECT_EQ(s.lookup("z"), std::nullopt);
}

TEST(ConfigProperties, DefineWinsOverTheFileAndTheFileOverBuiltIns) {
  const std::string props =
      "  <properties>" + property("d", "file") + property("hostname", "file-host") + "</properties>\n";
  EXPECT_EQ(description_with(props, "${d}"), "file");
  load_options options;
  options.defines = {{"d", "  cli \n"}};
  EXPECT_EQ(description_with(props, "${d}", options), "cli");  // -D values are trimmed too
  EXPECT_EQ(description_with(props, "${hostname}"), "file-host");
  options.defines = {{"d", "first"}, {"d", "last"}};
  EXPECT_EQ(description_with(props, "${d}", options), "last");
  options.defines = {{"d", ""}};
  EXPECT_EQ(description_with(props, "${d}", options), "file");
}

TEST(ConfigProperties, EscapesInTheDocument) { EXPECT_EQ(description_with("", "$${x} and $$${x}"), "${x} and $${x}"); }

TEST(ConfigProperties, HostnameBuiltIn) {
  load_options options;
  options.hostname = "gw1.example.com";
  EXPECT_EQ(description_with("", "${hostname}", options), "gw1.example.com");
  char name[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(gethostname(name, sizeof name - 1), 0);
  EXPECT_EQ(description_with("", "at ${hostname}"), std::string("at ") + name);
}

TEST(ConfigProperties, ValuesAreTrimmedAndUsedOnce) {
  const std::string props =
      "  <properties>" + property("ip", "\n   127.0.0.1  \n") + property("a", "${ip}") + "</properties>\n";
  EXPECT_EQ(description_with(props, "[${ip}]"), "[127.0.0.1]");
  EXPECT_EQ(description_with(props, "${a}"), "${ip}");  // single pass, as in KAAZING
}

TEST(ConfigProperties, PropertiesMayStandAnywhereInTheRoot) {
  const std::string text = wrap(
      "  <service><name>${n}</name><accept>ws://localhost:8000/</accept><type>echo</type></service>\n"
      "  <properties>" +
      property("n", "late") + "</properties>\n");
  EXPECT_EQ(load_config_text(text, "t.xml", {})->services.at(0).name, "late");
}

TEST(ConfigProperties, UnresolvedReferenceIsAnErrorAtItsPosition) {
  const std::string text = wrap(
      "  <service>\n"
      "    <name>s</name>\n"
      "    <accept>ws://${host.name}:8000/</accept>\n"
      "    <type>echo</type>\n"
      "  </service>\n");
  EXPECT_EQ(error_of(text),
            "t.xml:4:18: error: property ${host.name} is not defined (define it in <properties> or with -D "
            "host.name=value)");
  load_options options;
  options.defines = {{"host.name", "example.com"}};
  EXPECT_EQ(error_of(text, options), "");
}

TEST(ConfigProperties, EmptyPropertyIsAnError) {
  const std::string text = wrap("  <properties>" + property("e", "  ") + "</properties>\n" +
                                "  <service><name>${e}</name><accept>ws://localhost:8000/</accept>"
                                "<type>echo</type></service>\n");
  EXPECT_EQ(error_of(text),
            "t.xml:3:18: error: property ${e} is empty (give it a value in <properties> or with -D e=value)");
}

TEST(ConfigProperties, EveryTextIsSubstitutedEvenWhereNothingReadsIt) {
  // A reference in a property's own value is checked like any other text (KAAZING's second pass).
  const std::string text =
      wrap("  <properties>\n    " + property("a", "${missing}") + "\n  </properties>\n" + echo_service);
  EXPECT_EQ(error_of(text),
            "t.xml:3:36: error: property ${missing} is not defined (define it in <properties> or with -D "
            "missing=value)");
}

TEST(ConfigProperties, AttributeValuesAreSubstituted) {
  const std::string root =
      "<gateway-config xmlns=\"http://xmlns.kaazing.org/2016/06/gateway\"\n"
      "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
      "    xsi:schemaLocation=\"$${literal} ${where}\">\n";
  const std::string text = root + echo_service + "</gateway-config>\n";
  EXPECT_EQ(error_of(text),
            "t.xml:3:37: error: property ${where} is not defined (define it in <properties> or with -D "
            "where=value)");

  xml_document doc = parse_xml(text, "t.xml");
  load_options options;
  options.defines = {{"where", "gateway.xsd"}};
  substitute_properties(doc, collect_properties(doc, options));
  EXPECT_EQ(doc.root.attributes.at(0).value.value, "${literal} gateway.xsd");
  EXPECT_EQ(error_of(text, options), "");
}

TEST(ConfigProperties, UnwrappedNameAndValueAreRefused) {
  const std::string text = wrap(
      "  <properties>\n"
      "    <name>gateway.hostname</name>\n"
      "    <value>example.com</value>\n"
      "  </properties>\n" +
      echo_service);
  EXPECT_EQ(error_of(text),
            "t.xml:3:5: error: <name> directly inside <properties>: wrap each name and value in <property> "
            "(<property><name>...</name><value>...</value></property>); KAAZING's Enterprise Shield "
            "walkthrough leaves the wrapper out, which the product refuses too");
}

TEST(ConfigProperties, MalformedPropertiesAreRefused) {
  EXPECT_EQ(error_of(wrap("  <properties>\n    " + property("a", "1") + "\n    " + property("a", "2") +
                          "\n  </properties>\n" + echo_service)),
            "t.xml:4:21: error: property 'a' is defined twice (the first is at 3:21)");
  EXPECT_EQ(error_of(wrap("  <properties>\n    <property><name>a</name></property>\n  </properties>\n" + echo_service)),
            "t.xml:3:5: error: missing <value> in <property>");
  EXPECT_EQ(error_of(wrap("  <properties>\n    <property><name> </name><value>1</value></property>\n"
                          "  </properties>\n" +
                          echo_service)),
            "t.xml:3:15: error: <name> is empty");
  EXPECT_EQ(error_of(wrap("  <properties>" + property("a{b", "1") + "</properties>\n" + echo_service)),
            "t.xml:2:31: error: property name 'a{b' cannot hold '{' or '}'");
  EXPECT_EQ(error_of(wrap("  <properties></properties>\n  <properties></properties>\n" + echo_service)),
            "t.xml:3:3: error: duplicate <properties> in <gateway-config> (the first is at 2:3); put every "
            "<property> in one block");
  EXPECT_EQ(error_of(wrap("  <properties><property><name>a</name><value>1</value><note/></property>"
                          "</properties>\n" +
                          echo_service)),
            "t.xml:2:55: error: unknown element <note> in <property>; expected one of: name, value");
  EXPECT_EQ(error_of(wrap("  <properties>stray</properties>\n" + echo_service)),
            "t.xml:2:15: error: <properties> holds elements, not text: unexpected text 'stray'");
}

}  // namespace
}  // namespace postern::config
