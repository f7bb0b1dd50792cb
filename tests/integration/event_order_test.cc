// Real event streams arrive late and out of order, against a real portraitd with a moved clock:
// what the rules make of a customer's events follows the events' times, not their arrival order,
// and a customer whose first contact is an event takes the same lifecycle path as one created
// through the API.
#include <gtest/gtest.h>

#include "tests/integration/daemon_harness.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::HttpResult;

void Post(Daemon& daemon, const json& event) {
  const json events = json::array({event});
  HttpResult r = daemon.Admin("POST", "/v1/events", events.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(r.json()["accepted"], events.size()) << r.body;
}

json Event(const std::string& id, const std::string& type, const std::string& subject,
           const std::string& time, json data = json::object()) {
  return {{"id", id}, {"type", type}, {"subject", subject}, {"time", time}, {"data", data}};
}

// The example cart reminder fires 2 h after a `cart.updated` unless an `order.placed` follows.
// cy's order is stamped half an hour before her cart and arrives after it: it answers no cart,
// so her reminder stays. bo's second cart arrives late, stamped an hour before his first: his
// reminder stays at 2 h after the first rather than moving an hour earlier.
TEST(EventOrder, AnEarlierOrderOrALateOlderCartLeavesTheReminderWhereTheLatestCartPutsIt) {
  Daemon daemon;
  ASSERT_TRUE(daemon.Start("2026-06-10T01:00:00Z"));
  for (const std::string id : {"cy", "bo"}) {
    ASSERT_EQ(daemon.Admin("PUT", "/v1/profiles/" + id, R"({"fields":{"name":"Lin"}})").status,
              201);
  }
  Post(daemon, Event("cy-cart", "cart.updated", "cy", "2026-06-10T01:00:00Z"));
  Post(daemon, Event("cy-order", "order.placed", "cy", "2026-06-10T00:30:00Z", {{"amount", 9}}));
  Post(daemon, Event("bo-cart-2", "cart.updated", "bo", "2026-06-10T01:00:00Z"));
  Post(daemon, Event("bo-cart-1", "cart.updated", "bo", "2026-06-10T00:00:00Z"));
  EXPECT_EQ(daemon.Stop(), 0);

  // 02:30: the reminders are due at 03:00, so none is due yet and none has fired.
  ASSERT_TRUE(daemon.Start("2026-06-10T02:30:00Z"));
  HttpResult metrics = daemon.Admin("GET", "/metrics");
  EXPECT_NE(metrics.body.find("portrait_timers_due 0"), std::string::npos) << metrics.body;
  EXPECT_TRUE(daemon.TasksOf("bo", "cart-abandonment").empty());
  EXPECT_EQ(daemon.Stop(), 0);

  // 03:30: both fire, once each.
  ASSERT_TRUE(daemon.Start("2026-06-10T03:30:00Z"));
  ASSERT_TRUE(daemon.WaitForLog("timers: 2 due, 2 fired a task")) << daemon.Log();
  EXPECT_EQ(daemon.TasksOf("cy", "cart-abandonment").size(), 1u);
  EXPECT_EQ(daemon.TasksOf("bo", "cart-abandonment").size(), 1u);
  EXPECT_EQ(daemon.Stop(), 0);
}

// A keyed `last` and a plain one describe the same order, the latest by event time, when an
// older order arrives after a newer one.
TEST(EventOrder, BothKindsOfLastDescribeTheLatestOrderByTimeNotByArrival) {
  Daemon daemon;
  testing::WriteFile(daemon.dir() / "rules/keyed_last.toml", R"toml(
[[metric]]
name = "last_category"
last = "order.placed:category"
)toml");
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  Post(daemon, Event("o-new", "order.placed", "kai", "2026-06-05T08:00:00Z",
                     {{"amount", 20}, {"category", "jazz"}}));
  Post(daemon, Event("o-old", "order.placed", "kai", "2026-06-01T08:00:00Z",
                     {{"amount", 10}, {"category", "rock"}}));
  HttpResult view = daemon.Admin("GET", "/v1/profiles/kai");
  ASSERT_EQ(view.status, 200) << view.body;
  const json metrics = view.json()["metrics"];
  EXPECT_EQ(metrics["last_category"], "jazz") << metrics.dump();
  EXPECT_EQ(metrics["last_order"], "2026-06-05T08:00:00Z") << metrics.dump();
  EXPECT_EQ(metrics["orders"], 2) << metrics.dump();
  EXPECT_EQ(daemon.Stop(), 0);
}

// A trigger on leaving the `new` stage fires for a customer created by PUT and then ordering,
// and equally for one whose first contact is the order itself.
TEST(EventOrder, AFirstContactByEventLeavesTheNewStageLikeAProfileCreatedByPut) {
  Daemon daemon;
  testing::WriteFile(daemon.dir() / "rules/welcome.toml", R"toml(
[[trigger]]
id = "first-order-welcome"
purpose = "care"
on.lifecycle = { from = "new", to = "active" }
task = "welcome-call"
channel = "phone"
sink = "care-queue"
message = "Thank you for your first order."
)toml");
  ASSERT_TRUE(daemon.Start("2026-06-10T00:00:00Z"));
  ASSERT_EQ(daemon.Admin("PUT", "/v1/profiles/put-first", R"({"fields":{"name":"Ma"}})").status,
            201);
  Post(daemon,
       Event("o-put", "order.placed", "put-first", "2026-06-09T08:00:00Z", {{"amount", 5}}));
  Post(daemon,
       Event("o-event", "order.placed", "event-first", "2026-06-09T08:00:00Z", {{"amount", 5}}));
  for (const std::string id : {"put-first", "event-first"}) {
    HttpResult view = daemon.Admin("GET", "/v1/profiles/" + id);
    ASSERT_EQ(view.status, 200) << view.body;
    EXPECT_EQ(view.json()["lifecycle"], "active") << id;
    EXPECT_EQ(daemon.TasksOf(id, "first-order-welcome").size(), 1u) << id;
  }
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace portrait
