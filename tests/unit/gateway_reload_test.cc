// gateway/reload (plan_reload, fixed_at_start) and config::canonical_text, the fingerprint it
// matches services by. Configs are loaded from XML strings, as an operator writes them.
#include "gateway/reload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/xml_tree.h"

namespace postern::gateway {
namespace {

using config::gateway_config;
using config::service_config;

// --- config::canonical_text ---

std::string canonical(const std::string& xml) {
  const config::xml_document doc = config::parse_xml(xml, "t.xml");
  return config::canonical_text(doc.root);
}

TEST(canonical_text, attribute_order_does_not_matter) {
  EXPECT_EQ(canonical("<a x=\"1\" y=\"2\"/>"), canonical("<a y=\"2\" x=\"1\"/>"));
  EXPECT_EQ(canonical("<a x='1' y=\"2\"></a>"), canonical("<a  y=\"2\"\n   x=\"1\"  />"));
  // ... but names and values do.
  EXPECT_NE(canonical("<a x=\"1\" y=\"2\"/>"), canonical("<a x=\"2\" y=\"1\"/>"));
  EXPECT_NE(canonical("<a x=\"1\"/>"), canonical("<a z=\"1\"/>"));
  EXPECT_NE(canonical("<a x=\"1\"/>"), canonical("<a/>"));
  EXPECT_NE(canonical("<a x=\"\"/>"), canonical("<a/>"));
}

TEST(canonical_text, text_is_trimmed_of_xml_whitespace_only) {
  EXPECT_EQ(canonical("<a>v</a>"), canonical("<a> v </a>"));
  EXPECT_EQ(canonical("<a>v</a>"), canonical("<a>\n\t  v\r\n  </a>"));
  EXPECT_EQ(canonical("<a/>"), canonical("<a>   \n  </a>"));
  // Whitespace inside the text is content.
  EXPECT_NE(canonical("<a>v w</a>"), canonical("<a>v  w</a>"));
  EXPECT_NE(canonical("<a>vw</a>"), canonical("<a>v w</a>"));
  // A no-break space is not XML whitespace: it stays.
  EXPECT_NE(canonical("<a>v</a>"), canonical("<a>v\u00a0</a>"));
  // Attribute values are not trimmed.
  EXPECT_NE(canonical("<a x=\"1\"/>"), canonical("<a x=\" 1\"/>"));
}

TEST(canonical_text, comments_positions_and_spelling_of_characters_do_not_matter) {
  EXPECT_EQ(canonical("<a><b>1</b><c/></a>"),
            canonical("<a>\n  <!-- the b -->\n  <b>1</b>\n\n  <c></c> <!-- end -->\n</a>"));
  EXPECT_EQ(canonical("<a>&amp;&lt;</a>"), canonical("<a>&#38;&#x3C;</a>"));
  EXPECT_EQ(canonical("<a>x&lt;y</a>"), canonical("<a><![CDATA[x<y]]></a>"));
  EXPECT_EQ(canonical("<?xml version=\"1.0\"?>\n<a/>"), canonical("<a/>"));
}

TEST(canonical_text, child_order_matters) {
  EXPECT_NE(canonical("<a><b/><c/></a>"), canonical("<a><c/><b/></a>"));
  EXPECT_NE(canonical("<a><b>1</b><b>2</b></a>"), canonical("<a><b>2</b><b>1</b></a>"));
  EXPECT_NE(canonical("<a><b/></a>"), canonical("<a><b/><b/></a>"));
  EXPECT_EQ(canonical("<a><b>1</b><b>2</b></a>"), canonical("<a><b>1</b>\n<b>2</b></a>"));
}

TEST(canonical_text, names_and_namespaces_matter_prefixes_do_not) {
  EXPECT_NE(canonical("<a/>"), canonical("<A/>"));
  EXPECT_NE(canonical("<a/>"), canonical("<a xmlns=\"urn:x\"/>"));
  EXPECT_NE(canonical("<a xmlns=\"urn:x\"/>"), canonical("<a xmlns=\"urn:y\"/>"));
  EXPECT_EQ(canonical("<a xmlns=\"urn:x\"><b/></a>"), canonical("<p:a xmlns:p=\"urn:x\"><p:b/></p:a>"));
  EXPECT_NE(canonical("<a xmlns:p=\"urn:x\" p:k=\"1\"/>"), canonical("<a k=\"1\"/>"));
}

TEST(canonical_text, nesting_cannot_be_imitated_by_text) {
  // Text holding '<' characters is not a child element.
  EXPECT_NE(canonical("<a><b/></a>"), canonical("<a>&lt;b/&gt;</a>"));
  EXPECT_NE(canonical("<a><b>1</b></a>"), canonical("<a>&lt;b&gt;1&lt;/b&gt;</a>"));
  // Nor is text holding the canonical form of a child: the exact bytes a child would add.
  const std::string parent = canonical("<a/>");
  const std::string with_child = canonical("<a><b>1</b></a>");
  ASSERT_TRUE(with_child.starts_with(parent.substr(0, parent.size() - 1)));
  const std::string child = canonical("<b>1</b>");
  std::string escaped;
  for (char c : child) {
    if (c == '<') escaped += "&lt;";
    else if (c == '>') escaped += "&gt;";
    else if (c == '&') escaped += "&amp;";
    else if (c == '"') escaped += "&quot;";
    else escaped += c;
  }
  EXPECT_NE(with_child, canonical("<a>" + escaped + "</a>"));
  // An element's text cannot imitate the end of the element and the start of a sibling.
  EXPECT_NE(canonical("<r><a>x</a><b>y</b></r>"),
            canonical("<r><a>x&quot;0:&gt;&lt;0:1:b&quot;1:y</a></r>"));
  // An attribute value cannot imitate a second attribute, nor a name another name.
  EXPECT_NE(canonical("<a x=\"1\" y=\"2\"/>"), canonical("<a x=\"1@0:1:y1:2\"/>"));
  EXPECT_NE(canonical("<a><bc/></a>"), canonical("<a><b>c</b></a>"));
  // Text moved between parent and child is a different document.
  EXPECT_NE(canonical("<a>x<b/></a>"), canonical("<a><b>x</b></a>"));
}

// --- plan_reload over loaded configs ---

const std::string head = "<gateway-config xmlns=\"http://xmlns.kaazing.org/2016/06/gateway\">\n";

std::string wrap(const std::string& body) { return head + body + "</gateway-config>\n"; }

std::string echo(const std::string& name, const std::string& accept, const std::string& more = "") {
  return "  <service>\n    <name>" + name + "</name>\n    <accept>" + accept +
         "</accept>\n    <type>echo</type>\n" + more + "  </service>\n";
}

std::string proxy(const std::string& name, const std::string& accept, const std::string& connect,
                  const std::string& more = "") {
  return "  <service>\n    <name>" + name + "</name>\n    <accept>" + accept + "</accept>\n    <connect>" + connect +
         "</connect>\n    <type>proxy</type>\n" + more + "  </service>\n";
}

std::shared_ptr<const gateway_config> load(const std::string& text, config::load_options options = {}) {
  return config::load_config_text(text, "t.xml", options);
}

std::multiset<std::string> names(const std::vector<const service_config*>& services) {
  std::multiset<std::string> out;
  for (const service_config* s : services) out.insert(s->name);
  return out;
}

struct outcome {
  std::multiset<std::string> kept, stopped, started;
  std::vector<std::string> refused;
};

// The plan's service names (a kept pair must carry one name: its old and new self), or the
// sentences of a refusal.
outcome plan(const gateway_config& running, const gateway_config& next) {
  outcome out;
  auto planned = plan_reload(running, next);
  if (!planned) {
    out.refused = planned.error();
    return out;
  }
  for (const auto& [old, now] : planned->kept) {
    EXPECT_EQ(old->name, now->name);
    EXPECT_EQ(old->fingerprint, now->fingerprint);
    out.kept.insert(old->name);
  }
  out.stopped = names(planned->stopped);
  out.started = names(planned->started);
  return out;
}

outcome plan(const std::string& running, const std::string& next, config::load_options running_options = {},
             config::load_options next_options = {}) {
  return plan(*load(running, running_options), *load(next, next_options));
}

using set = std::multiset<std::string>;
using sentences = std::vector<std::string>;

const std::string two_echoes = echo("a", "ws://127.0.0.1:8000/a") + echo("b", "ws://127.0.0.1:8000/b");

TEST(reload_plan, identical_configs_keep_everything) {
  const std::string text = wrap(two_echoes + echo("t", "tcp://127.0.0.1:8001") +
                                proxy("p", "ws://127.0.0.1:8002/p", "tcp://127.0.0.1:9000"));
  const outcome o = plan(text, text);
  EXPECT_TRUE(o.refused.empty());
  EXPECT_EQ(o.kept, (set{"a", "b", "p", "t"}));
  EXPECT_TRUE(o.stopped.empty());
  EXPECT_TRUE(o.started.empty());
}

TEST(reload_plan, the_same_config_object_keeps_everything) {
  const auto config = load(wrap(two_echoes));
  const outcome o = plan(*config, *config);
  EXPECT_EQ(o.kept, (set{"a", "b"}));
  EXPECT_TRUE(o.stopped.empty() && o.started.empty() && o.refused.empty());
}

TEST(reload_plan, a_changed_accept_stops_and_starts_that_service_only) {
  const outcome o =
      plan(wrap(two_echoes), wrap(echo("a", "ws://127.0.0.1:8000/a2") + echo("b", "ws://127.0.0.1:8000/b")));
  EXPECT_TRUE(o.refused.empty());
  EXPECT_EQ(o.kept, (set{"b"}));
  EXPECT_EQ(o.stopped, (set{"a"}));
  EXPECT_EQ(o.started, (set{"a"}));
}

TEST(reload_plan, a_second_accept_changes_the_service) {
  const outcome o = plan(wrap(two_echoes),
                         wrap(echo("a", "ws://127.0.0.1:8000/a", "    <accept>tcp://127.0.0.1:8003</accept>\n") +
                              echo("b", "ws://127.0.0.1:8000/b")));
  EXPECT_EQ(o.kept, (set{"b"}));
  EXPECT_EQ(o.stopped, (set{"a"}));
  EXPECT_EQ(o.started, (set{"a"}));
}

TEST(reload_plan, changed_properties_stop_and_start_the_service) {
  const std::string running =
      wrap(echo("a", "ws://127.0.0.1:8000/a", "    <properties><send.timeout>30 seconds</send.timeout></properties>\n") +
           echo("b", "ws://127.0.0.1:8000/b"));
  const outcome changed = plan(
      running,
      wrap(echo("a", "ws://127.0.0.1:8000/a", "    <properties><send.timeout>31 seconds</send.timeout></properties>\n") +
           echo("b", "ws://127.0.0.1:8000/b")));
  EXPECT_TRUE(changed.refused.empty());
  EXPECT_EQ(changed.kept, (set{"b"}));
  EXPECT_EQ(changed.stopped, (set{"a"}));
  EXPECT_EQ(changed.started, (set{"a"}));
  // Removing the block, or adding one to the other service, is a change too.
  const outcome removed = plan(running, wrap(two_echoes));
  EXPECT_EQ(removed.kept, (set{"b"}));
  EXPECT_EQ(removed.stopped, (set{"a"}));
  EXPECT_EQ(removed.started, (set{"a"}));
  // Even when the new text means the same duration: content is compared as written.
  const outcome respelled = plan(
      running,
      wrap(echo("a", "ws://127.0.0.1:8000/a", "    <properties><send.timeout>30</send.timeout></properties>\n") +
           echo("b", "ws://127.0.0.1:8000/b")));
  EXPECT_EQ(respelled.stopped, (set{"a"}));
  EXPECT_EQ(respelled.started, (set{"a"}));
}

TEST(reload_plan, changed_accept_options_stop_and_start_the_service) {
  const outcome o = plan(
      wrap(two_echoes),
      wrap(echo("a", "ws://127.0.0.1:8000/a") +
           echo("b", "ws://127.0.0.1:8000/b",
                "    <accept-options><ws.inactivity.timeout>5 seconds</ws.inactivity.timeout></accept-options>\n")));
  EXPECT_EQ(o.kept, (set{"a"}));
  EXPECT_EQ(o.stopped, (set{"b"}));
  EXPECT_EQ(o.started, (set{"b"}));
}

TEST(reload_plan, a_changed_connect_stops_and_starts_the_proxy) {
  const std::string e = echo("e", "ws://127.0.0.1:8000/e");
  const outcome o = plan(wrap(e + proxy("p", "ws://127.0.0.1:8000/p", "tcp://127.0.0.1:9000")),
                         wrap(e + proxy("p", "ws://127.0.0.1:8000/p", "tcp://127.0.0.1:9001")));
  EXPECT_TRUE(o.refused.empty());
  EXPECT_EQ(o.kept, (set{"e"}));
  EXPECT_EQ(o.stopped, (set{"p"}));
  EXPECT_EQ(o.started, (set{"p"}));
  const outcome options = plan(
      wrap(e + proxy("p", "ws://127.0.0.1:8000/p", "tcp://127.0.0.1:9000")),
      wrap(e + proxy("p", "ws://127.0.0.1:8000/p", "tcp://127.0.0.1:9000",
                     "    <connect-options><tcp.connect.timeout>1 s</tcp.connect.timeout></connect-options>\n")));
  EXPECT_EQ(options.kept, (set{"e"}));
  EXPECT_EQ(options.stopped, (set{"p"}));
  EXPECT_EQ(options.started, (set{"p"}));
}

TEST(reload_plan, a_renamed_service_is_another_service) {
  const outcome o =
      plan(wrap(two_echoes), wrap(echo("a", "ws://127.0.0.1:8000/a") + echo("c", "ws://127.0.0.1:8000/b")));
  EXPECT_EQ(o.kept, (set{"a"}));
  EXPECT_EQ(o.stopped, (set{"b"}));
  EXPECT_EQ(o.started, (set{"c"}));
}

TEST(reload_plan, added_and_removed_services) {
  const outcome o = plan(wrap(two_echoes), wrap(echo("b", "ws://127.0.0.1:8000/b") + echo("c", "tcp://127.0.0.1:8001") +
                                                echo("d", "ws://127.0.0.2:8000/d")));
  EXPECT_TRUE(o.refused.empty());
  EXPECT_EQ(o.kept, (set{"b"}));
  EXPECT_EQ(o.stopped, (set{"a"}));
  EXPECT_EQ(o.started, (set{"c", "d"}));
}

TEST(reload_plan, whitespace_indentation_comments_and_order_of_services_are_no_change) {
  const std::string running = wrap(two_echoes + proxy("p", "ws://127.0.0.1:8002/p", "tcp://127.0.0.1:9000"));
  const std::string next =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- reformatted by hand -->\n"
      "<gateway-config xmlns=\"http://xmlns.kaazing.org/2016/06/gateway\">\n"
      "<service><name>p</name><accept>  ws://127.0.0.1:8002/p\n</accept>\n"
      "\t\t<connect>tcp://127.0.0.1:9000</connect><type>proxy</type></service>\n\n\n"
      "      <service>\n"
      "        <!-- the second one -->\n"
      "        <name>b</name>\n"
      "        <accept>ws://127.0.0.1:8000/b</accept>\n"
      "        <type>\n          echo\n        </type>\n"
      "      </service>\n"
      "<service><name>a</name><accept>ws://127.0.0.1:8000/a</accept><type>echo</type></service>\n"
      "</gateway-config>\n";
  const outcome o = plan(running, next);
  EXPECT_TRUE(o.refused.empty());
  EXPECT_EQ(o.kept, (set{"a", "b", "p"}));
  EXPECT_TRUE(o.stopped.empty());
  EXPECT_TRUE(o.started.empty());
}

TEST(reload_plan, a_namespace_prefix_is_no_change) {
  const std::string prefixed =
      "<g:gateway-config xmlns:g=\"http://xmlns.kaazing.org/2016/06/gateway\">\n"
      "  <g:service><g:name>a</g:name><g:accept>ws://127.0.0.1:8000/a</g:accept><g:type>echo</g:type></g:service>\n"
      "</g:gateway-config>\n";
  const outcome o = plan(wrap(echo("a", "ws://127.0.0.1:8000/a")), prefixed);
  EXPECT_EQ(o.kept, (set{"a"}));
  EXPECT_TRUE(o.stopped.empty() && o.started.empty());
}

TEST(reload_plan, a_change_in_service_defaults_changes_every_service) {
  const std::string services = two_echoes + proxy("p", "ws://127.0.0.1:8002/p", "tcp://127.0.0.1:9000");
  const std::string defaults_30 =
      "  <service-defaults><accept-options><ws.inactivity.timeout>30 s</ws.inactivity.timeout></accept-options>"
      "</service-defaults>\n";
  const std::string defaults_40 =
      "  <service-defaults><accept-options><ws.inactivity.timeout>40 s</ws.inactivity.timeout></accept-options>"
      "</service-defaults>\n";
  const outcome changed = plan(wrap(defaults_30 + services), wrap(defaults_40 + services));
  EXPECT_TRUE(changed.refused.empty());
  EXPECT_TRUE(changed.kept.empty());
  EXPECT_EQ(changed.stopped, (set{"a", "b", "p"}));
  EXPECT_EQ(changed.started, (set{"a", "b", "p"}));
  const outcome added = plan(wrap(services), wrap(defaults_30 + services));
  EXPECT_TRUE(added.kept.empty());
  EXPECT_EQ(added.stopped, (set{"a", "b", "p"}));
  EXPECT_EQ(added.started, (set{"a", "b", "p"}));
  // Where the defaults stand among the root's children is no change.
  const outcome moved = plan(wrap(defaults_30 + services), wrap(services + "  <!-- moved -->\n" + defaults_30));
  EXPECT_EQ(moved.kept, (set{"a", "b", "p"}));
  EXPECT_TRUE(moved.stopped.empty() && moved.started.empty());
}

TEST(reload_plan, a_change_in_security_changes_every_service) {
  const std::string security_1 = "  <security><truststore><type>PEM</type><file>ca.pem</file></truststore></security>\n";
  const std::string security_2 =
      "  <security><truststore><type>PEM</type><file>ca-2.pem</file></truststore></security>\n";
  const outcome o = plan(wrap(security_1 + two_echoes), wrap(security_2 + two_echoes));
  EXPECT_TRUE(o.refused.empty());
  EXPECT_TRUE(o.kept.empty());
  EXPECT_EQ(o.stopped, (set{"a", "b"}));
  EXPECT_EQ(o.started, (set{"a", "b"}));
}

TEST(reload_plan, a_property_define_that_changed_changes_the_services_that_use_it) {
  const std::string text = wrap(
      "  <properties><property><name>port</name><value>8000</value></property>"
      "<property><name>unused</name><value>1</value></property></properties>\n" +
      echo("a", "ws://127.0.0.1:${port}/a") + echo("b", "ws://127.0.0.1:7000/b"));
  config::load_options at_start, now;
  at_start.defines = {{"port", "8000"}};
  now.defines = {{"port", "8001"}};
  const outcome changed = plan(text, text, at_start, now);
  EXPECT_TRUE(changed.refused.empty());
  EXPECT_EQ(changed.kept, (set{"b"}));
  EXPECT_EQ(changed.stopped, (set{"a"}));
  EXPECT_EQ(changed.started, (set{"a"}));
  // The file's own value (8000) and a define of the same value: the same service.
  const outcome same = plan(text, text, {}, at_start);
  EXPECT_EQ(same.kept, (set{"a", "b"}));
  EXPECT_TRUE(same.stopped.empty() && same.started.empty());
  // A define nobody uses is no change.
  config::load_options unused;
  unused.defines = {{"unused", "2"}};
  const outcome nobody = plan(text, text, {}, unused);
  EXPECT_EQ(nobody.kept, (set{"a", "b"}));
}

TEST(reload_plan, a_property_in_the_file_is_compared_after_substitution) {
  const std::string with_property = wrap(
      "  <properties><property><name>port</name><value>8000</value></property></properties>\n" +
      echo("a", "ws://127.0.0.1:${port}/a") + echo("b", "ws://127.0.0.1:7000/b"));
  const std::string literal = wrap(echo("a", "ws://127.0.0.1:8000/a") + echo("b", "ws://127.0.0.1:7000/b"));
  const outcome same = plan(with_property, literal);
  EXPECT_EQ(same.kept, (set{"a", "b"}));
  EXPECT_TRUE(same.stopped.empty() && same.started.empty());
  std::string changed = with_property;
  changed.replace(changed.find("<value>8000"), 11, "<value>8001");
  const outcome o = plan(with_property, changed);
  EXPECT_EQ(o.kept, (set{"b"}));
  EXPECT_EQ(o.stopped, (set{"a"}));
  EXPECT_EQ(o.started, (set{"a"}));
}

// Two services of one fingerprint cannot both stand in a loaded config (names are unique), but
// plan_reload matches multisets: each running service takes one equal new service at most.
service_config with_fingerprint(const std::string& name, const std::string& fingerprint) {
  service_config s;
  s.name = name;
  s.fingerprint = fingerprint;
  return s;
}

TEST(reload_plan, identical_services_are_matched_one_to_one) {
  gateway_config running, next, fewer, more;
  running.services = {with_fingerprint("x", "F"), with_fingerprint("x", "F")};
  next.services = {with_fingerprint("x", "F"), with_fingerprint("x", "F")};
  auto both = plan_reload(running, next);
  ASSERT_TRUE(both);
  ASSERT_EQ(both->kept.size(), 2u);
  EXPECT_TRUE(both->stopped.empty());
  EXPECT_TRUE(both->started.empty());
  EXPECT_NE(both->kept[0].first, both->kept[1].first);
  EXPECT_NE(both->kept[0].second, both->kept[1].second);
  for (const auto& [old, now] : both->kept) {
    EXPECT_TRUE(old == &running.services[0] || old == &running.services[1]);
    EXPECT_TRUE(now == &next.services[0] || now == &next.services[1]);
  }
  fewer.services = {with_fingerprint("x", "F")};
  auto one = plan_reload(running, fewer);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->kept.size(), 1u);
  ASSERT_EQ(one->stopped.size(), 1u);
  EXPECT_TRUE(one->started.empty());
  more.services = {with_fingerprint("x", "F"), with_fingerprint("y", "G"), with_fingerprint("x", "F"),
                   with_fingerprint("x", "F")};
  auto three = plan_reload(running, more);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->kept.size(), 2u);
  EXPECT_TRUE(three->stopped.empty());
  ASSERT_EQ(three->started.size(), 2u);
  EXPECT_EQ(three->started[0], &more.services[1]);
  EXPECT_EQ(three->started[1], &more.services[3]);
}

// --- what a reload refuses ---

const std::string refused_cluster_or_reactor = "<cluster> or <reactor> changed: restart postern to apply that";

std::string changing(const std::string& name) {
  return "service '" + name + "' takes part in the cluster or the reverse links: changing or removing it needs a restart";
}

std::string adding(const std::string& name) {
  return "service '" + name + "' would take part in the cluster or the reverse links: adding it needs a restart";
}

// A changed fixed service is refused with the sentence about changing it; the refusal may also
// say, for its new definition, that adding it needs a restart. Asserts that the refusal holds
// the changing sentence of each name and that every sentence is about one of them.
void expect_refused_for_changing(const outcome& o, const std::vector<std::string>& services) {
  EXPECT_FALSE(o.refused.empty());
  EXPECT_TRUE(o.kept.empty() && o.stopped.empty() && o.started.empty());
  for (const std::string& name : services)
    EXPECT_NE(std::ranges::find(o.refused, changing(name)), o.refused.end()) << "no refusal names " << name;
  for (const std::string& sentence : o.refused) {
    const bool about_one = std::ranges::any_of(
        services, [&](const std::string& name) { return sentence == changing(name) || sentence == adding(name); });
    EXPECT_TRUE(about_one) << sentence;
  }
}

const std::string cluster =
    "  <cluster><name>c</name><accept>tcp://10.0.0.1:5941</accept><connect>udp://224.2.2.44:44444</connect>"
    "</cluster>\n";

TEST(reload_plan, an_added_or_changed_cluster_is_refused) {
  const outcome added = plan(wrap(two_echoes), wrap(two_echoes + cluster));
  EXPECT_EQ(added.refused, (sentences{refused_cluster_or_reactor}));
  EXPECT_TRUE(added.kept.empty() && added.stopped.empty() && added.started.empty());
  const outcome removed = plan(wrap(two_echoes + cluster), wrap(two_echoes));
  EXPECT_EQ(removed.refused, (sentences{refused_cluster_or_reactor}));
  std::string other_group = cluster;
  other_group.replace(other_group.find("224.2.2.44"), 10, "224.2.2.45");
  const outcome changed = plan(wrap(two_echoes + cluster), wrap(two_echoes + other_group));
  EXPECT_EQ(changed.refused, (sentences{refused_cluster_or_reactor}));
  // The same cluster written otherwise is no change.
  const outcome reformatted =
      plan(wrap(two_echoes + cluster),
           wrap("  <cluster>\n    <name>c</name>\n    <accept>tcp://10.0.0.1:5941</accept>\n"
                "    <!-- multicast -->\n    <connect>udp://224.2.2.44:44444</connect>\n  </cluster>\n" +
                two_echoes));
  EXPECT_TRUE(reformatted.refused.empty());
  EXPECT_EQ(reformatted.kept, (set{"a", "b"}));
}

TEST(reload_plan, an_added_or_changed_reactor_is_refused) {
  const std::string two = "  <reactor><threads>2</threads></reactor>\n";
  const std::string three = "  <reactor><threads>3</threads></reactor>\n";
  EXPECT_EQ(plan(wrap(two_echoes), wrap(two_echoes + two)).refused, (sentences{refused_cluster_or_reactor}));
  EXPECT_EQ(plan(wrap(two_echoes + two), wrap(two_echoes + three)).refused, (sentences{refused_cluster_or_reactor}));
  EXPECT_EQ(plan(wrap(two_echoes + two), wrap(two_echoes)).refused, (sentences{refused_cluster_or_reactor}));
  EXPECT_TRUE(plan(wrap(two_echoes + two), wrap(two + two_echoes)).refused.empty());
}

const std::string balanced =
    "  <service><name>bal</name><accept>ws://public:8000/app</accept><type>balancer</type></service>\n"
    "  <service><name>member</name><accept>ws://127.0.0.1:8000/app</accept><balance>ws://public:8000/app</balance>"
    "<type>echo</type></service>\n";

TEST(reload_plan, balancer_and_balanced_services_unchanged_let_the_others_change) {
  const outcome o = plan(wrap(balanced + two_echoes),
                         wrap(balanced + echo("a", "ws://127.0.0.1:8000/a2") + echo("c", "tcp://127.0.0.1:8001")));
  EXPECT_TRUE(o.refused.empty());
  EXPECT_EQ(o.kept, (set{"bal", "member"}));
  EXPECT_EQ(o.stopped, (set{"a", "b"}));
  EXPECT_EQ(o.started, (set{"a", "c"}));
}

TEST(reload_plan, changing_a_balancer_is_refused_naming_it) {
  std::string redirect = balanced;
  redirect.replace(redirect.find("<type>balancer</type>"), 21,
                   "<type>balancer</type><properties><balancer.mode>redirect</balancer.mode></properties>");
  expect_refused_for_changing(plan(wrap(balanced + two_echoes), wrap(redirect + two_echoes)), {"bal"});
}

TEST(reload_plan, changing_a_service_with_balance_is_refused_naming_it) {
  std::string timed = balanced;
  timed.replace(timed.find("<type>echo</type>"), 17,
                "<type>echo</type><properties><send.timeout>5 s</send.timeout></properties>");
  expect_refused_for_changing(plan(wrap(balanced + two_echoes), wrap(timed + two_echoes)), {"member"});
}

TEST(reload_plan, a_service_defaults_change_under_a_balancer_is_refused_for_each_fixed_service) {
  const std::string defaults =
      "  <service-defaults><accept-options><ws.inactivity.timeout>30 s</ws.inactivity.timeout></accept-options>"
      "</service-defaults>\n";
  expect_refused_for_changing(plan(wrap(balanced + two_echoes), wrap(defaults + balanced + two_echoes)),
                              {"bal", "member"});
}

TEST(reload_plan, removing_a_balancer_pair_is_refused) {
  const outcome o = plan(wrap(balanced + two_echoes), wrap(two_echoes));
  EXPECT_EQ(o.refused, (sentences{changing("bal"), changing("member")}));
}

TEST(reload_plan, adding_a_balancer_pair_is_refused) {
  const outcome o = plan(wrap(two_echoes), wrap(two_echoes + balanced));
  EXPECT_EQ(o.refused, (sentences{adding("bal"), adding("member")}));
}

const std::string reverse_internal =
    "  <service><name>rev</name><accept>ws://app.example:80/app</accept><connect>tcp://127.0.0.1:9000</connect>"
    "<type>proxy</type><accept-options><http.transport>socks://dmz:1080</http.transport>"
    "<socks.mode>reverse</socks.mode></accept-options></service>\n";
const std::string socks_connect =
    "  <service><name>fwd</name><accept>tcp://127.0.0.1:7000</accept><connect>tcp://b:9000</connect>"
    "<type>proxy</type><connect-options><tcp.transport>socks://dmz:1080</tcp.transport></connect-options>"
    "</service>\n";

TEST(reload_plan, changing_a_socks_transport_service_is_refused_naming_it) {
  std::string longer = reverse_internal;
  longer.replace(longer.find("<socks.mode>"), 0, "<ws.inactivity.timeout>9 s</ws.inactivity.timeout>");
  expect_refused_for_changing(plan(wrap(two_echoes + reverse_internal), wrap(two_echoes + longer)), {"rev"});
  std::string other_backend = socks_connect;
  other_backend.replace(other_backend.find("tcp://b:9000"), 12, "tcp://c:9000");
  expect_refused_for_changing(plan(wrap(two_echoes + socks_connect), wrap(two_echoes + other_backend)), {"fwd"});
  // Unchanged, they stay while the others change.
  const outcome unchanged = plan(wrap(two_echoes + reverse_internal + socks_connect),
                                 wrap(echo("a", "ws://127.0.0.1:8000/a") + reverse_internal + socks_connect));
  EXPECT_TRUE(unchanged.refused.empty());
  EXPECT_EQ(unchanged.kept, (set{"a", "fwd", "rev"}));
  EXPECT_EQ(unchanged.stopped, (set{"b"}));
}

TEST(reload_plan, adding_or_removing_a_socks_transport_service_is_refused) {
  EXPECT_EQ(plan(wrap(two_echoes), wrap(two_echoes + reverse_internal)).refused, (sentences{adding("rev")}));
  EXPECT_EQ(plan(wrap(two_echoes), wrap(two_echoes + socks_connect)).refused, (sentences{adding("fwd")}));
  EXPECT_EQ(plan(wrap(two_echoes + socks_connect), wrap(two_echoes)).refused, (sentences{changing("fwd")}));
  const std::string ssl_link =
      "  <service><name>tls-link</name><accept>tcp://127.0.0.1:7001</accept><connect>tcp://b:9000</connect>"
      "<type>proxy</type><connect-options><tcp.transport>socks+ssl://dmz:1443</tcp.transport></connect-options>"
      "</service>\n";
  const std::string keystore = "  <security><keystore><type>PEM</type><file>k.pem</file></keystore></security>\n";
  EXPECT_EQ(plan(wrap(keystore + two_echoes), wrap(keystore + two_echoes + ssl_link)).refused,
            (sentences{adding("tls-link")}));
}

TEST(reload_plan, every_reason_is_given) {
  const outcome o = plan(wrap(balanced + two_echoes), wrap(two_echoes + reverse_internal + cluster));
  EXPECT_EQ(o.refused,
            (sentences{refused_cluster_or_reactor, changing("bal"), changing("member"), adding("rev")}));
}

TEST(reload_plan, fixed_at_start_names_balancers_balanced_and_socks_services) {
  const auto config = load(wrap(balanced + two_echoes + reverse_internal + socks_connect +
                                proxy("p", "ws://127.0.0.1:8002/p", "tcp://127.0.0.1:9000")));
  std::set<std::string> fixed;
  for (const service_config& s : config->services)
    if (fixed_at_start(s)) fixed.insert(s.name);
  EXPECT_EQ(fixed, (std::set<std::string>{"bal", "fwd", "member", "rev"}));
}

}  // namespace
}  // namespace postern::gateway
