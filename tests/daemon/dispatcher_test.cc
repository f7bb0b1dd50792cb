// The dispatcher over a real SQLCipher data directory and the example config's file sink, with
// faults injected into the store: a delivery whose record fails to commit is recorded in a later
// round, without a restart, without being sent again, and counted once.
#include "daemon/dispatcher.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "daemon/ingestor.h"
#include "daemon/rules_holder.h"
#include "daemon/writer.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

class DispatcherTest : public ServiceFixture {
 protected:
  // The example rules, copied into the data directory before they are loaded.
  std::shared_ptr<const LoadedRules> ExampleRules() {
    std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
    return LoadRules(in_force_.Get()).value();
  }

  // Five orders: the care trigger "vip-thank-you" fires one task for the file sink.
  store::ProfileId FifthOrder(std::string_view subject) {
    EXPECT_TRUE(vault_.Upsert(subject, json{{"fields", {{"name", "A"}}}}));
    json body = json::array();
    for (int i = 0; i < 5; ++i) {
      body.push_back({{"specversion", "1.0"},
                      {"id", std::string(subject) + "-order-" + std::to_string(i)},
                      {"source", "test"},
                      {"type", "order.placed"},
                      {"subject", subject},
                      {"data", {{"amount", 10}}}});
    }
    auto events = ParseCloudEvents(body, Now(), data_.blind);
    EXPECT_TRUE(events) << events.error().ToString();
    IngestRequest request{std::move(*events), "test", "service"};
    auto counts = ingestor_.ApplyEvents({&request});
    EXPECT_TRUE(counts) << counts.error().ToString();
    return vault_.IdOf(subject).value();
  }

  std::vector<store::TaskRow> TasksOf(store::ProfileId id) { return store_.GetTasks(id).value(); }

  // Polls `done` until it holds, for up to 10 s.
  template <typename Condition>
  static bool WaitFor(Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Waits up to 10 s for the profile's only task to reach `state`.
  bool WaitForState(store::ProfileId id, std::string_view state) {
    return WaitFor([&] {
      std::vector<store::TaskRow> tasks = TasksOf(id);
      return tasks.size() == 1 && tasks[0].state == state;
    });
  }

  std::string SinkPath(std::string_view name) const {
    for (const config::Sink& s : config_.sinks) {
      if (s.name == name) {
        return s.path;
      }
    }
    return "";
  }

  std::unique_ptr<Dispatcher> Start() {
    return std::make_unique<Dispatcher>(
        DispatcherDeps{writer_, store_, vault_, consents_, sends_, data_.keys, audit_, in_force_,
                       rules_, clock_, metrics_, log_},
        std::chrono::milliseconds(20));
  }

  SendGate sends_;
  RulesHolder rules_{ExampleRules()};
  Ingestor ingestor_{store_, vault_, consents_, audit_, rules_, data_.blind, clock_};
  Telemetry metrics_;
  Writer writer_{ingestor_, audit_, metrics_};
};

TEST_F(DispatcherTest, ADeliveryWhoseRecordFailedIsRecordedNextRoundNotSentAgain) {
  const store::ProfileId id = FifthOrder("c-1");
  ASSERT_EQ(TasksOf(id).size(), 1u);
  ASSERT_EQ(TasksOf(id)[0].state, "pending");
  store_.fail_delivered_records = 2;

  std::unique_ptr<Dispatcher> dispatcher = Start();
  EXPECT_TRUE(WaitForState(id, "delivered")) << log_text_.str();
  EXPECT_EQ(store_.fail_delivered_records.load(), 0);  // both injected failures were hit
  EXPECT_NE(log_text_.str().find("could not record 1 outcomes"), std::string::npos)
      << log_text_.str();
  dispatcher->Stop();

  // Sent once: the file sink holds one line; counted once.
  std::ifstream file(SinkPath("care-queue"));
  std::string line;
  int lines = 0;
  while (std::getline(file, line)) {
    ++lines;
    EXPECT_EQ(json::parse(line)["id"], std::to_string(TasksOf(id)[0].id));
  }
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(TasksOf(id)[0].attempts, 1);
  EXPECT_EQ(metrics_.sinks.For("care-queue").delivered.value(), 1u);
}

// A consent record for profile `id`, committed as the consent API would.
void AddConsent(store::Store& store, store::ProfileId id, std::string purpose, std::string scope,
                std::string status, int64_t now) {
  store::Batch batch;
  batch.consents.push_back({0, id, std::move(purpose), std::move(scope), "any", std::move(status),
                            now, "test", "", "", "test", 0});
  ASSERT_TRUE(store.Commit(batch));
}

TEST_F(DispatcherTest, AnOptOutAfterTheTaskWasMadeSuppressesATriggerWithoutMessagePlain) {
  const store::ProfileId id = FifthOrder("c-2");  // vip-thank-you: no message_plain
  ASSERT_EQ(TasksOf(id).size(), 1u);
  ASSERT_EQ(TasksOf(id)[0].state, "pending");
  AddConsent(store_, id, "personalisation", "processing", "objected", Now());

  std::unique_ptr<Dispatcher> dispatcher = Start();
  EXPECT_TRUE(WaitForState(id, "suppressed")) << log_text_.str();
  dispatcher->Stop();
  EXPECT_NE(TasksOf(id)[0].reason.find("personalisation"), std::string::npos)
      << TasksOf(id)[0].reason;
  std::ifstream file(SinkPath("care-queue"));
  std::string line;
  EXPECT_FALSE(std::getline(file, line)) << line;  // nothing was written
}

TEST_F(DispatcherTest, AFailedReadInTheCapCheckLeavesTheTaskWaitingNotSent) {
  auto capped = std::make_shared<config::Config>(config_);
  for (config::Purpose& p : capped->purposes) {
    if (p.name == "care") {
      p.cap = config::FrequencyCap{5, std::chrono::hours(24 * 7)};
    }
  }
  in_force_.Set(capped);
  const store::ProfileId id = FifthOrder("c-3");
  ASSERT_EQ(TasksOf(id).size(), 1u);
  store_.fail_list_tasks = 2;

  std::unique_ptr<Dispatcher> dispatcher = Start();
  // Both failed reads were hit: the first did not send the task, or it would not have been
  // decided on again.
  EXPECT_TRUE(WaitFor([&] { return store_.fail_list_tasks.load() == 0; }));
  // Once the store reads again, the task goes out, once.
  EXPECT_TRUE(WaitForState(id, "delivered"));
  dispatcher->Stop();
  EXPECT_EQ(TasksOf(id)[0].attempts, 1);
  EXPECT_NE(log_text_.str().find("could not count"), std::string::npos) << log_text_.str();
}

}  // namespace
}  // namespace portrait::daemon
