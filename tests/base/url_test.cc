#include "base/url.h"

#include <gtest/gtest.h>

namespace portrait {
namespace {

TEST(PercentEncode, KeepsUnreservedAndEncodesEverythingElse) {
  EXPECT_EQ(PercentEncode("Az09-._~"), "Az09-._~");
  EXPECT_EQ(PercentEncode("+86 138/1?&=%"), "%2B86%20138%2F1%3F%26%3D%25");
  EXPECT_EQ(PercentEncode("\xe5\xbc\xa0"), "%E5%BC%A0");  // UTF-8 bytes, upper-case hex
}

TEST(SplitPath, DecodesEachSegmentAndKeepsPlus) {
  EXPECT_EQ(SplitPath("/v1/profiles/a%2Fb"), (std::vector<std::string>{"v1", "profiles", "a/b"}));
  EXPECT_EQ(SplitPath("/v1/profiles/+8613800000000"),
            (std::vector<std::string>{"v1", "profiles", "+8613800000000"}));
  EXPECT_EQ(SplitPath("//v1//tasks/"), (std::vector<std::string>{"v1", "tasks"}));
  EXPECT_EQ(SplitPath("/"), std::vector<std::string>{});
  EXPECT_EQ(SplitPath("/bad%zzescape%4"), std::vector<std::string>{"bad%zzescape%4"});
}

TEST(ParseQuery, DecodesKeysAndValues) {
  auto q = ParseQuery("state=dead&since=2026-11-01T00%3A00%3A00%2B08%3A00&flag&name=a+b");
  EXPECT_EQ(q["state"], "dead");
  EXPECT_EQ(q["since"], "2026-11-01T00:00:00+08:00");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["name"], "a b");
  EXPECT_EQ(q.size(), 4u);
}

TEST(PercentEncode, RoundTripsThroughSplitPathAndParseQuery) {
  const std::string id = "cust +1/2 \xe5\xbc\xa0&x=y%";
  EXPECT_EQ(SplitPath("/v1/profiles/" + PercentEncode(id)).back(), id);
  EXPECT_EQ(ParseQuery("profile=" + PercentEncode(id))["profile"], id);
}

}  // namespace
}  // namespace portrait
