// Dispatch under consent changes and erasure, end to end: the separate sensitive consent, the
// personalisation opt-out (message_plain or nothing), and withdrawals and erasures that reach
// the attempts already queued in a sink's worker behind a receiver that hangs.
#include <algorithm>
#include <functional>

#include "tests/integration/dispatch_fixture.h"

namespace portrait {
namespace {

// The subjects of the tasks (CloudEvents of type portrait.task) the receiver got.
std::vector<std::string> Subjects(const std::vector<ReceivedRequest>& received) {
  std::vector<std::string> out;
  for (const ReceivedRequest& r : received) {
    const json event = json::parse(r.body, nullptr, false);
    if (event.is_object() && event.value("type", "") == "portrait.task") {
      out.push_back(event.value("subject", ""));
    }
  }
  return out;
}

class QueuedDispatch : public Dispatch {
 protected:
  // The crm sink gets one worker and a long timeout: a held request holds it, and what is
  // claimed behind it waits, `sending`, in the worker's queue. A care trigger on the crm sink
  // fires on every "ticket.opened".
  void SetUp() override {
    std::string text = testing::ReadFile(daemon_.config_path());
    Replace(text, "url = \"" + receiver_.url("/crm") + "\"",
            "url = \"" + receiver_.url("/crm") + "\"\nconcurrency = 1\ntimeout = \"60s\"");
    testing::WriteFile(daemon_.config_path(), text);
    testing::WriteFile(daemon_.dir() / "rules/tickets.toml", R"([[trigger]]
id = "ticket-follow-up"
purpose = "care"
on.event = "ticket.opened"
task = "follow-up"
channel = "email"
sink = "crm"
message = "{{fields.name}}, about your ticket."
fields = ["name"]
)");
    AddPromoRule();
    ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));  // noon in Shanghai
  }

  void PostTickets(const std::string& subject, int n) {
    json events = json::array();
    for (int i = 0; i < n; ++i) {
      events.push_back({{"id", subject + "-ticket-" + std::to_string(i)},
                        {"type", "ticket.opened"},
                        {"subject", subject}});
    }
    Post(events);
  }

  // Waits until the profile has `n` tasks of `trigger`, all `sending`.
  bool WaitForSending(const std::string& id, const std::string& trigger, size_t n) {
    return Eventually([&] {
      size_t sending = 0;
      for (const json& t : Tasks(id, trigger)) {
        sending += t["state"] == "sending";
      }
      return sending == n;
    });
  }

  // Holds the crm sink's one worker with a request for "holder", runs `queue` (which queues
  // tasks behind it) and `act`, releases the receiver, and waits until a later task (for
  // "sentinel", claimed after everything queued before it) has arrived. Returns the subjects of
  // the requests that arrived after `act` returned.
  std::vector<std::string> HoldQueueActRelease(const std::function<void()>& queue,
                                               const std::function<void()>& act) {
    Put("holder", {{"name", "Ho"}});
    Put("sentinel", {{"name", "Se"}});
    receiver_.Hold();
    PostTickets("holder", 1);
    EXPECT_TRUE(receiver_.WaitFor(1));
    queue();
    act();
    const auto acted = std::chrono::steady_clock::now();
    receiver_.Release();
    PostTickets("sentinel", 1);
    Eventually([&] {
      const std::vector<std::string> subjects = Subjects(receiver_.Received());
      return std::find(subjects.begin(), subjects.end(), "sentinel") != subjects.end();
    });
    std::vector<ReceivedRequest> after;
    for (const ReceivedRequest& r : receiver_.Received()) {
      if (r.at >= acted) {
        after.push_back(r);
      }
    }
    return Subjects(after);
  }
};

TEST_F(QueuedDispatch, NothingQueuedLeavesForAProfileOnceItsErasureReceiptIsReturned) {
  Put("gone", {{"name", "Go"}});
  const std::vector<std::string> after = HoldQueueActRelease(
      [&] {
        PostTickets("gone", 5);
        ASSERT_TRUE(WaitForSending("gone", "ticket-follow-up", 5)) << daemon_.Log();
      },
      [&] {
        HttpResult erased = daemon_.Admin("DELETE", "/v1/profiles/gone");
        ASSERT_EQ(erased.status, 200) << erased.body;
      });
  EXPECT_NE(std::find(after.begin(), after.end(), "sentinel"), after.end()) << daemon_.Log();
  EXPECT_EQ(std::count(after.begin(), after.end(), "gone"), 0) << daemon_.Log();
  for (const ReceivedRequest& r : receiver_.Received()) {
    EXPECT_EQ(r.body.find("Go,"), std::string::npos) << r.body;  // no rendered field left
    // At most the erasure notice (the claimed attempts count as possibly received).
    const json event = json::parse(r.body);
    if (event["subject"] == "gone") {
      EXPECT_EQ(event["type"], "profile.erased") << r.body;
    }
  }
  EXPECT_EQ(daemon_.Admin("GET", "/healthz").status, 200);
}

TEST_F(QueuedDispatch, AWithdrawalStopsTheAttemptsAlreadyQueued) {
  Put("wd", {{"name", "Wd"}, {"phone", "+8613812345679"}});
  Consent("wd", "granted");
  const std::vector<std::string> after = HoldQueueActRelease(
      [&] {
        PostPromos("wd", 2, "2026-06-10T04:00:00Z");  // the cap (2 in 7 days) lets both go
        ASSERT_TRUE(WaitForSending("wd", "promo-follow-up", 2)) << daemon_.Log();
      },
      [&] { Consent("wd", "withdrawn"); });
  EXPECT_NE(std::find(after.begin(), after.end(), "sentinel"), after.end()) << daemon_.Log();
  EXPECT_EQ(std::count(after.begin(), after.end(), "wd"), 0) << daemon_.Log();
  // Recorded as suppressed, the attempt not counted.
  Eventually([&] {
    std::vector<json> tasks = Tasks("wd", "promo-follow-up");
    return tasks.size() == 2 && tasks[0]["state"] == "suppressed" &&
           tasks[1]["state"] == "suppressed";
  });
  for (const json& t : Tasks("wd", "promo-follow-up")) {
    EXPECT_EQ(t["state"], "suppressed") << t;
    EXPECT_EQ(t["attempts"], 0) << t;
    EXPECT_NE(t["reason"].get<std::string>().find("withdrawn"), std::string::npos) << t;
  }
}

TEST_F(Dispatch, ATriggerUsingASensitiveFieldNeedsTheSeparateSensitiveConsent) {
  testing::WriteFile(daemon_.dir() / "rules/visits.toml", R"([[trigger]]
id = "visit-prep"
purpose = "service"
on.event = "visit.booked"
task = "prepare"
channel = "email"
sink = "care-queue"
message = "Prepare the visit: {{fields.health_note}}"
fields = ["health_note"]
)");
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));
  Put("pat", {{"name", "Pat"}, {"health_note", "nut allergy"}});
  Post(json::array({{{"id", "visit-1"}, {"type", "visit.booked"}, {"subject", "pat"}}}));
  ASSERT_TRUE(WaitForState("pat", "visit-prep", "suppressed")) << daemon_.Log();
  EXPECT_NE(Tasks("pat", "visit-prep")[0]["reason"].get<std::string>().find("sensitive"),
            std::string::npos);

  HttpResult granted = daemon_.Admin(
      "POST", "/v1/profiles/pat/consents",
      json{{"purpose", "service"}, {"scope", "sensitive"}, {"status", "granted"}}.dump());
  ASSERT_EQ(granted.status, 201) << granted.body;
  Post(json::array({{{"id", "visit-2"}, {"type", "visit.booked"}, {"subject", "pat"}}}));
  ASSERT_TRUE(receiver_.WaitFor(1)) << daemon_.Log();
  const std::vector<ReceivedRequest> got = receiver_.Received();
  ASSERT_EQ(got.size(), 1u);  // the task made without the consent never left
  EXPECT_EQ(json::parse(got[0].body)["id"],
            std::to_string(Tasks("pat", "visit-prep")[1]["id"].get<int64_t>()));
}

TEST_F(Dispatch, AnOptedOutCustomerGetsMessagePlainWithoutFieldsOrNothing) {
  AddPromoRule();  // no message_plain
  testing::WriteFile(daemon_.dir() / "rules/promo-plain.toml", R"([[trigger]]
id = "promo-plain"
purpose = "marketing"
on.event = "promo.viewed"
task = "promo"
channel = "sms"
sink = "crm"
message = "{{fields.name}}, the offer you looked at ends soon."
message_plain = "The offer you looked at ends soon."
fields = ["name", "phone"]
)");
  ASSERT_TRUE(daemon_.Start("2026-06-10T04:00:00Z"));
  Put("opt", {{"name", "Optimus"}, {"phone", "+8613812345679"}});
  Consent("opt", "granted");
  HttpResult objected =
      daemon_.Admin("POST", "/v1/profiles/opt/consents",
                    json{{"purpose", "personalisation"}, {"status", "objected"}}.dump());
  ASSERT_EQ(objected.status, 201) << objected.body;
  PostPromos("opt", 1, "2026-06-10T04:00:00Z");

  ASSERT_TRUE(WaitForState("opt", "promo-plain", "delivered")) << daemon_.Log();
  ASSERT_TRUE(WaitForState("opt", "promo-follow-up", "suppressed")) << daemon_.Log();
  EXPECT_NE(Tasks("opt", "promo-follow-up")[0]["reason"].get<std::string>().find("personalisation"),
            std::string::npos);
  const std::vector<ReceivedRequest> got = receiver_.Received();
  ASSERT_EQ(got.size(), 1u);
  const json event = json::parse(got[0].body);
  EXPECT_EQ(event["data"]["message"], "The offer you looked at ends soon.");
  EXPECT_EQ(event["data"]["fields"], json::object());
  EXPECT_EQ(got[0].body.find("Optimus"), std::string::npos);
  EXPECT_EQ(got[0].body.find("13812345679"), std::string::npos);
}

// A profiling task (a marketing trigger reading a segment) made before the customer objected
// to personalisation, and held back by quiet hours, is cancelled at dispatch, never sent.
TEST_F(Dispatch, AQueuedProfilingTaskIsCancelledOnceTheCustomerObjects) {
  std::string text = testing::ReadFile(daemon_.config_path());
  Replace(text, R"(derived = ["lifecycle"])", R"(derived = ["lifecycle", "metrics", "segments"])");
  testing::WriteFile(daemon_.config_path(), text);
  testing::WriteFile(daemon_.dir() / "rules/buyers.toml",
                     testing::BuyersSegmentRules("metrics.orders >= 1",
                                                 "message = \"Welcome, {{fields.name}}\"\n"
                                                 "message_plain = \"Welcome\"\n"
                                                 "fields = [\"name\"]\n"));
  ASSERT_TRUE(daemon_.Start("2026-06-10T14:00:00Z"));  // 22:00 in Shanghai: quiet hours
  for (const char* id : {"objector", "control"}) {
    Put(id, {{"name", id}, {"phone", "+8613812345679"}});
    Consent(id, "granted");
    Post(json::array({{{"id", std::string("order-") + id},
                       {"type", "order.placed"},
                       {"subject", id},
                       {"data", {{"amount", 10}}}}}));
    ASSERT_TRUE(Eventually([&] {
      const std::vector<json> tasks = Tasks(id, "buyer-welcome");
      return tasks.size() == 1 && tasks[0]["due"] == "2026-06-11T00:00:00Z";
    })) << daemon_.Log();
  }
  HttpResult objected =
      daemon_.Admin("POST", "/v1/profiles/objector/consents",
                    json{{"purpose", "personalisation"}, {"status", "objected"}}.dump());
  ASSERT_EQ(objected.status, 201) << objected.body;
  EXPECT_EQ(Tasks("objector", "buyer-welcome")[0]["state"], "pending");  // still queued
  EXPECT_EQ(daemon_.Stop(), 0);

  ASSERT_TRUE(daemon_.Start("2026-06-11T00:00:00Z"));  // 08:00: quiet hours are over
  ASSERT_TRUE(WaitForState("control", "buyer-welcome", "delivered")) << daemon_.Log();
  ASSERT_TRUE(WaitForState("objector", "buyer-welcome", "cancelled")) << daemon_.Log();
  const json cancelled = Tasks("objector", "buyer-welcome")[0];
  EXPECT_NE(cancelled["reason"].get<std::string>().find("objected to personalisation"),
            std::string::npos)
      << cancelled;
  EXPECT_EQ(cancelled["attempts"], 0) << cancelled;
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();
  const std::vector<ReceivedRequest> got = Received();
  ASSERT_EQ(got.size(), 1u) << daemon_.Log();
  EXPECT_EQ(json::parse(got[0].body)["subject"], "control");
  const std::string audit = daemon_.Admin("GET", "/v1/audit?after=0&limit=10000").body;
  EXPECT_NE(audit.find("objected to personalisation"), std::string::npos);
}

TEST_F(QueuedDispatch, ErasureSendsASignedNoticeToEverySinkThatReceivedTheProfile) {
  Put("er", {{"name", "Er"}});
  Put("quiet", {{"name", "Qu"}});
  PostTickets("er", 1);
  ASSERT_TRUE(receiver_.WaitFor(1)) << daemon_.Log();
  ASSERT_TRUE(WaitForState("er", "ticket-follow-up", "delivered")) << daemon_.Log();

  ASSERT_EQ(daemon_.Admin("DELETE", "/v1/profiles/er").status, 200);
  ASSERT_EQ(daemon_.Admin("DELETE", "/v1/profiles/quiet").status, 200);  // never sent anywhere
  ASSERT_TRUE(receiver_.WaitFor(2)) << daemon_.Log();
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();  // a wrong extra notice would have come first
  const std::vector<ReceivedRequest> got = Received();
  ASSERT_EQ(got.size(), 2u) << daemon_.Log();
  const json notice = json::parse(got[1].body);
  EXPECT_EQ(got[1].target, "/crm");
  EXPECT_EQ(notice["type"], "profile.erased");
  EXPECT_EQ(notice["subject"], "er");
  EXPECT_EQ(notice["data"], (json{{"subject", "er"}}));
  EXPECT_EQ(got[1].headers.at("webhook-id"), notice["id"].get<std::string>());
  EXPECT_TRUE(testing::VerifyStandardWebhook(kSecret, got[1]));
  // Settled and audited; the notice keeps no sealed external id.
  const json records = daemon_.Admin("GET", "/v1/audit?after=0&limit=10000").json()["records"];
  int delivered = 0;
  for (const json& r : records) {
    delivered += r["action"] == "task.delivered" && r["detail"].is_object() &&
                 r["detail"].value("trigger", "") == "$profile.erased";
  }
  EXPECT_GE(delivered, 1) << records.dump();
  EXPECT_EQ(daemon_.Admin("GET", "/v1/audit/verify").json()["ok"], true);
  // A settled notice holds no subject any more: it can't be sent again.
  auto retry = daemon_.Admin("POST", "/v1/tasks/" + notice["id"].get<std::string>() + "/retry");
  EXPECT_EQ(retry.status, 409) << retry.body;
}

// A merge erases the source: the sinks that received its data under its id are told so, under
// that id (the target's own id never received anything here).
TEST_F(QueuedDispatch, AMergeSendsAnErasureNoticeForTheMergedAwayIdToItsSinks) {
  Put("old-er", {{"name", "Er"}});
  Put("new-er", {{"name", "Er"}});
  PostTickets("old-er", 1);
  ASSERT_TRUE(receiver_.WaitFor(1)) << daemon_.Log();
  ASSERT_TRUE(WaitForState("old-er", "ticket-follow-up", "delivered")) << daemon_.Log();

  auto merged = daemon_.Admin("POST", "/v1/profiles/new-er/merge", R"({"from": "old-er"})");
  ASSERT_EQ(merged.status, 200) << merged.body;
  ASSERT_TRUE(receiver_.WaitFor(2)) << daemon_.Log();
  ASSERT_TRUE(SendMarkers()) << daemon_.Log();
  const std::vector<ReceivedRequest> got = Received();
  ASSERT_EQ(got.size(), 2u) << daemon_.Log();
  const json notice = json::parse(got[1].body);
  EXPECT_EQ(notice["type"], "profile.erased");
  EXPECT_EQ(notice["subject"], "old-er");
  EXPECT_TRUE(testing::VerifyStandardWebhook(kSecret, got[1]));
}

}  // namespace
}  // namespace portrait
