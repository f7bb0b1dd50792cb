// The fixture of the dispatch tests: a real portraitd whose two sinks post to a real webhook
// receiver on 127.0.0.1, and helpers to write profiles, consents and events over HTTP.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/support/webhook_receiver.h"

namespace portrait {

using nlohmann::json;
using testing::Daemon;
using testing::Eventually;
using testing::HttpResult;
using testing::ReceivedRequest;
using testing::ScriptedAnswer;
using testing::WebhookReceiver;

// Generated for these tests; it guards nothing but them.
inline constexpr const char* kSecret = "whsec_dGVzdHMgb25seTogbm90IGEgcmVhbCBzZWNyZXQhIQ==";

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
    testing::WriteFile(daemon_.dir() / "rules/markers.toml", kMarkerRules);
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
  std::vector<json> Tasks(const std::string& id, const std::string& trigger) {
    return daemon_.TasksOf(id, trigger);
  }

  // Waits until the profile's only task of `trigger` is in `state`.
  bool WaitForState(const std::string& id, const std::string& trigger, const std::string& state,
                    int seconds = 20) {
    return Eventually(
        [&] {
          std::vector<json> tasks = Tasks(id, trigger);
          return tasks.size() == 1 && tasks[0]["state"] == state;
        },
        seconds);
  }

  // Proves the dispatcher has moved on, where a test asserts that nothing more comes: posts a
  // marker task to each sink (care, so neither quiet hours nor a cap hold it) and waits until
  // both are delivered. Anything due before them has been claimed by then.
  bool SendMarkers() {
    const std::string subject = "marker-" + std::to_string(++markers_);
    Post(json::array({{{"id", subject}, {"type", "marker.sent"}, {"subject", subject}}}));
    return WaitForState(subject, "marker-crm", "delivered") &&
           WaitForState(subject, "marker-care", "delivered");
  }

  // The requests the receiver got, the markers left out.
  std::vector<ReceivedRequest> Received() {
    std::vector<ReceivedRequest> out;
    for (ReceivedRequest& r : receiver_.Received()) {
      const json event = json::parse(r.body, nullptr, false);
      if (!event.is_object() || event.value("subject", "").rfind("marker-", 0) != 0) {
        out.push_back(std::move(r));
      }
    }
    return out;
  }

  // A marketing trigger that fires on every "promo.viewed" event (each its own task).
  void AddPromoRule() {
    testing::WriteFile(daemon_.dir() / "rules/promo.toml", R"([[trigger]]
id = "promo-follow-up"
purpose = "marketing"
on.event = "promo.viewed"
task = "promo"
channel = "sms"
sink = "crm"
message = "{{fields.name}}, the offer you looked at ends soon."
fields = ["name"]
)");
  }
  void PostPromos(const std::string& subject, int n, const std::string& time) {
    json events = json::array();
    for (int i = 0; i < n; ++i) {
      events.push_back({{"id", subject + "-promo-" + std::to_string(i)},
                        {"type", "promo.viewed"},
                        {"subject", subject},
                        {"time", time}});
    }
    Post(events);
  }

  static constexpr const char* kMarkerRules = R"([[trigger]]
id = "marker-crm"
purpose = "care"
on.event = "marker.sent"
task = "marker"
channel = "email"
sink = "crm"
message = "A marker."

[[trigger]]
id = "marker-care"
purpose = "care"
on.event = "marker.sent"
task = "marker"
channel = "email"
sink = "care-queue"
message = "A marker."
)";

  WebhookReceiver receiver_;
  Daemon daemon_;
  int markers_ = 0;
};

}  // namespace portrait
