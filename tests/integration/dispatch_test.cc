// Dispatch end to end: a real portraitd delivering to a real HTTP receiver on 127.0.0.1.
// Time is moved by restarting the daemon at a later PORTRAIT_TEST_NOW; missed timers fire then.
#include <iostream>
#include <set>

#include "tests/integration/dispatch_fixture.h"

namespace portrait {
namespace {

TEST_F(Dispatch, TheThirdMarketingTaskInSevenDaysIsSuppressedAndQuietHoursDefer) {
  AddPromoRule();
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));  // 12:00 in Shanghai
  Put("fay", {{"name", "Fay"}, {"phone", "+8613812345672"}});
  Consent("fay", "granted");
  PostPromos("fay", 3, "2026-06-10T03:59:00Z");
  ASSERT_TRUE(receiver_.WaitFor(2)) << daemon_.Log();
  std::vector<json> tasks;
  Eventually([&] {
    tasks = Tasks("fay", "promo-follow-up");
    std::multiset<std::string> states;
    for (const json& t : tasks) {
      states.insert(t["state"].get<std::string>());
    }
    return states == std::multiset<std::string>{"delivered", "delivered", "suppressed"};
  });
  ASSERT_EQ(tasks.size(), 3u);
  int suppressed = 0;
  for (const json& t : tasks) {
    if (t["state"] == "suppressed") {
      ++suppressed;
      EXPECT_EQ(t["reason"], "over the cap of 2 per 7d");
    } else {
      EXPECT_EQ(t["state"], "delivered") << t;
    }
  }
  EXPECT_EQ(suppressed, 1);
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();
  EXPECT_EQ(Received().size(), 2u);  // never sent
  EXPECT_EQ(daemon_.Stop(), 0);

  // 22:00 in Shanghai, a new customer: her task waits for 08:00.
  ASSERT_TRUE(daemon_.Start("2026-06-10T14:00:00Z"));
  Put("gil", {{"name", "Gil"}, {"phone", "+8613812345673"}});
  Consent("gil", "granted");
  PostPromos("gil", 1, "2026-06-10T14:00:00Z");
  Eventually([&] { return Tasks("gil", "promo-follow-up")[0]["due"] == "2026-06-11T00:00:00Z"; });
  json waiting = Tasks("gil", "promo-follow-up")[0];
  EXPECT_EQ(waiting["state"], "pending");
  EXPECT_EQ(waiting["due"], "2026-06-11T00:00:00Z");  // 08:00 in Shanghai
  EXPECT_NE(waiting["reason"].get<std::string>().find("quiet hours 21:00-08:00"),
            std::string::npos);
  EXPECT_EQ(Received().size(), 2u);
  EXPECT_EQ(daemon_.Stop(), 0);
  // 07:59: still waiting. 08:00: out it goes.
  ASSERT_TRUE(daemon_.Start("2026-06-10T23:59:00Z"));
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();
  EXPECT_EQ(Received().size(), 2u);
  EXPECT_EQ(Tasks("gil", "promo-follow-up")[0]["state"], "pending");
  EXPECT_EQ(daemon_.Stop(), 0);
  ASSERT_TRUE(daemon_.Start("2026-06-11T00:00:00Z"));
  ASSERT_TRUE(WaitForState("gil", "promo-follow-up", "delivered")) << daemon_.Log();
  EXPECT_EQ(Received().size(), 3u);
}

TEST_F(Dispatch, OverTheCapTasksWaitForTheNextLocalMidnightWhenConfiguredToDefer) {
  AddPromoRule();
  std::string text = testing::ReadFile(daemon_.config_path());
  Replace(text, "cap = { max = 2, per = \"7d\" }",
          "cap = { max = 2, per = \"7d\", over = \"defer\" }");
  testing::WriteFile(daemon_.config_path(), text);
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));  // 12:00 in Shanghai
  Put("ivy", {{"name", "Ivy"}, {"phone", "+8613812345675"}});
  Consent("ivy", "granted");
  PostPromos("ivy", 3, "2026-06-10T03:59:00Z");
  ASSERT_TRUE(receiver_.WaitFor(2)) << daemon_.Log();
  json deferred;
  Eventually([&] {
    for (const json& t : Tasks("ivy", "promo-follow-up")) {
      if (t["state"] == "pending" && t["due"] == "2026-06-10T16:00:00Z") {
        deferred = t;
      }
    }
    return !deferred.is_null();
  });
  ASSERT_FALSE(deferred.is_null()) << json(Tasks("ivy", "promo-follow-up")).dump();
  EXPECT_NE(deferred["reason"].get<std::string>().find("over the cap of 2 per 7d"),
            std::string::npos);
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();
  EXPECT_EQ(Received().size(), 2u);  // it waits; at midnight the cap is checked again
}

TEST_F(Dispatch, TasksAreListedRetriedAndCancelledThroughTheApi) {
  AddPromoRule();
  ASSERT_TRUE(daemon_.Start("2026-06-10T14:00:00Z"));  // quiet hours: tasks wait
  Put("hal", {{"name", "Hal"}, {"phone", "+8613812345674"}});
  Consent("hal", "granted");
  PostPromos("hal", 2, "2026-06-10T14:00:00Z");
  HttpResult listed = daemon_.Admin("GET", "/v1/tasks?profile=hal&state=pending", "", "marketing");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const json tasks = listed.json()["tasks"];
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0]["trigger"], "promo-follow-up");
  EXPECT_EQ(tasks[0].count("payload"), 0u);  // the list never carries message or fields
  const std::string first = std::to_string(tasks[0]["id"].get<int64_t>());

  HttpResult paged = daemon_.Admin("GET", "/v1/tasks?profile=hal&limit=1", "", "marketing");
  ASSERT_EQ(paged.json()["tasks"].size(), 1u);
  EXPECT_EQ(paged.json()["next_after"], tasks[0]["id"]);
  EXPECT_EQ(daemon_.Admin("GET", "/v1/tasks?state=lost", "", "marketing").status, 422);

  HttpResult cancelled = daemon_.Admin("POST", "/v1/tasks/" + first + "/cancel", "", "marketing");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json()["state"], "cancelled");
  EXPECT_EQ(daemon_.Admin("POST", "/v1/tasks/" + first + "/cancel", "", "marketing").status, 409);
  HttpResult retried = daemon_.Admin("POST", "/v1/tasks/" + first + "/retry", "", "marketing");
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.json()["state"], "pending");
  EXPECT_EQ(daemon_.Admin("POST", "/v1/tasks/999999/retry", "", "marketing").status, 404);

  // The same through portraitctl, with the admin token init wrote.
  const std::string ctl = testing::BinDir() + "/portraitctl tasks ";
  const std::string where = " --purpose marketing --config " + daemon_.config_path() +
                            " --url http://127.0.0.1:" + std::to_string(daemon_.port()) + " 2>&1";
  std::string out;
  ASSERT_EQ(testing::RunCommand(ctl + "list --json --profile hal --state pending" + where, &out), 0)
      << out;
  EXPECT_EQ(json::parse(out)["tasks"].size(), 2u) << out;
  out.clear();
  ASSERT_EQ(testing::RunCommand(ctl + "cancel " + first + where, &out), 0) << out;
  EXPECT_EQ(out, "task " + first + " is now cancelled\n");
  out.clear();
  EXPECT_EQ(testing::RunCommand(ctl + "cancel " + first + where, &out), 1);
  EXPECT_NE(out.find("only pending or retrying tasks can be cancelled"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(testing::RunCommand(ctl + "list --state cancelled" + where, &out), 0) << out;
  EXPECT_NE(out.find("promo-follow-up"), std::string::npos) << out;
  EXPECT_NE(out.find("cancelled by token:"), std::string::npos) << out;
  EXPECT_EQ(out.find("Hal"), std::string::npos) << out;  // never a personal value
  out.clear();
  ASSERT_EQ(testing::RunCommand(ctl + "list --limit 1 --profile hal" + where, &out), 0) << out;
  EXPECT_NE(out.find("more tasks: run again with --after " + first), std::string::npos) << out;
  ASSERT_EQ(testing::RunCommand(ctl + "retry " + first + where, &out), 0) << out;
  EXPECT_EQ(testing::RunCommand(ctl + "list --state lost" + where, &out), 2);
  EXPECT_EQ(testing::RunCommand(ctl + "retry" + where, &out), 2);
  // The marketer may read tasks but not change them.
  const std::string marketer = daemon_.CreateToken("mk", "marketer");
  EXPECT_EQ(daemon_.client()
                .Send("POST", "/v1/tasks/" + first + "/cancel", "",
                      {{"Authorization", "Bearer " + marketer}})
                .status,
            403);
}

TEST_F(Dispatch, CartBirthdayAndLifecycleChangeEachDeliverOneSignedWebhook) {
  // 10 June 12:00 in Shanghai.
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));
  Put("ada", {{"name", "Ada"},
              {"phone", "+8613812345678"},
              {"email", "ada@example.com"},
              {"city", "杭州"},
              {"birthday", "1990-06-12"}});
  Consent("ada", "granted");
  // Her last order was 90 days and 10 hours ago (active, for a day more); her cart is 3 hours
  // old with no order since (the 2-hour absence timer is already due).
  Post(json::array({{{"id", "o-1"},
                     {"type", "order.placed"},
                     {"subject", "ada"},
                     {"time", "2026-03-11T18:00:00Z"},
                     {"data", {{"amount", 30}}}},
                    {{"id", "cart-1"},
                     {"type", "cart.updated"},
                     {"subject", "ada"},
                     {"time", "2026-06-10T01:00:00Z"}}}));
  ASSERT_TRUE(receiver_.WaitFor(1)) << daemon_.Log();
  EXPECT_EQ(daemon_.Stop(), 0);

  // 11 June 13:00 in Shanghai: the birthday greeting (due 09:00) and the daily lifecycle
  // re-evaluation (now 91 days since the order: at risk, so the win-back offer) are due.
  ASSERT_TRUE(daemon_.Start("2026-06-11T05:00:00Z"));
  ASSERT_TRUE(receiver_.WaitFor(3)) << daemon_.Log();
  ASSERT_TRUE(WaitForState("ada", "win-back", "delivered")) << daemon_.Log();
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();  // nothing more comes
  const std::vector<ReceivedRequest> got = Received();
  ASSERT_EQ(got.size(), 3u);

  std::map<std::string, json> by_task;
  std::set<std::string> ids;
  for (const ReceivedRequest& r : got) {
    EXPECT_TRUE(testing::VerifyStandardWebhook(kSecret, r)) << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/cloudevents+json; charset=utf-8");
    json event = json::parse(r.body);
    EXPECT_EQ(event["specversion"], "1.0");
    EXPECT_EQ(event["id"], r.headers.at("webhook-id"));
    EXPECT_EQ(event["subject"], "ada");
    ids.insert(event["id"].get<std::string>());
    by_task[event["data"]["task"]] = event;
  }
  EXPECT_EQ(ids.size(), 3u);
  ASSERT_EQ(by_task.count("cart-reminder"), 1u);
  ASSERT_EQ(by_task.count("greeting"), 1u);
  ASSERT_EQ(by_task.count("win-back-offer"), 1u);
  for (const auto& [task, event] : by_task) {
    // Only the trigger's declared fields travel: name and phone, never email, city, birthday.
    EXPECT_EQ(event["data"]["fields"], json({{"name", "Ada"}, {"phone", "+8613812345678"}}))
        << task;
    EXPECT_EQ(event["data"]["profile"], "ada");
    EXPECT_EQ(event.dump().find("ada@example.com"), std::string::npos);
    EXPECT_EQ(event.dump().find("杭州"), std::string::npos);
  }
  EXPECT_EQ(by_task["cart-reminder"]["data"]["message"], "Ada,您的购物车还在等您,今天下单免运费。");
  EXPECT_EQ(by_task["greeting"]["data"]["message"], "亲爱的Ada,明天是您的生日,提前祝您生日快乐!");
  EXPECT_EQ(by_task["win-back-offer"]["data"]["message"], "Ada,好久不见!优惠码 BACK20 立减20元。");
  EXPECT_EQ(by_task["greeting"]["data"]["purpose"], "care");
  EXPECT_EQ(got[0].target, "/crm");  // the cart reminder, to the crm sink

  for (const char* trigger : {"cart-abandonment", "birthday-greeting", "win-back"}) {
    std::vector<json> tasks = Tasks("ada", trigger);
    ASSERT_EQ(tasks.size(), 1u) << trigger;
    EXPECT_EQ(tasks[0]["state"], "delivered") << trigger;
  }
  HttpResult metrics = daemon_.Admin("GET", "/metrics");
  // The cart reminder and the marker.
  EXPECT_NE(metrics.body.find("portrait_sink_delivered_total{sink=\"crm\"} 2"), std::string::npos)
      << metrics.body;
  EXPECT_EQ(daemon_.Admin("GET", "/v1/audit/verify").json()["ok"], true);
}

TEST_F(Dispatch, WithdrawnConsentSuppressesAndErasureCancelsWhatWaits) {
  // 22:00 in Shanghai: inside marketing's quiet hours (21:00-08:00), so the cart reminders wait.
  ASSERT_TRUE(daemon_.Start("2026-06-10T14:00:00Z"));
  for (const std::string id : {"bo", "cy"}) {
    Put(id, {{"name", "Bo"}, {"phone", "+8613812345679"}});
    Consent(id, "granted");
    Post(json::array({{{"id", "cart-" + id},
                       {"type", "cart.updated"},
                       {"subject", id},
                       {"time", "2026-06-10T11:00:00Z"}}}));
  }
  ASSERT_TRUE(WaitForState("bo", "cart-abandonment", "pending")) << daemon_.Log();
  // The dispatcher saw them and deferred them to 08:00.
  Eventually([&] {
    std::vector<json> tasks = Tasks("cy", "cart-abandonment");
    return tasks.size() == 1 && tasks[0]["due"] == "2026-06-11T00:00:00Z";
  });
  ASSERT_EQ(Tasks("cy", "cart-abandonment")[0]["due"], "2026-06-11T00:00:00Z");

  Consent("bo", "withdrawn");
  std::vector<json> bo = Tasks("bo", "cart-abandonment");
  ASSERT_EQ(bo.size(), 1u);
  EXPECT_EQ(bo[0]["state"], "suppressed");  // at once, with the withdrawal
  EXPECT_NE(bo[0]["reason"].get<std::string>().find("withdrawn"), std::string::npos) << bo[0];
  ASSERT_EQ(daemon_.Admin("DELETE", "/v1/profiles/cy").status, 200);
  EXPECT_EQ(daemon_.Stop(), 0);

  // 08:30 the next morning: quiet hours are over, and nothing is sent.
  ASSERT_TRUE(daemon_.Start("2026-06-11T00:30:00Z"));
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();
  EXPECT_TRUE(Received().empty());
  EXPECT_EQ(Tasks("bo", "cart-abandonment")[0]["state"], "suppressed");
}

TEST_F(Dispatch, RetriesWithGrowingDelaysHonoursRetryAfterAndGivesUpOnA400) {
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));
  receiver_.Script({{503}, {503}, {503}, {200}});
  Put("dee", {{"name", "Dee"}, {"phone", "+8613812345670"}});
  Consent("dee", "granted");
  Post(json::array({{{"id", "cart-dee"},
                     {"type", "cart.updated"},
                     {"subject", "dee"},
                     {"time", "2026-06-10T01:00:00Z"}}}));
  ASSERT_TRUE(WaitForState("dee", "cart-abandonment", "delivered", 30)) << daemon_.Log();
  std::vector<ReceivedRequest> got = receiver_.Received();
  ASSERT_EQ(got.size(), 4u);
  std::vector<double> waits;
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].headers.at("webhook-id"), got[0].headers.at("webhook-id"));
    waits.push_back(std::chrono::duration<double>(got[i].at - got[i - 1].at).count());
  }
  // backoff = 1s: waits in [0.5, 1), [1, 2), [2, 4) seconds (plus the dispatcher's tick).
  EXPECT_GE(waits[0], 0.5);
  EXPECT_GT(waits[1], waits[0]);
  EXPECT_GT(waits[2], waits[1]);
  EXPECT_GE(waits[2], 2.0);
  EXPECT_EQ(Tasks("dee", "cart-abandonment")[0]["attempts"], 4);

  // 429 with Retry-After: 2 waits at least 2 s; a 400 is dead at once.
  receiver_.Script({{429, "2"}, {400}});
  Put("eve", {{"name", "Eve"}, {"phone", "+8613812345671"}});
  Consent("eve", "granted");
  Post(json::array({{{"id", "cart-eve"},
                     {"type", "cart.updated"},
                     {"subject", "eve"},
                     {"time", "2026-06-10T01:00:00Z"}}}));
  ASSERT_TRUE(WaitForState("eve", "cart-abandonment", "dead", 30)) << daemon_.Log();
  got = receiver_.Received();
  ASSERT_EQ(got.size(), 6u);
  EXPECT_GE(std::chrono::duration<double>(got[5].at - got[4].at).count(), 2.0);
  const json eve = Tasks("eve", "cart-abandonment")[0];
  EXPECT_EQ(eve["attempts"], 2);
  EXPECT_EQ(eve["reason"], "HTTP 400");
}

TEST_F(Dispatch, SigkillWhileDeliveringLosesNoTaskAndRepeatsOnlySameIds) {
  testing::WriteFile(daemon_.dir() / "rules/tickets.toml", R"([[trigger]]
id = "ticket-ack"
purpose = "care"
on.event = "ticket.opened"
task = "ack"
channel = "email"
sink = "crm"
message = "We have your ticket and will answer within a day."
)");
  constexpr int kTasks = 1000;
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));
  for (int batch = 0; batch < kTasks / 50; ++batch) {
    json events = json::array();
    for (int i = batch * 50; i < (batch + 1) * 50; ++i) {
      events.push_back({{"id", "ticket-" + std::to_string(i)},
                        {"type", "ticket.opened"},
                        {"subject", "cust-" + std::to_string(i)}});
    }
    Post(events);
  }
  ASSERT_TRUE(receiver_.WaitFor(kTasks / 5, 60)) << daemon_.Log();
  daemon_.Kill();
  const size_t before_kill = receiver_.Received().size();
  ASSERT_LT(before_kill, static_cast<size_t>(kTasks)) << "delivered everything before the kill";
  EXPECT_EQ(daemon_.IntegrityCheck(), "ok\n");
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:01:00Z"));

  // Every task ends delivered.
  std::set<std::string> task_ids;
  Eventually([&] {
    task_ids.clear();
    int64_t after = 0;
    while (true) {
      HttpResult page = daemon_.Admin(
          "GET", "/v1/tasks?state=delivered&limit=1000&after=" + std::to_string(after), "", "care");
      if (page.status != 200) {
        ADD_FAILURE() << page.body;
        return true;
      }
      const json tasks = page.json()["tasks"];
      for (const json& t : tasks) {
        task_ids.insert(std::to_string(t["id"].get<int64_t>()));
      }
      if (page.json()["next_after"].is_null()) {
        break;
      }
      after = page.json()["next_after"];
    }
    return task_ids.size() == static_cast<size_t>(kTasks);
  }, 120);
  ASSERT_EQ(task_ids.size(), static_cast<size_t>(kTasks)) << daemon_.Log();

  // The receiver got every task at least once; a repeat carries the same id and event.
  std::map<std::string, std::vector<json>> by_id;
  for (const ReceivedRequest& r : receiver_.Received()) {
    json event = json::parse(r.body);
    EXPECT_EQ(event["id"], r.headers.at("webhook-id"));
    by_id[event["id"]].push_back(std::move(event));
  }
  int duplicates = 0;
  for (const std::string& id : task_ids) {
    ASSERT_EQ(by_id.count(id), 1u) << "task " << id << " never reached the receiver";
    const std::vector<json>& copies = by_id[id];
    duplicates += static_cast<int>(copies.size()) - 1;
    for (const json& copy : copies) {
      EXPECT_EQ(copy["subject"], copies[0]["subject"]) << id;
      EXPECT_EQ(copy["data"]["message"], copies[0]["data"]["message"]) << id;
    }
  }
  EXPECT_EQ(by_id.size(), static_cast<size_t>(kTasks));
  std::cout << "SIGKILL after " << before_kill << " of " << kTasks << " deliveries: every task "
            << "delivered; " << duplicates << " delivered twice (retried after the kill)\n";
}

}  // namespace
}  // namespace portrait
