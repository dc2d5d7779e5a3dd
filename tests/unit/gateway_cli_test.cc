#include "gateway/cli.h"

#include <gtest/gtest.h>

#include <vector>

namespace postern::gateway {
namespace {

std::expected<cli_options, std::string> parse(std::vector<std::string_view> args) { return parse_cli(args); }

TEST(cli, config_and_defines_in_order) {
  auto o = parse({"-c", "gw.xml", "-D", "a=1", "-Db=x=y", "--define", "c="});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->config_path, "gw.xml");
  ASSERT_EQ(o->defines.size(), 3u);
  EXPECT_EQ(o->defines[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(o->defines[1], (std::pair<std::string, std::string>{"b", "x=y"}));
  EXPECT_EQ(o->defines[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_FALSE(o->check);
}

TEST(cli, check_flag) {
  auto o = parse({"--check", "-c", "gw.xml"});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->check);
}

TEST(cli, version_and_help_need_no_config) {
  EXPECT_TRUE(parse({"--version"})->version);
  EXPECT_TRUE(parse({"--help"})->help);
}

TEST(cli, errors_name_the_argument) {
  EXPECT_EQ(parse({}).error(), "no config file: use -c FILE");
  EXPECT_EQ(parse({"-c"}).error(), "-c needs a value");
  EXPECT_EQ(parse({"-c", "a", "--frobnicate"}).error(), "unknown argument '--frobnicate'");
  EXPECT_EQ(parse({"-c", "a", "-D", "novalue"}).error(), "-D expects name=value, got 'novalue'");
  EXPECT_EQ(parse({"-c", "a", "-D", "=v"}).error(), "-D expects name=value, got '=v'");
  EXPECT_EQ(parse({"-c", "a", "-c", "b"}).error(), "-c given twice");
}

TEST(cli, usage_names_every_flag) {
  std::string u = usage_text("postern");
  for (const char* flag : {"-c FILE", "-D name=value", "--check", "--version", "--help", "POSTERN_BACKEND"})
    EXPECT_NE(u.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace postern::gateway
