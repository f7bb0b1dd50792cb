// Dispatch end to end: a real portraitd delivering to a real HTTP receiver on 127.0.0.1.
// Time is moved by restarting the daemon at a later PORTRAIT_TEST_NOW; missed timers fire then.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <set>

#include "tests/integration/daemon_harness.h"
#include "tests/support/webhook_receiver.h"

namespace portrait {
namespace {

using nlohmann::json;
using testing::Daemon;
using testing::HttpResult;
using testing::ReceivedRequest;
using testing::ScriptedAnswer;
using testing::WebhookReceiver;

// Generated for these tests; it guards nothing but them.
constexpr const char* kSecret = "whsec_dGVzdHMgb25seTogbm90IGEgcmVhbCBzZWNyZXQhIQ==";

class Dispatch : public ::testing::Test {
 protected:
  Dispatch() {
    ::setenv("PORTRAIT_CRM_SECRET", kSecret, 1);
    // Both sinks post to the receiver, retrying after about a second.
    std::string text = testing::ReadFile(daemon_.config_path());
    Replace(text, "url = \"http://127.0.0.1:8080/hooks/portrait\"",
            "url = \"" + receiver_.url("/crm") + "\"\nbackoff = \"1s\"");
    Replace(text, "type = \"file\"\npath = \"var/care-queue.jsonl\"",
            "type = \"webhook\"\nurl = \"" + receiver_.url("/care") +
                "\"\nsecret_env = \"PORTRAIT_CRM_SECRET\"\nbackoff = \"1s\"");
    testing::WriteFile(daemon_.config_path(), text);
  }

  static void Replace(std::string& text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  }

  void Put(const std::string& id, const json& fields) {
    HttpResult r = daemon_.Admin("PUT", "/v1/profiles/" + id, json{{"fields", fields}}.dump());
    ASSERT_LT(r.status, 300) << r.body;
  }
  void Consent(const std::string& id, const std::string& status) {
    HttpResult r = daemon_.Admin(
        "POST", "/v1/profiles/" + id + "/consents",
        json{{"purpose", "marketing"}, {"channel", "sms"}, {"status", status}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void Post(const json& events) {
    HttpResult r = daemon_.Admin("POST", "/v1/events", events.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // The profile's tasks of `trigger`, from its export.
  std::vector<json> Tasks(const std::string& id, const std::string& trigger) {
    HttpResult r = daemon_.Admin("GET", "/v1/profiles/" + id + "/export");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json> out;
    const json tasks = r.json()["tasks"];
    for (const json& t : tasks) {
      if (t["trigger"] == trigger) {
        out.push_back(t);
      }
    }
    return out;
  }
  // Waits until the profile's only task of `trigger` is in `state`.
  bool WaitForState(const std::string& id, const std::string& trigger, const std::string& state,
                    int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
      std::vector<json> tasks = Tasks(id, trigger);
      if (tasks.size() == 1 && tasks[0]["state"] == state) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  WebhookReceiver receiver_;
  Daemon daemon_;
};

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
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more comes
  const std::vector<ReceivedRequest> got = receiver_.Received();
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
  EXPECT_NE(metrics.body.find("portrait_sink_delivered_total{sink=\"crm\"} 1"), std::string::npos)
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
  for (int i = 0; i < 100; ++i) {
    std::vector<json> tasks = Tasks("cy", "cart-abandonment");
    if (tasks.size() == 1 && tasks[0]["due"] == "2026-06-11T00:00:00Z") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
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
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(receiver_.Received().empty());
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

}  // namespace
}  // namespace portrait
