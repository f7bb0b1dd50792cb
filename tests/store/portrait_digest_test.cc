// A profile's digest text (store/portrait_digest.h): what it holds reads back as it was, any text
// reads as json::parse reads it (ParseDigest scans with simdjson and hands what it cannot be
// sure of to json::parse), a text that is not a digest is refused, and the spec names what it
// holds.
#include "store/portrait_digest.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace portrait::store {
namespace {

using nlohmann::json;

// `v` with the type of every value spelled out (json's == calls 3, 3u and 3.0 equal).
std::string Typed(const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      std::string out = "{";
      for (const auto& [key, value] : v.items()) {
        out += json(key).dump() + ":" + Typed(value) + ",";
      }
      return out + "}";
    }
    case json::value_t::array: {
      std::string out = "[";
      for (const json& value : v) {
        out += Typed(value) + ",";
      }
      return out + "]";
    }
    default:
      return std::string(v.type_name()) + (v.is_number_unsigned() ? "u" : "") + ":" + v.dump();
  }
}

// What a digest text holds as json::parse reads it, in one string; "" when it is not a digest.
std::string Reference(const std::string& text) {
  const json d = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!d.is_object()) {
    return "";
  }
  for (const char* key : {"l", "z", "t", "m", "f", "s"}) {
    if (!d.contains(key)) {
      return "";
    }
  }
  auto strings = [](const json& a) {
    return a.is_array() &&
           std::all_of(a.begin(), a.end(), [](const json& s) { return s.is_string(); });
  };
  if (!d["l"].is_string() || !d["z"].is_string() || !strings(d["t"]) || !d["m"].is_object() ||
      !d["f"].is_object() || !strings(d["s"])) {
    return "";
  }
  return Typed(json::array({d["l"], d["z"], d["t"], d["m"], d["f"], d["s"]}));
}

// Digest text `base` with its entry `drop` left out and `entries` (raw JSON text) put first.
std::string With(const std::string& entries, const std::string& base, const char* drop = "") {
  json rest = json::parse(base);
  rest.erase(drop);
  return "{" + entries + "," + rest.dump().substr(1);
}

// ParseDigest's answer in Reference's form, read into `d` (reused from call to call).
std::string ParsedInto(const std::string& text, PortraitDigest& d) {
  if (!ParseDigest(3, text, d)) {
    return "";
  }
  EXPECT_EQ(d.profile.id, 3);
  return Typed(json::array({d.profile.lifecycle, d.profile.timezone, d.profile.tags,
                            d.profile.metrics, d.profile.fields, d.segments}));
}

// The same, read into a new digest.
std::string Parsed(const std::string& text) {
  PortraitDigest d;
  return ParsedInto(text, d);
}

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

TEST(PortraitDigest, AnyTextReadsAsJsonParseReadsIt) {
  Profile p;
  p.lifecycle = "at \"risk\"\n";
  p.timezone = "Asia/Shanghai";
  p.tags = {"rfm/important_value", "标签", ""};
  p.metrics = {{"orders", 3},
               {"debt", -4},
               {"zero", -0.0},
               {"spent", 97.75},
               {"huge", 18446744073709551615u},
               {"tiny", -9223372036854775807 - 1},
               {"last_order", "2026-11-02T10:11:12Z"},
               {"book", {{"days", {{20010, 31.5}, {20044, 12.25}}}, {"none", nullptr}}},
               {"flags", {true, false}}};
  p.fields = {
      {"city", "Hangzhou"}, {"name", std::string("王\0明\t", 8)}, {"age", 41}, {"opt", nullptr}};
  const std::string text = DigestText(p, p.fields, {"s0", "s1", "s10"});
  const std::string empty = DigestText(Profile{}, json::object(), {});
  std::vector<std::string> texts = {
      text,
      empty,
      " \n" + text + " \t",
      // keys it does not read, escaped keys, a key twice, what follows the value
      With(R"("x":[1,{"y":"\u00e9"}])", text),
      With(R"("\u006c":"new")", empty, "l"),
      With(R"("l":"first")", text),
      With(R"("m":{"a":1,"a":2})", empty, "m"),
      With(R"("t":["x"])", text),
      With(R"("s":["x"])", text),
      text + "x",
      text + "{}",
      // numbers json::parse reads and simdjson does not, and the other way round
      With(R"("m":{"big":18446744073709551616,"neg":-0,"e":1E+2})", empty, "m"),
      With(R"("m":{"e":1e400})", empty, "m"),
      With(R"("m":{"n":1.0e-5,"i":-1,"u":1})", empty, "m"),
      With(R"("m":{"n":01})", empty, "m"),
      With(R"("m":{"n":0.123456789012345678901})", empty, "m"),
      // strings that are not UTF-8, a NUL, a lone surrogate
      With("\"l\":\"\xff\"", empty, "l"),
      With(R"("l":"\ud800")", empty, "l"),
      With(std::string("\"l\":\"a\0b\"", 9), empty, "l"),
      // objects and arrays that differ from one text to the next, their keys in order
      R"({"f":{},"l":"","m":{"a":[1,"x",{"k":2}],"b":{"x":1,"y":"s"},"c":"t"},"s":["s1"],)"
      R"("t":["p","q","r"],"z":""})",
      R"({"f":{"city":3},"l":"x","m":{"a":[2],"b":{"y":[2]},"d":[1]},"s":[],"t":[],"z":"UTC"})",
      R"({"f":{"age":1,"city":"c"},"l":"","m":{"a":{"x":1},"b":[],"c":null,"e":{}},)"
      R"("s":["a","b"],"t":["t"],"z":""})",
      // nested deeper than the scan goes
      With(R"("m":{"d":)" + std::string(40, '[') + std::string(40, ']') + "}", empty, "m"),
      "",
      "[]",
      "null",
  };
  for (size_t cut = 1; cut < text.size(); cut += 7) {
    texts.push_back(text.substr(0, cut));
  }
  for (const std::string& t : texts) {
    SCOPED_TRACE(t);
    EXPECT_EQ(Parsed(t), Reference(t));
  }
  EXPECT_NE(Reference(text), "");
  // (the escaped key, the keys twice and the numbers are digests: json::parse takes the last;
  // so are the three whose objects change, which the reads into one digest below go through)
  for (const size_t i : {4, 6, 7, 8, 11, 19, 20, 21}) {
    EXPECT_NE(Reference(texts[i]), "") << texts[i];
  }
  // Read one after another into one digest, in both orders: what each text left is replaced.
  PortraitDigest reused;
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& t : texts) {
      SCOPED_TRACE(t);
      EXPECT_EQ(ParsedInto(t, reused), Reference(t));
    }
    std::reverse(texts.begin(), texts.end());
  }
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
