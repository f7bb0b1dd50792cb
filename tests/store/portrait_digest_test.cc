// A profile's digest text (store/portrait_digest.h): what it holds reads back as it was, a text
// that is not a digest is refused, and the spec names what it holds.
#include "store/portrait_digest.h"

#include <gtest/gtest.h>

namespace portrait::store {
namespace {

using nlohmann::json;

TEST(PortraitDigest, WhatItHoldsReadsBackAsItWas) {
  Profile p;
  p.id = 7;
  p.external_id = "never in a digest";
  p.lifecycle = "active";
  p.timezone = "Asia/Shanghai";
  p.tags = {"a", "vip"};
  p.metrics = {{"orders", 3}, {"spent", 12.5}, {"$segments", {{"s0", 1}}}};
  p.fields = {{"city", "杭州"}, {"age", 41}, {"opt", nullptr}};
  const std::string text = DigestText(p, p.fields, {"s0", "s9"});
  EXPECT_EQ(text.find("never in a digest"), std::string::npos);

  std::optional<PortraitDigest> d = ParseDigest(7, text);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->profile.id, 7);
  EXPECT_TRUE(d->profile.external_id.empty());
  EXPECT_EQ(d->profile.lifecycle, "active");
  EXPECT_EQ(d->profile.timezone, "Asia/Shanghai");
  EXPECT_EQ(d->profile.tags, p.tags);
  EXPECT_EQ(d->profile.metrics, p.metrics);
  EXPECT_EQ(d->profile.fields, p.fields);
  EXPECT_EQ(d->segments, (std::vector<std::string>{"s0", "s9"}));
}

TEST(PortraitDigest, ATextThatIsNotOneIsRefused) {
  const json good = json::parse(DigestText(Profile{}, json::object(), {}));
  for (const char* key : {"l", "z", "t", "m", "f", "s"}) {
    json missing = good;
    missing.erase(key);
    EXPECT_FALSE(ParseDigest(1, missing.dump())) << key;
    json wrong = good;
    wrong[key] = 5;
    EXPECT_FALSE(ParseDigest(1, wrong.dump())) << key;
  }
  json tag_not_string = good;
  tag_not_string["t"] = {1};
  EXPECT_FALSE(ParseDigest(1, tag_not_string.dump()));
  EXPECT_FALSE(ParseDigest(1, "[]"));
  EXPECT_FALSE(ParseDigest(1, "{\"l\":"));
  EXPECT_FALSE(ParseDigest(1, ""));
  EXPECT_TRUE(ParseDigest(1, good.dump()));
}

TEST(PortraitDigest, TheSpecNamesWhatItHolds) {
  const std::string spec = DigestSpec({"orders", "spent"}, {"city"});
  EXPECT_EQ(spec, DigestSpec({"orders", "spent"}, {"city"}));
  EXPECT_NE(spec, DigestSpec({"orders"}, {"city"}));
  EXPECT_NE(spec, DigestSpec({"orders", "spent"}, {}));
  EXPECT_NE(DigestSpec({"a"}, {"b"}), DigestSpec({"b"}, {"a"}));
  EXPECT_NE(DigestSpec({"a", "b"}, {}), DigestSpec({"ab"}, {}));
  EXPECT_NE(DigestSpec({"a", "b"}, {}), DigestSpec({"a,b"}, {}));
  EXPECT_NE(DigestSpec({"a"}, {"b"}), DigestSpec({"a", "b"}, {}));
}

}  // namespace
}  // namespace portrait::store
