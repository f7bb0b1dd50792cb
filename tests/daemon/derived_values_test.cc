// The purchase book (rules/purchase_book.h) kept by the engine against the summary a model fit
// computes from the same stored purchases (analytics::Summarize over the events, as
// daemon/purchase_log.cc does): equal, whatever order the events arrive in, a late
// out-of-order purchase included; and the predictions computed from it.
#include "daemon/derived_values.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "analytics/bgnbd.h"
#include "rules/purchase_book.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kStart = 852'076'800'000'000;  // 1997-01-01T00:00:00Z

rules::Model Clv() {
  rules::Model m;
  m.name = "clv";
  m.purchases = "order.placed";
  m.amount = "order.total";
  return m;
}

// Records `purchases` in arrival order through the engine's bookkeeping.
json Book(const std::vector<analytics::Purchase>& purchases) {
  json metrics = json::object();
  for (const analytics::Purchase& p : purchases) {
    const json data = {{"order", {{"total", p.amount}}}};
    rules::RecordPurchase(Clv(), rules::EventFacts{"order.placed", p.time_us, &data}, metrics);
  }
  return metrics;
}

void ExpectSameSummary(const std::vector<analytics::Purchase>& arrival, int64_t until_us,
                       analytics::TimeUnit unit) {
  auto book = rules::ReadPurchaseBook(Book(arrival), "clv");
  ASSERT_TRUE(book.has_value());
  const analytics::CustomerSummary mine = SummaryOfBook(*book, unit, until_us);
  auto fit = analytics::Summarize(arrival, {until_us, unit});
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_EQ(mine.x, fit->x);
  EXPECT_DOUBLE_EQ(mine.t_x, fit->t_x);
  EXPECT_DOUBLE_EQ(mine.T, fit->T);
  EXPECT_NEAR(mine.mean_repeat_value, fit->mean_repeat_value, 1e-9);
  EXPECT_EQ(mine.days_since_last, fit->days_since_last);
  EXPECT_EQ(mine.transactions, fit->transactions);
  EXPECT_NEAR(mine.total_amount, fit->total_amount, 1e-9);
}

TEST(PurchaseBook, EqualsTheFitsSummaryWhateverTheArrivalOrder) {
  std::mt19937_64 rng(14);
  for (int round = 0; round < 200; ++round) {
    std::vector<analytics::Purchase> purchases;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      // Days within a year, several on one day, at any hour.
      const int64_t t = kStart + static_cast<int64_t>(rng() % 365) * kDay +
                        static_cast<int64_t>(rng() % 24) * 3'600'000'000;
      purchases.push_back({t, static_cast<double>(rng() % 10'000) / 100});
    }
    std::shuffle(purchases.begin(), purchases.end(), rng);
    ExpectSameSummary(purchases, kStart + 400 * kDay,
                      round % 2 ? analytics::TimeUnit::kWeek : analytics::TimeUnit::kDay);
  }
}

TEST(PurchaseBook, ALatePurchaseBeforeTheFirstBecomesTheFirst) {
  std::vector<analytics::Purchase> arrival = {
      {kStart + 10 * kDay, 5},
      {kStart + 20 * kDay, 7},
      {kStart + 20 * kDay + 3600, 1},
      {kStart + 2 * kDay, 11}};  // arrives last, happened first
  ExpectSameSummary(arrival, kStart + 30 * kDay, analytics::TimeUnit::kWeek);
  auto book = rules::ReadPurchaseBook(Book(arrival), "clv");
  ASSERT_TRUE(book);
  EXPECT_EQ(book->repeat_days, 2);
  EXPECT_DOUBLE_EQ(book->repeat_amount, 13);  // 5 + (7 + 1): the first day's 11 left out
}

// Exact as long as no late purchase falls at or before the newest folded day (documented).
TEST(PurchaseBook, PastTheLimitOldDaysAreFoldedAndTheCountsStayExact) {
  std::vector<analytics::Purchase> purchases;
  for (int64_t d = 0; d < static_cast<int64_t>(rules::kBookDays) + 50; ++d) {
    purchases.push_back({kStart + d * kDay, 1.5 + static_cast<double>(d % 7)});
  }
  std::shuffle(purchases.end() - 30, purchases.end(), std::mt19937_64(3));  // late, not folded
  const json metrics = Book(purchases);
  EXPECT_EQ(metrics["$purchases"]["clv"]["days"].size(), rules::kBookDays);
  ExpectSameSummary(purchases, kStart + 2000 * kDay, analytics::TimeUnit::kWeek);
}

TEST(PurchaseBook, AMalformedBookStartsAfreshAndOtherEventsAreNotPurchases) {
  json metrics = {{"$purchases", {{"clv", {{"days", "nonsense"}}}}}};
  const json data = {{"order", {{"total", -3}}}};  // a negative amount counts as 0
  EXPECT_TRUE(rules::RecordPurchase(Clv(), {"order.placed", kStart, &data}, metrics));
  EXPECT_FALSE(rules::RecordPurchase(Clv(), {"cart.updated", kStart, &data}, metrics));
  auto book = rules::ReadPurchaseBook(metrics, "clv");
  ASSERT_TRUE(book);
  EXPECT_EQ(book->repeat_days, 0);
  EXPECT_EQ(book->first_amount, 0);
  EXPECT_FALSE(rules::ReadPurchaseBook(metrics, "other"));
  EXPECT_FALSE(rules::ReadPurchaseBook(json::array(), "clv"));
}

// Two amounts of 1e308 on one day, and on the days after, would sum past the largest double:
// the sums saturate, so the book (JSON, which can't hold an infinity) still reads back and is
// not silently restarted by the next purchase.
TEST(PurchaseBook, HugeAmountsSaturateAndTheBookKeepsItsHistory) {
  json metrics = Book({{kStart, 1}, {kStart + kDay, 1e308}, {kStart + kDay + 60, 1e308}});
  auto round_trip = json::parse(metrics.dump());  // as stored
  const json data = {{"order", {{"total", 1e308}}}};
  ASSERT_TRUE(rules::RecordPurchase(Clv(), {"order.placed", kStart + 2 * kDay, &data}, round_trip));
  round_trip = json::parse(round_trip.dump());
  auto book = rules::ReadPurchaseBook(round_trip, "clv");
  ASSERT_TRUE(book.has_value()) << round_trip.dump();
  EXPECT_EQ(book->first_day, kStart / kDay);  // not restarted
  EXPECT_EQ(book->repeat_days, 2);
  EXPECT_EQ(book->repeat_amount, std::numeric_limits<double>::max());
  const analytics::CustomerSummary s =
      SummaryOfBook(*book, analytics::TimeUnit::kWeek, kStart + 10 * kDay);
  EXPECT_TRUE(std::isfinite(s.total_amount));
}

TEST(PurchaseBook, PredictionsFollowTheFittedParametersAndTheClock) {
  std::vector<analytics::Purchase> purchases = {
      {kStart, 10}, {kStart + 14 * kDay, 20}, {kStart + 28 * kDay, 30}};
  auto book = rules::ReadPurchaseBook(Book(purchases), "clv");
  ASSERT_TRUE(book);
  FittedModel fitted;
  fitted.version = 4;
  fitted.bgnbd = {0.243, 4.414, 0.793, 2.426};
  fitted.gamma_gamma = analytics::GammaGammaParams{6.25, 3.74, 15.44};
  auto soon = PredictionJson(Clv(), fitted, *book, kStart + 35 * kDay);
  auto later = PredictionJson(Clv(), fitted, *book, kStart + 700 * kDay);
  ASSERT_TRUE(soon && later);
  EXPECT_EQ((*soon)["version"], 4);
  auto expected = analytics::ProbabilityAlive(fitted.bgnbd, {2, 4, 5});
  ASSERT_TRUE(expected);
  EXPECT_NEAR((*soon)["p_alive"].get<double>(), *expected, 1e-12);
  EXPECT_LT((*later)["p_alive"].get<double>(), (*soon)["p_alive"].get<double>());  // decays
  EXPECT_GT((*soon)["value_1y"].get<double>(), 0);
  EXPECT_GT((*soon)["purchases_90d"].get<double>(), (*later)["purchases_90d"].get<double>());
}

// The engine's predictions hold only the outputs some condition reads: the expected purchases
// and the lifetime value cost a hypergeometric series each, and nothing else reads them.
TEST(PurchaseBook, TheEngineComputesOnlyTheOutputsItsConditionsRead) {
  std::vector<analytics::Purchase> purchases = {{kStart, 10}, {kStart + 14 * kDay, 20}};
  FittedModel fitted;
  fitted.version = 2;
  fitted.bgnbd = {0.243, 4.414, 0.793, 2.426};
  fitted.gamma_gamma = analytics::GammaGammaParams{6.25, 3.74, 15.44};
  auto params = std::make_shared<DerivedParams>();
  params->models["clv"] = fitted;
  auto with_rules = [&](const std::string& when) {
    rules::RuleSet set;
    set.models.push_back(Clv());
    rules::Schema schema;
    schema.models = {"clv"};
    auto expr = rules::ParseExpression(when, schema);
    EXPECT_TRUE(expr) << expr.error().message;
    rules::TagRule tag;
    tag.path = "clv/watch";
    tag.when = std::move(*expr);
    set.tags.push_back(std::move(tag));
    return FittedValues(std::make_shared<const LoadedRules>(
                            std::make_shared<const config::Config>(), std::move(set), "test"),
                        params);
  };
  rules::ProfileFacts facts;
  facts.metrics = Book(purchases);
  with_rules("predict.clv.p_alive < 0.5").Fill(facts, kStart + 35 * kDay);
  ASSERT_TRUE(facts.predictions.contains("clv")) << facts.predictions.dump();
  EXPECT_TRUE(facts.predictions["clv"].contains("p_alive"));
  EXPECT_FALSE(facts.predictions["clv"].contains("purchases_90d"));
  EXPECT_FALSE(facts.predictions["clv"].contains("value_1y"));
  EXPECT_EQ(facts.predictions["clv"]["version"], 2);

  with_rules("predict.clv.value_1y > 100").Fill(facts, kStart + 35 * kDay);
  EXPECT_FALSE(facts.predictions["clv"].contains("p_alive"));
  EXPECT_GT(facts.predictions["clv"]["value_1y"].get<double>(), 0);
}

// A score no condition reads is not computed for the engine (the profile view computes its own).
TEST(PurchaseBook, TheEngineComputesOnlyTheScoresItsConditionsRead) {
  auto params = std::make_shared<DerivedParams>();
  FittedScore& fitted = params->scores["rfm"];
  fitted.version = 1;
  fitted.rfm.recency = {10, 20, 30, 40};
  fitted.rfm.frequency = {1, 2, 3, 4};
  fitted.rfm.monetary = {10, 20, 30, 40};
  fitted.rfm.mean_r = fitted.rfm.mean_f = fitted.rfm.mean_m = 3;
  auto with_rules = [&](std::optional<std::string> when) {
    rules::RuleSet set;
    set.scores.push_back(rules::Score{"rfm", "last_order", "orders", "spent", std::nullopt, {}});
    if (when) {
      rules::Schema schema;
      schema.scores = {"rfm"};
      auto expr = rules::ParseExpression(*when, schema);
      EXPECT_TRUE(expr) << expr.error().message;
      rules::TagRule tag;
      tag.path = "rfm/watch";
      tag.when = std::move(*expr);
      set.tags.push_back(std::move(tag));
    }
    return FittedValues(std::make_shared<const LoadedRules>(
                            std::make_shared<const config::Config>(), std::move(set), "test"),
                        params);
  };
  rules::ProfileFacts facts;
  facts.metrics = {{"last_order", kStart}, {"orders", 3}, {"spent", 25.0}};
  with_rules("scores.rfm.r > 2").Fill(facts, kStart + 5 * kDay);
  ASSERT_TRUE(facts.scores.contains("rfm")) << facts.scores.dump();
  EXPECT_TRUE(facts.scores["rfm"].contains("group"));

  with_rules(std::nullopt).Fill(facts, kStart + 5 * kDay);
  EXPECT_FALSE(facts.scores.contains("rfm")) << facts.scores.dump();
  rules::RuleSet shown;  // what the profile view computes: every score
  shown.scores.push_back(rules::Score{"rfm", "last_order", "orders", "spent", std::nullopt, {}});
  EXPECT_TRUE(ScoresOf(shown, *params, facts.metrics, kStart + 5 * kDay).contains("rfm"));
}

}  // namespace
}  // namespace portrait::daemon
