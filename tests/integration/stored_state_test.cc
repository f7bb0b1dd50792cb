// Stored state is not trusted blindly: what one customer's events leave in the store can never
// take the daemon down for everyone, not even after a restart.
#include <gtest/gtest.h>

#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;

json Order(const std::string& id, double amount) {
  return {{"id", id},
          {"type", "order.placed"},
          {"subject", "poisoned"},
          {"data", {{"amount", amount}, {"sku", "A-1"}}}};
}

// Two orders of -1e308 each would carry the `spent` sum past the largest double. The sum
// saturates instead of becoming infinite (which JSON stores as null and the next event could not
// read back), so the customer's next event, after a restart, is taken like any other.
TEST(StoredState, AnOverflowingSumSaturatesAndTheCustomerStaysUsableAfterARestart) {
  Daemon d;
  ASSERT_TRUE(d.Start());
  for (const char* id : {"o-1", "o-2"}) {
    auto r = d.Admin("POST", "/v1/events", Order(id, -1e308).dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  ASSERT_EQ(d.Stop(), 0);
  ASSERT_TRUE(d.Start());
  auto r = d.Admin("POST", "/v1/events", Order("o-3", 5).dump());
  EXPECT_EQ(r.status, 202) << r.body;
  auto health = d.client().Send("GET", "/healthz", "", {});
  EXPECT_EQ(health.status, 200);

  auto view = d.Admin("GET", "/v1/profiles/poisoned");
  ASSERT_EQ(view.status, 200) << view.body;
  json profile = json::parse(view.body);
  ASSERT_TRUE(profile["metrics"]["spent"].is_number()) << profile["metrics"].dump();
  EXPECT_EQ(profile["metrics"]["spent"].get<double>(), -std::numeric_limits<double>::max());
  EXPECT_EQ(profile["metrics"]["orders"].get<int>(), 3);
  for (const auto& [name, value] : profile["metrics"].items()) {
    EXPECT_NE(name[0], '$') << "internal bookkeeping shown: " << name;
  }
}

// Events stamped far in the future (or before 1970) are refused naming the field: a `last`
// metric at 2099 would keep the customer "active" for ever.
TEST(StoredState, EventTimesOutsideTheWindowAreRefusedNamingTheField) {
  Daemon d;
  // The daemon's clock starts here and runs on: the last time is past the 7 days ahead it
  // accepts by an hour, not a second, so a slow machine can't carry it back inside.
  ASSERT_TRUE(d.Start("2026-06-10T00:00:00Z"));
  for (const char* time : {"2099-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                           "2026-06-17T01:00:00Z"}) {
    json event = Order(std::string("w-") + time, 5);
    event["time"] = time;
    auto r = d.Admin("POST", "/v1/events", json::array({event}).dump());
    EXPECT_EQ(r.status, 422) << time << " " << r.body;
    EXPECT_NE(r.body.find("[0].time"), std::string::npos) << r.body;
  }
  json ahead = Order("w-ahead", 5);
  ahead["time"] = "2026-06-16T23:00:00Z";  // within 7 days: sender clock skew
  EXPECT_EQ(d.Admin("POST", "/v1/events", ahead.dump()).status, 202);
  EXPECT_EQ(d.Stop(), 0);
}

}  // namespace
}  // namespace portrait
