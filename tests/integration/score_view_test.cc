// A customer's score view through a real portraitd explains the score only as far as the
// purpose may use the metrics behind it: each quintile boundary, like each input, only for a
// metric its `derived` list allows (docs/DECISIONS.md 104).
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/daemon_harness.h"

namespace portrait::testing {
namespace {

using nlohmann::json;

TEST(ScoreView, BoundariesAreShownOnlyForTheMetricsThePurposeMayUse) {
  Daemon daemon;
  // Service may use the RFM score and the order count, not what was spent or when.
  std::string config = ReadFile(daemon.config_path());
  const std::string from = R"(derived = ["metrics", "lifecycle", "tags"])";
  ASSERT_NE(config.find(from), std::string::npos);
  config.replace(config.find(from), from.size(),
                 R"(derived = ["metrics.orders", "lifecycle", "scores"])");
  WriteFile(daemon.config_path(), config);
  WriteFile(daemon.dir() / "rules/rfm.toml", R"toml(
[[score]]
name = "rfm"
kind = "rfm"
recency = "last_order"
frequency = "orders"
monetary = "spent"
)toml");
  ASSERT_TRUE(daemon.Start("2026-06-01T12:00:00Z"));
  json events = json::array();
  for (int i = 0; i < 3; ++i) {
    events.push_back({{"id", "o" + std::to_string(i)},
                      {"type", "order.placed"},
                      {"subject", i == 0 ? "one" : "two"},
                      {"time", "2026-05-0" + std::to_string(i + 1) + "T10:00:00Z"},
                      {"data", {{"amount", 10 * (i + 1)}}}});
  }
  ASSERT_EQ(daemon.Admin("POST", "/v1/events", events.dump()).status, 202);
  HttpResult refreshed = daemon.Admin("POST", "/v1/scores/rfm/refresh");
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;

  HttpResult view = daemon.Admin("GET", "/v1/profiles/two/scores?score=rfm");
  ASSERT_EQ(view.status, 200) << view.body;
  const json rfm = view.json()["scores"]["rfm"];
  EXPECT_EQ(rfm["scored"], true) << rfm;
  EXPECT_EQ(rfm["boundaries"].size(), 1u) << rfm;
  EXPECT_EQ(rfm["boundaries"]["frequency"].size(), 4u) << rfm;
  EXPECT_EQ(rfm["inputs"].size(), 1u) << rfm;
  EXPECT_EQ(rfm["inputs"]["frequency"]["value"], 2) << rfm;
  EXPECT_TRUE(rfm["means"].contains("m")) << rfm;  // the mean scores explain the group
  // No boundary of what was spent or of when: those metrics are not the purpose's.
  EXPECT_FALSE(rfm["boundaries"].contains("monetary")) << rfm;
  EXPECT_FALSE(rfm["boundaries"].contains("recency")) << rfm;
  EXPECT_EQ(refreshed.json()["monetary"].size(), 4u);  // the refresh computed them all
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace portrait::testing
