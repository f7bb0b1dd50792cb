#include "config/toml_guard.h"

#include <gtest/gtest.h>

#include "config/loader.h"

namespace portrait::config {
namespace {

// Where the check stops, as "line:column", or "none".
std::string HazardAt(std::string_view text) {
  std::optional<TomlHazard> h = FindTomlHazard(text);
  return h ? std::to_string(h->line) + ":" + std::to_string(h->column) : "none";
}

TEST(TomlGuard, AnyCharacterInStringValuesAndComments) {
  EXPECT_EQ(HazardAt("message = \"您的购物车还在等您,今天下单免运费。\"\n"), "none");
  EXPECT_EQ(HazardAt("name = 'café' # é, ü, 「」, кот\n"), "none");
  EXPECT_EQ(HazardAt("names = [\"é\", 'ü', \"\"\"ñ\n\"\"\"]\n"), "none");
  EXPECT_EQ(HazardAt("s = \"\"\"\né\"\"\"\nt = '''ü'''\n"), "none");
  EXPECT_EQ(HazardAt("\"中文\" = 1\n\"é\" = 2\n[a.\"кот\"]\nb = { \"ü\" = 1 }\n"), "none");
  EXPECT_EQ(HazardAt("s = \"é\n"), "none");  // never closed: toml++ says so
  EXPECT_EQ(HazardAt("[a]\nb = { c = \"é\" }\n[[d]]\n"), "none");
}

TEST(TomlGuard, NonAsciiOutsideStringsAndInvalidUtf8AreRefused) {
  EXPECT_EQ(HazardAt("café = 1\n"), "1:4");
  EXPECT_EQ(HazardAt("x = 1\u3000\n"), "1:6");
  EXPECT_EQ(HazardAt("x = \"\xff\"\n"), "1:6");
  EXPECT_EQ(HazardAt("# \xc0\xaf\n"), "1:3");  // an overlong '/'
  EXPECT_EQ(HazardAt("x = \"\xed\xa0\x80\"\n"), "1:6");  // a surrogate
}

TEST(TomlGuard, ANonAsciiCharacterAfterABackslashIsRefused) {
  EXPECT_EQ(HazardAt("s = \"\"\"\\\n  §\"\"\"\n"), "2:3");  // toml++ issue 190's example
  EXPECT_EQ(HazardAt("s = \"\"\"\\é\"\"\"\n"), "1:9");
  EXPECT_EQ(HazardAt("s = \"\"\"a\\\n  b§\"\"\"\n"), "none");
}

// Found by config_fuzz: a key with U+026D made toml++ reach __builtin_unreachable.
TEST(TomlGuard, TheFuzzedConfigIsRefusedNamingFileLineAndColumn) {
  const std::string text("[daemon]\ndata_dirword\xc9\xad\0@`\0\0rworking = 1\n", 40);
  auto config = ParseConfig(text, "portrait.toml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message(),
            "portrait.toml:2:13: a non-ASCII character outside a quoted string or a comment");
}

}  // namespace
}  // namespace portrait::config
