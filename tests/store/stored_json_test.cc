// ParseStoredJson must answer exactly as json::parse does: the same values of the same types,
// whether simdjson scanned the text or handed it on.
#include "store/stored_json.h"

#include <gtest/gtest.h>

#include <random>

namespace portrait::store {
namespace {

using nlohmann::json;

// Equal values of equal types all the way down (json's == calls 3 and 3u equal).
::testing::AssertionResult Same(const json& a, const json& b) {
  if (a.type() != b.type()) {
    return ::testing::AssertionFailure() << a.dump() << " (" << a.type_name() << ") vs " << b.dump()
                                         << " (" << b.type_name() << ")";
  }
  if (a.is_object()) {
    if (a.size() != b.size()) {
      return ::testing::AssertionFailure() << a.dump() << " vs " << b.dump();
    }
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) {
        return ::testing::AssertionFailure() << "no '" << it.key() << "' in " << b.dump();
      }
      if (auto r = Same(it.value(), b.at(it.key())); !r) {
        return r;
      }
    }
    return ::testing::AssertionSuccess();
  }
  if (a.is_array()) {
    if (a.size() != b.size()) {
      return ::testing::AssertionFailure() << a.dump() << " vs " << b.dump();
    }
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto r = Same(a[i], b[i]); !r) {
        return r;
      }
    }
    return ::testing::AssertionSuccess();
  }
  if (a.dump() != b.dump()) {
    return ::testing::AssertionFailure() << a.dump() << " vs " << b.dump();
  }
  return ::testing::AssertionSuccess();
}

// What json::parse answers for `text` (with `only`, through the callback that keeps the
// top-level entries it names); nullopt when it refuses the text.
std::optional<json> Reference(const std::string& text, const std::vector<std::string>* only) {
  const json::parser_callback_t keep = [only](int depth, json::parse_event_t event, json& parsed) {
    return !only || depth != 1 || event != json::parse_event_t::key || !parsed.is_string() ||
           std::find(only->begin(), only->end(), parsed.get_ref<const std::string&>()) !=
               only->end();
  };
  json value = only ? json::parse(text, keep, /*allow_exceptions=*/false)
                    : json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return std::nullopt;
  }
  return value;
}

void ExpectAsReference(const std::string& text, const std::vector<std::string>* only = nullptr) {
  SCOPED_TRACE(text.size() > 200 ? text.substr(0, 200) + "…" : text);
  const std::optional<json> expected = Reference(text, only);
  const std::optional<json> got = ParseStoredJson(text, only);
  ASSERT_EQ(got.has_value(), expected.has_value());
  if (got) {
    EXPECT_TRUE(Same(*got, *expected));
  }
}

TEST(StoredJson, MetricsKeepOnlyTheEntriesAsked) {
  const std::string metrics =
      R"({"$absence":{"cart":{"after":1732000000000000}},"$purchases":{"clv":{"days":[[20010,31.5],)"
      R"([20044,12.25]],"folded":[0,0.0,0]}},"$segments":{"s0":1,"s2":2},"$tags":["rfm/x"],)"
      R"("favourite":{"counts":{"books":2},"top":"books"},"last_order":"2026-11-02T10:11:12Z",)"
      R"("orders":3,"spent":97.75,"debt":-4})";
  const std::vector<std::string> only = {"$purchases", "$segments", "orders", "spent", "debt"};
  const std::optional<json> got = ParseStoredJson(metrics, &only);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 5u);
  EXPECT_FALSE(got->contains("$absence"));
  EXPECT_FALSE(got->contains("favourite"));
  EXPECT_TRUE((*got)["orders"].is_number_unsigned());
  EXPECT_TRUE((*got)["debt"].is_number_integer() && !(*got)["debt"].is_number_unsigned());
  EXPECT_EQ((*got)["$purchases"]["clv"]["days"][1][1].get<double>(), 12.25);
  ExpectAsReference(metrics, &only);
  ExpectAsReference(metrics);
}

// (The arrays of numbers with more than 19 digits: simdjson 3.0.1 misreads some of them.)
TEST(StoredJson, ScalarsEdgesAndRefusalsAnswerAsJsonParse) {
  for (const char* text : {"\"Hangzhou\"",
                           "3",
                           "-3",
                           "0",
                           "-0",
                           "1.5",
                           "-2.5e-3",
                           "1e2",
                           "1E400",
                           "-1e400",
                           "true",
                           "false",
                           "null",
                           "[]",
                           "{}",
                           "\"\\u00e9\\ud83d\\ude00 \\\"q\\\" \\n\"",
                           "\"\"",
                           "\" ~!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}\"",
                           "\"a\tb\"",
                           "\"a\x7f\"",
                           "\"a\x1f\"",
                           "\"\\\"",
                           "\"a\"b\"",
                           "\"",
                           "\"a",
                           "a\"",
                           "\"杭州\"",
                           "18446744073709551615",
                           "18446744073709551616",
                           "-9223372036854775808",
                           "-9223372036854775809",
                           "9223372036854775807",
                           "9223372036854775808",
                           "123456789012345678901234567890",
                           "0.1",
                           "2.2250738585072014e-308",
                           "4.9e-324",
                           "[0.123456789012345678901]",
                           "[-0.123456789012345678901]",
                           "[1.23456789012345678901e5]",
                           "[12345678901234567890.5]",
                           R"({"a":1,"a":2})",
                           R"({"a":{"b":[1,{"c":null}]}})",
                           "  [1, 2 ,3]  ",
                           "",
                           "nul",
                           "[1,]",
                           "3 4",
                           "\"a\" \"b\"",
                           "true false",
                           "null null",
                           "{} {}",
                           "[]]",
                           "{\"a\":1}x",
                           "[1] [2]",
                           "\"unterminated",
                           "{\"a\" 1}",
                           "01",
                           "1.",
                           "\"\\x\"",
                           "\"a\x01b\"",
                           "\xff",
                           "\"\xc3\x28\"",
                           "NaN",
                           "[",
                           "}"}) {
    ExpectAsReference(text);
    const std::vector<std::string> only = {"a"};
    ExpectAsReference(text, &only);
  }
}

// What a pass skips must still be JSON: json::parse refuses the whole text otherwise.
TEST(StoredJson, ASkippedEntryThatIsNotJsonFailsTheWholeText) {
  const std::vector<std::string> only = {"a"};
  for (const char* text : {R"({"x":tru,"a":1})", R"({"x":[},"a":1})", R"({"x":[1 2],"a":1})",
                           R"({"x":"\ud800","a":1})", R"({"x":"\q","a":1})", R"({"x":1e400,"a":1})",
                           R"({"x":01,"a":1})", R"({"a":1,"x":tru})", R"({"a":1,"x":{"y":nul}})",
                           R"({"a":1,"x":"\u12"})", R"({"x":[[[]],"a":1})"}) {
    ExpectAsReference(text, &only);
    ExpectAsReference(text);
  }
  const std::optional<json> good = ParseStoredJson(R"({"x":[1,{"y":"\u00e9"}],"a":1})", &only);
  ASSERT_TRUE(good);
  EXPECT_EQ(good->dump(), R"({"a":1})");
}

// A number, true, false or null at the root, at lengths around simdjson's fixed root buffer.
TEST(StoredJson, ScalarsAtTheRootOfEveryLengthAnswerAsJsonParse) {
  for (size_t digits = 1; digits <= 40; ++digits) {
    ExpectAsReference(std::string(digits, '9'));
    ExpectAsReference("-" + std::string(digits, '1'));
    ExpectAsReference("1." + std::string(digits, '0') + "e12");
  }
  ExpectAsReference("1." + std::string(1078, '0') + "e12");
  ExpectAsReference("-12345678901234567890");
  ExpectAsReference("123456789012345678901");
  for (const char* text : {"falsey", "nullx ", "truex", "null ", " true", "false\n"}) {
    ExpectAsReference(text);
  }
}

TEST(StoredJson, DeepAndLongTextsAnswerAsJsonParse) {
  // Deeper than the scan builds: handed to json::parse.
  ExpectAsReference(std::string(200, '[') + std::string(200, ']'));
  // Longer than the scan takes.
  json big = json::array();
  for (int i = 0; big.size() < kMaxScanned / 16; ++i) {  // each entry dumps to 25-35 bytes
    big.push_back({{"day", i}, {"amount", i * 0.25}});
  }
  ASSERT_GT(big.dump().size(), kMaxScanned);
  ExpectAsReference(big.dump());
  const std::vector<std::string> only = {"keep"};
  ExpectAsReference(json{{"keep", std::string(kMaxScanned, 'x')}, {"drop", {1, 2}}}.dump(), &only);
}

// Random documents of every kind, dumped and read back: both readers agree on each.
TEST(StoredJson, RandomDocumentsAnswerAsJsonParse) {
  std::mt19937_64 rng(20261203);
  std::function<json(int)> make = [&](int depth) -> json {
    switch (rng() % (depth > 4 ? 6 : 8)) {
      case 0:
        return static_cast<int64_t>(rng()) >> (rng() % 64);
      case 1:
        return rng() >> (rng() % 64);
      case 2:
        return std::ldexp(static_cast<double>(rng() % 1000000) - 500000, int(rng() % 40) - 20);
      case 3: {
        std::string s;
        for (size_t n = rng() % 8; n > 0; --n) {
          static const char* pieces[] = {"a", "Z", " ", "\"", "\\", "\n", "é", "杭", "😀", "\x01"};
          s += pieces[rng() % 10];
        }
        return s;
      }
      case 4:
        return rng() % 2 == 0;
      case 5:
        return nullptr;
      case 6: {
        json a = json::array();
        for (size_t n = rng() % 5; n > 0; --n) a.push_back(make(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (size_t n = rng() % 5; n > 0; --n) o["k" + std::to_string(rng() % 6)] = make(depth + 1);
        return o;
      }
    }
  };
  const std::vector<std::string> only = {"k1", "k3"};
  for (int i = 0; i < 2000; ++i) {
    const std::string text = make(0).dump();
    ExpectAsReference(text);
    ExpectAsReference(text, &only);
  }
}

}  // namespace
}  // namespace portrait::store
