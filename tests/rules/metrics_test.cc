// Metrics never throw on what the store hands back, never become infinite, and say which stored
// values they had to reset.
#include "rules/metrics.h"

#include <gtest/gtest.h>

#include <limits>

namespace portrait::rules {
namespace {

using nlohmann::json;

std::vector<Metric> Defs() {
  return {Metric{"orders", MetricKind::kCount, "order.placed", "", {}},
          Metric{"spent", MetricKind::kSum, "order.placed", "amount", {}},
          Metric{"smallest", MetricKind::kMin, "order.placed", "amount", {}},
          Metric{"last_order", MetricKind::kLast, "order.placed", "", {}},
          Metric{"last_sku", MetricKind::kLast, "order.placed", "sku", {}},
          Metric{"top_sku", MetricKind::kTop, "order.placed", "sku", {}}};
}

bool Apply(json& metrics, const json& data, int64_t time_us = 1000) {
  EventFacts e{"order.placed", time_us, &data};
  return ApplyEvent(Defs(), e, metrics);
}

TEST(Metrics, ASumSaturatesAtTheLargestFiniteDouble) {
  json metrics = json::object();
  const double largest = std::numeric_limits<double>::max();
  Apply(metrics, {{"amount", -1e308}});
  Apply(metrics, {{"amount", -1e308}});
  EXPECT_EQ(metrics["spent"].get<double>(), -largest);
  Apply(metrics, {{"amount", 1e308}});  // and moves off the bound again
  EXPECT_NEAR(metrics["spent"].get<double>(), -largest + 1e308, 1e300);
  EXPECT_EQ(metrics["smallest"].get<double>(), -1e308);
  EXPECT_NE(metrics.dump().find("spent"), std::string::npos);
  EXPECT_EQ(metrics.dump().find("null"), std::string::npos) << metrics.dump();
}

TEST(Metrics, NumbersThatAreNotFiniteAreIgnored) {
  json metrics = json::object();
  Apply(metrics, {{"amount", std::numeric_limits<double>::infinity()}});
  EXPECT_FALSE(metrics.contains("spent"));
  EXPECT_EQ(metrics["orders"], 1);
}

TEST(Metrics, StoredValuesOfTheWrongTypeCountAsMissingAndNeverThrow) {
  json metrics = {
      {"orders", nullptr},     {"spent", "lots"}, {"smallest", json::array()},
      {"last_order", 2.5e300}, {"top_sku", 7},    {"$top", {{"top_sku", {{"a", "b"}}}}}};
  EXPECT_NO_THROW(Apply(metrics, {{"amount", 3}, {"sku", "A"}}));
  EXPECT_EQ(metrics["orders"], 1);
  EXPECT_EQ(metrics["spent"], 3);
  EXPECT_EQ(metrics["smallest"], 3);
  EXPECT_EQ(metrics["last_order"], 1000);
  EXPECT_EQ(metrics["top_sku"], "A");
  EXPECT_EQ(metrics["$top"]["top_sku"]["A"], 1);
}

TEST(Metrics, BothKindsOfLastDescribeTheLatestEventNotTheLatestArrival) {
  json metrics = json::object();
  Apply(metrics, {{"amount", 1}, {"sku", "NEW"}}, 2000);
  Apply(metrics, {{"amount", 1}, {"sku", "OLD"}}, 1000);  // older, arriving late
  EXPECT_EQ(metrics["last_order"], 2000);
  EXPECT_EQ(metrics["last_sku"], "NEW");
  Apply(metrics, {{"amount", 1}, {"sku", "NEWER"}}, 3000);
  EXPECT_EQ(metrics["last_order"], 3000);
  EXPECT_EQ(metrics["last_sku"], "NEWER");
}

TEST(Metrics, ForgettingMetricsLeavesOthersAndApplyingAgainRebuildsThem) {
  json metrics = json::object();
  Apply(metrics, {{"amount", 5}, {"sku", "A"}}, 1000);
  Apply(metrics, {{"amount", 7}, {"sku", "B"}}, 2000);
  Apply(metrics, {{"amount", 1}, {"sku", "B"}}, 3000);
  const json kept = metrics;
  const std::vector<Metric> all = Defs();
  const std::vector<Metric> forgotten = {all[1], all[4], all[5]};  // spent, last_sku, top_sku
  ForgetMetrics(forgotten, metrics);
  for (const char* name : {"spent", "last_sku", "top_sku"}) {
    EXPECT_FALSE(metrics.contains(name)) << name;
  }
  EXPECT_FALSE(metrics["$top"].contains("top_sku"));
  EXPECT_FALSE(metrics["$last"].contains("last_sku"));
  EXPECT_EQ(metrics["orders"], 3);
  EXPECT_EQ(metrics["smallest"], 1);
  // The same events again, under the forgotten metrics only, give back what was kept.
  int64_t t = 1000;
  for (const json& data : {json{{"amount", 5}, {"sku", "A"}}, json{{"amount", 7}, {"sku", "B"}},
                           json{{"amount", 1}, {"sku", "B"}}}) {
    EventFacts e{"order.placed", t, &data};
    ApplyEvent(forgotten, e, metrics);
    t += 1000;
  }
  EXPECT_EQ(metrics, kept);
  json not_an_object = json::array();
  ForgetMetrics(forgotten, not_an_object);  // stored state is never trusted
  EXPECT_EQ(not_an_object, json::array());
}

TEST(Metrics, RepairNamesAndResetsEveryValueOfTheWrongType) {
  json metrics = {{"orders", -4},
                  {"spent", nullptr},
                  {"smallest", 2},
                  {"last_order", "soon"},
                  {"last_sku", nullptr},
                  {"top_sku", "A"},
                  {"$top", {{"top_sku", {{"A", "x"}}}}}};
  std::vector<std::string> repaired = RepairMetrics(Defs(), metrics);
  EXPECT_EQ(repaired, (std::vector<std::string>{"orders", "spent", "last_order", "top_sku"}));
  EXPECT_FALSE(metrics.contains("orders"));
  EXPECT_FALSE(metrics.contains("spent"));
  EXPECT_EQ(metrics["smallest"], 2);          // fits: kept
  EXPECT_TRUE(metrics.contains("last_sku"));  // a keyed last keeps any value
  EXPECT_FALSE(metrics["$top"].contains("top_sku"));
  EXPECT_TRUE(RepairMetrics(Defs(), metrics).empty());  // nothing left to repair

  json not_an_object = json::array();
  EXPECT_EQ(RepairMetrics(Defs(), not_an_object), std::vector<std::string>{"(all)"});
  EXPECT_TRUE(not_an_object.is_object());
}

}  // namespace
}  // namespace portrait::rules
