// The expression parser against 10,000 random and mutated inputs: it must return (a parse or an
// error with an in-range offset), never crash, hang or overflow. Runs under ASan/UBSan in CI.
// The coverage-guided libFuzzer harness is tests/fuzz/expression_fuzz.cc.
#include <gtest/gtest.h>

#include <random>

#include "rules/evaluator.h"
#include "tests/rules/rules_fixture.h"

namespace portrait::rules {
namespace {

TEST(ExpressionFuzz, TenThousandRandomAndMutatedInputs) {
  config::Config config = testing::ExampleConfig();
  Schema schema{&config, {{"orders", Type::kNumber}, {"last_order", Type::kTime}}, true};
  schema.segments = {"vip"};
  schema.scores = {"rfm"};
  schema.models = {"clv"};
  const std::vector<std::string> seeds = {
      "metrics.orders >= 5 and has_tag('vip')",
      "days_since(metrics.last_order) <= 90 or lifecycle in ['active', \"new\"]",
      "not (fields.city == 'Hangzhou') and age(fields.birthday) > 18",
      "event.data.amount * 2 - 1 > 100 and event.time > 2026-01-01T00:00:00Z",
      "now() - metrics.last_order > 30d and len(tags) % 2 == 0",
      "in_segment('vip') and scores.rfm.r >= 4 or predict.clv.p_alive < 0.3 or 'x' in tags",
      "scores.rfm.group == 'important_value' and has_tag('value') and predict.clv.value_1y > 1",
  };
  const std::string alphabet = "()[],.'\"<>=!+-*/% _0123456789adefilmnorstvxyzTZ:\\\n\t";
  std::mt19937_64 rng(20261122);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  nlohmann::json fields = {{"city", "Hangzhou"}, {"birthday", "1990-01-01"}};
  nlohmann::json metrics = {{"orders", 3}};
  std::vector<std::string> tags = {"vip"};
  nlohmann::json data = {{"amount", 1}};
  EventFacts event{"order.placed", 0, &data};
  Facts facts{&fields, &metrics, &tags, "active", "UTC", &event, 1'800'000'000'000'000};
  // Stored bookkeeping and values of the wrong shapes read as missing, never as a crash.
  const nlohmann::json rule_tags = {"value/high", 3, nullptr};
  const nlohmann::json segments = {{"vip", 1}, {"x", "odd"}};
  const nlohmann::json scores = {{"rfm", {{"r", "five"}, {"group", 5}}}};
  const nlohmann::json predictions = {{"clv", nlohmann::json::array()}};
  facts.rule_tags = &rule_tags;
  facts.segments = &segments;
  facts.scores = &scores;
  facts.predictions = &predictions;
  int parsed = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string input;
    if (i % 2 == 0) {  // random
      size_t len = pick(80);
      for (size_t j = 0; j < len; ++j) input += alphabet[pick(alphabet.size())];
    } else {  // mutated seed
      input = seeds[pick(seeds.size())];
      for (int m = 0, n = 1 + static_cast<int>(pick(4)); m < n && !input.empty(); ++m) {
        size_t at = pick(input.size());
        switch (pick(4)) {
          case 0:
            input.erase(at, 1 + pick(3));
            break;
          case 1:
            input.insert(at, 1, alphabet[pick(alphabet.size())]);
            break;
          case 2:
            input[at] = static_cast<char>(pick(256));
            break;
          default:
            input.insert(at, input.substr(pick(input.size()), pick(10)));
            break;
        }
      }
    }
    auto e = ParseExpression(input, schema);
    if (e) {
      ++parsed;
      (void)Evaluate(*e, facts);
      (void)Explain(*e, input, facts);
    } else {
      ASSERT_GE(e.error().offset, 0) << input;
      ASSERT_LE(e.error().offset, static_cast<int>(input.size())) << input;
      ASSERT_FALSE(e.error().message.empty());
    }
  }
  EXPECT_GT(parsed, 100);  // the mutations keep some inputs valid, so evaluation runs too
}

}  // namespace
}  // namespace portrait::rules
