#include "rules/expression.h"

#include <gtest/gtest.h>

#include "rules/evaluator.h"
#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

using nlohmann::json;
using testing::T;

class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest() {
    schema_.config = &config_;
    schema_.metrics = {{"orders", Type::kNumber}, {"last_order", Type::kTime}};
    schema_.event = true;
  }
  tl::expected<Expr, ExprError> Parse(const std::string& text) {
    return ParseExpression(text, schema_);
  }
  bool Eval(const std::string& text) {
    auto e = Parse(text);
    EXPECT_TRUE(e) << text << ": " << (e ? "" : e.error().message);
    return e && Holds(*e, facts_);
  }
  ExprError ErrorOf(const std::string& text) {
    auto e = Parse(text);
    EXPECT_FALSE(e) << text;
    return e ? ExprError{} : e.error();
  }

  config::Config config_ = testing::ExampleConfig();
  Schema schema_;
  json fields_ = {{"name", "Li Na"}, {"city", "Hangzhou"}, {"birthday", "1990-06-15"}};
  json metrics_ = {{"orders", 3}, {"last_order", T("2026-10-01T00:00:00Z")}};
  std::vector<std::string> tags_ = {"interest/sports/running", "vip"};
  json data_ = {{"amount", 120.5}, {"sku", "A-1"}, {"shipping", {{"country", "CN"}}}};
  EventFacts event_{"order.placed", T("2026-11-20T08:00:00Z"), &data_};
  Facts facts_{
      &fields_, &metrics_, &tags_, "active", "Asia/Shanghai", &event_, T("2026-11-22T00:00:00Z")};
};

TEST_F(ExpressionTest, ComparisonsArithmeticAndLogic) {
  EXPECT_TRUE(Eval("metrics.orders >= 3 and metrics.orders < 4"));
  EXPECT_TRUE(Eval("metrics.orders * 2 + 1 == 7"));
  EXPECT_TRUE(Eval("metrics.orders % 2 == 1 or false"));
  EXPECT_TRUE(Eval("not (fields.city == 'Beijing')"));
  EXPECT_TRUE(Eval("fields.city in ['Hangzhou', \"Suzhou\"]"));
  EXPECT_TRUE(Eval("lifecycle == 'active'"));
  EXPECT_TRUE(Eval("event.data.amount > 100 and event.type == 'order.placed'"));
  EXPECT_TRUE(Eval("event.data.shipping.country == 'CN'"));
  EXPECT_TRUE(Eval("-metrics.orders < 0"));
}

TEST_F(ExpressionTest, TimesDurationsAndDates) {
  EXPECT_TRUE(Eval("days_since(metrics.last_order) == 52"));
  EXPECT_TRUE(Eval("now() - metrics.last_order > 50d"));
  EXPECT_TRUE(Eval("now() - metrics.last_order < 1y"));
  EXPECT_TRUE(Eval("hours_since(event.time) == 40"));
  EXPECT_TRUE(Eval("event.time > 2026-11-19T00:00:00Z"));
  EXPECT_TRUE(Eval("fields.birthday < 2000-01-01"));
  EXPECT_TRUE(Eval("age(fields.birthday) == 36"));
  EXPECT_TRUE(Eval("2h + 30m == 150m"));
}

// Time arithmetic whose result does not fit in 64-bit microseconds gives a missing value (so a
// comparison with it is false), never an overflow.
TEST_F(ExpressionTest, TimeArithmeticThatDoesNotFitIsMissing) {
  const std::string eight = "34865y + 34865y + 34865y + 34865y + 34865y + 34865y + 34865y + 34865y";
  EXPECT_TRUE(Eval(eight + " > 0s"));             // 8.8e18 µs fits
  EXPECT_FALSE(Eval(eight + " + 34865y > 0s"));   // 9.9e18 does not
  EXPECT_FALSE(Eval(eight + " + 34865y <= 0s"));  // missing, not wrapped round
  EXPECT_FALSE(Eval("-(" + eight + ") - 34865y < 0s"));
  EXPECT_FALSE(Eval("now() + " + eight + " + 34865y > now()"));
  EXPECT_FALSE(Eval("34865y * 100000000000000000000 > 0s"));
  EXPECT_FALSE(Eval("34865y / 0.00000000000000000001 > 0s"));
  EXPECT_TRUE(Eval("34865y * 8 > 0s"));
  EXPECT_FALSE(Eval("34865y * 9 > 0s"));
}

TEST_F(ExpressionTest, FunctionsAndHierarchicalTags) {
  EXPECT_TRUE(Eval("has_tag('interest/sports')"));
  EXPECT_TRUE(Eval("has_tag('interest/sports/running')"));
  EXPECT_FALSE(Eval("has_tag('interest/sport')"));  // a prefix of a level is not a level
  EXPECT_FALSE(Eval("has_tag('interest/sports/running/trail')"));
  EXPECT_TRUE(Eval("'vip' in tags and len(tags) == 2"));
  EXPECT_TRUE(Eval("lower(fields.name) == 'li na' and len(fields.name) == 5"));
}

TEST_F(ExpressionTest, ComparingWithAMissingValueIsFalse) {
  fields_.erase("city");
  EXPECT_FALSE(Eval("fields.city == 'Hangzhou'"));
  EXPECT_FALSE(Eval("fields.city != 'Hangzhou'"));
  EXPECT_FALSE(Eval("fields.email < 'z'"));
  EXPECT_FALSE(Eval("days_since(fields.birthday) > 0 and fields.phone == '1'"));
  EXPECT_TRUE(Eval("not (fields.city == 'Hangzhou')"));
  EXPECT_FALSE(Eval("fields.city in ['Hangzhou']"));
  EXPECT_FALSE(Parse("metrics.spent_nothing_here == 0"));
}

TEST_F(ExpressionTest, TypeErrorsAndUnknownNamesAreFoundAtParseTimeWithOffsets) {
  struct Case {
    const char* text;
    int offset;
    const char* says;
  } cases[] = {
      {"fields.nmae == 'x'", 0, "unknown field 'nmae'"},
      {"metrics.orders > 'three'", 15, "can't combine a number and a string"},
      {"fields.city and true", 12, "can't combine a string and a bool"},
      {"days_since(fields.city) > 1", 11, "days_since() does not take a string"},
      {"frobnicate(1)", 0, "unknown function 'frobnicate'"},
      {"metrics.orders", 0, "must be true or false"},
      {"metrics.orders >", 16, "ends too soon"},
      {"(metrics.orders > 1", 19, "expected ')'"},
      {"fields.city == 'x", 15, "unterminated string"},
      {"fields.city == 'x' #", 19, "unexpected character"},
      {"colour == 1", 0, "unknown name 'colour'"},
      {"metrics.orders > 1 1", 19, "after a complete expression"},
      {"fields.birthday > 2026-02-30", 18, "neither a date"},
      {"now(1) > now()", 0, "takes 0 arguments"},
  };
  for (const Case& c : cases) {
    ExprError e = ErrorOf(c.text);
    EXPECT_EQ(e.offset, c.offset) << c.text << ": " << e.message;
    EXPECT_NE(e.message.find(c.says), std::string::npos) << c.text << ": " << e.message;
  }
  schema_.event = false;
  EXPECT_NE(ErrorOf("event.type == 'x'").message.find("only available to on.event"),
            std::string::npos);
}

TEST_F(ExpressionTest, NestingAndLengthAreBounded) {
  std::string deep(200, '(');
  deep += "true" + std::string(200, ')');
  EXPECT_NE(ErrorOf(deep).message.find("nested"), std::string::npos);
  std::string deep_not;
  for (int i = 0; i < 200; ++i) deep_not += "not ";
  EXPECT_NE(ErrorOf(deep_not + "true").message.find("nested"), std::string::npos);
  std::string long_text = "true";
  while (long_text.size() <= kMaxExpressionLength) long_text += " and true";
  EXPECT_NE(ErrorOf(long_text).message.find("longer than"), std::string::npos);
  std::string ok = "true";
  for (int i = 0; i < 30; ++i) ok = "(" + ok + ")";
  EXPECT_TRUE(Parse(ok));
}

TEST_F(ExpressionTest, ExplainNamesTheFailingPartNotItsValues) {
  auto e = Parse("metrics.orders >= 1 and fields.city == 'Beijing' and has_tag('vip')");
  ASSERT_TRUE(e);
  const std::string src = "metrics.orders >= 1 and fields.city == 'Beijing' and has_tag('vip')";
  std::string why = Explain(*e, src, facts_);
  EXPECT_EQ(why, "`fields.city == 'Beijing'` is false");
  EXPECT_EQ(why.find("Hangzhou"), std::string::npos);
  fields_.erase("city");
  EXPECT_EQ(Explain(*e, src, facts_), "fields.city is missing");
  fields_["city"] = "Beijing";
  EXPECT_EQ(Explain(*e, src, facts_), "");
}

TEST_F(ExpressionTest, CollectFieldsFindsEveryFieldRead) {
  auto e = Parse("fields.city == 'x' or age(fields.birthday) > 30");
  ASSERT_TRUE(e);
  std::vector<std::pair<std::string, int>> read;
  CollectFields(*e, read);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0], std::make_pair(std::string("city"), 0));
  EXPECT_EQ(read[1], std::make_pair(std::string("birthday"), 26));
}

// A FieldSource over `fields`, counting the reads.
class CountingFields : public FieldSource {
 public:
  explicit CountingFields(const json& fields) : fields_(fields) {}
  const json* Find(std::string_view name) const override {
    reads.emplace_back(name);
    auto it = fields_.find(name);
    return it == fields_.end() ? nullptr : &*it;
  }
  mutable std::vector<std::string> reads;

 private:
  const json& fields_;
};

// Through a FieldSource a condition answers as it does over the fields themselves, and `and`
// and `or` take first the side that reads no field, so a field is read only when the answer
// needs it.
TEST_F(ExpressionTest, AFieldSourceIsReadOnlyWhenTheAnswerNeedsAField) {
  for (const char* text : {"fields.city == 'Hangzhou' and metrics.orders >= 5",
                           "fields.city == 'Hangzhou' and metrics.orders >= 2",
                           "fields.city == 'Beijing' or metrics.orders >= 2",
                           "fields.city == 'Beijing' or metrics.orders >= 5",
                           "metrics.orders >= 2 and fields.city == 'Hangzhou'",
                           "fields.city == 'Hangzhou' and fields.name == 'Li Na'",
                           "fields.email == 'x' or not (fields.city == 'Beijing')",
                           "not (fields.city == 'Hangzhou' and metrics.orders >= 5)"}) {
    auto e = Parse(text);
    ASSERT_TRUE(e) << text;
    CountingFields source(fields_);
    Facts lazy = facts_;
    lazy.fields = nullptr;
    lazy.field_source = &source;
    EXPECT_EQ(Holds(*e, lazy), Holds(*e, facts_)) << text;
  }
  auto count_reads = [&](const std::string& text) {
    CountingFields source(fields_);
    Facts lazy = facts_;
    lazy.field_source = &source;
    auto e = Parse(text);
    EXPECT_TRUE(e) << text;
    const bool holds = e && Holds(*e, lazy);
    return std::make_pair(holds, source.reads.size());
  };
  EXPECT_EQ(count_reads("fields.city == 'Hangzhou' and metrics.orders >= 5"),
            std::make_pair(false, size_t{0}));
  EXPECT_EQ(count_reads("fields.city == 'Hangzhou' and metrics.orders >= 2"),
            std::make_pair(true, size_t{1}));
  EXPECT_EQ(count_reads("fields.city == 'Beijing' or metrics.orders >= 2"),
            std::make_pair(true, size_t{0}));
  EXPECT_EQ(count_reads("fields.city == 'Beijing' or metrics.orders >= 5"),
            std::make_pair(false, size_t{1}));
  EXPECT_EQ(count_reads("fields.city == 'Beijing' and fields.name == 'Li Na'"),
            std::make_pair(false, size_t{1}));  // both read fields: the written order
}

}  // namespace
}  // namespace portrait::rules
