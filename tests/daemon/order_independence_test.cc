// Order independence, as a property: for random event streams (carts, orders, tickets over two
// years for 200 customers), ingesting the events in time order and in a random arrival order
// (with the same clock) leaves the same metrics, lifecycle stages and armed timers, and the
// same number of tasks per trigger and customer. Each customer's stream is one permutation.
// Runs the real ingestor over two real SQLCipher data directories with the example rules.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "base/time_format.h"
#include "config/loader.h"
#include "daemon/ingestor.h"
#include "daemon/rules_holder.h"
#include "tests/support/test_support.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr int kCustomers = 200;
constexpr int64_t kDayUs = 86'400'000'000;
constexpr int64_t kNowUs = 1'800'000'000'000'000;  // 2027-01-15

// One daemon's writing core over its own data directory, made from the example config and rules.
struct Core {
  // The example config and rules, copied into `dir` and loaded.
  static config::Config ExampleIn(const testing::TempDir& dir) {
    const std::string source = PORTRAIT_SOURCE_DIR;
    std::filesystem::copy_file(source + "/examples/portrait.toml", dir / "portrait.toml");
    std::filesystem::copy(source + "/examples/rules", dir / "rules");
    return config::LoadConfig(dir / "portrait.toml").value();
  }

  testing::TempDir dir;
  config::Config config = ExampleIn(dir);
  config::ConfigHolder in_force{std::make_shared<const config::Config>(config)};
  store::DataDir data = store::InitDataDir(config).value();
  FakeClock clock{TimePoint(std::chrono::microseconds(kNowUs))};
  crypto::AuditSigner signer = crypto::AuditSigner::Create(data.keys.audit_seed()).value();
  store::AuditLog audit{*data.store, signer, data.keys.audit_mac_key(), clock, {1000}};
  store::ProfileVault vault{in_force, *data.store, data.keys, data.blind, clock, &audit};
  spdlog::logger log{"test", std::make_shared<spdlog::sinks::null_sink_st>()};
  ConsentService consents{*data.store, vault, audit, clock, log};
  RulesHolder rules{LoadRules(in_force.Get()).value()};
  Ingestor ingestor{*data.store, vault, consents, audit, rules, data.blind, clock};

  void Ingest(const std::vector<json>& events) {
    for (size_t at = 0; at < events.size(); at += 50) {
      json body(std::vector<json>(events.begin() + static_cast<ptrdiff_t>(at),
                                  events.begin() + static_cast<ptrdiff_t>(
                                                       std::min(events.size(), at + 50))));
      auto parsed = ParseCloudEvents(body, kNowUs, data.blind);
      ASSERT_TRUE(parsed) << parsed.error().ToString();
      IngestRequest request{std::move(*parsed), "test", "service"};
      auto counts = ingestor.ApplyEvents({&request});
      ASSERT_TRUE(counts) << counts.error().ToString();
    }
  }

  // What the property compares for one customer: metrics, stage, timers (trigger -> due) and
  // the number of tasks per trigger.
  json StateOf(const std::string& customer) {
    store::Profile p = vault.Get(customer).value();
    json timers = json::object();
    const std::vector<store::TimerRow> stored = data.store->GetTimers(p.id).value();
    for (const store::TimerRow& t : stored) {
      timers[t.trigger] = t.due_us;
    }
    store::TaskFilter filter;
    filter.profile_id = p.id;
    filter.limit = 1000;
    json tasks = json::object();
    const std::vector<store::TaskRow> made = data.store->ListTasks(filter).value();
    for (const store::TaskRow& t : made) {
      tasks[t.trigger] = tasks.value(t.trigger, 0) + 1;
    }
    return {{"metrics", p.metrics}, {"stage", p.lifecycle}, {"timers", timers}, {"tasks", tasks}};
  }
};

// A customer's random stream over the two years before now: carts, orders (amount, sku) and
// tickets, each at a distinct random instant, in time order.
std::vector<json> Stream(int customer, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> count(3, 16);
  std::uniform_int_distribution<int64_t> offset(0, 730 * kDayUs);
  std::uniform_int_distribution<int> kind(0, 5), amount(1, 500), sku(0, 4);
  std::vector<json> events;
  const std::string subject = "c" + std::to_string(customer);
  for (int i = 0, n = count(rng); i < n; ++i) {
    const int k = kind(rng);
    const std::string type = k < 2 ? "cart.updated" : k < 5 ? "order.placed" : "ticket.opened";
    json data = type == "order.placed"
                    ? json{{"amount", amount(rng)}, {"sku", "S" + std::to_string(sku(rng))}}
                    : json::object();
    // Some carts get their order within the two hours, some orders come just before a cart.
    const int64_t at = kNowUs - offset(rng);
    events.push_back({{"id", subject + "-" + std::to_string(i)},
                      {"type", type},
                      {"subject", subject},
                      {"time", FormatRfc3339(at)},
                      {"data", data}});
    if (type == "cart.updated" && i % 2 == 0) {
      events.push_back({{"id", subject + "-" + std::to_string(i) + "-o"},
                        {"type", "order.placed"},
                        {"subject", subject},
                        {"time", FormatRfc3339(at + 3'600'000'000 * (i % 4 == 0 ? 1 : -1))},
                        {"data", {{"amount", 10}, {"sku", "S1"}}}});
    }
  }
  std::sort(events.begin(), events.end(),
            [](const json& a, const json& b) { return a["time"] < b["time"]; });
  return events;
}

TEST(OrderIndependence, ArrivalOrderChangesNoMetricStageTimerOrTaskCount) {
  std::mt19937_64 rng(20261130);
  std::vector<json> in_time_order, shuffled;
  for (int c = 0; c < kCustomers; ++c) {
    std::vector<json> stream = Stream(c, rng);
    in_time_order.insert(in_time_order.end(), stream.begin(), stream.end());
    std::shuffle(stream.begin(), stream.end(), rng);  // this customer's permutation
    shuffled.insert(shuffled.end(), stream.begin(), stream.end());
  }
  // Interleave customers differently too.
  std::sort(in_time_order.begin(), in_time_order.end(),
            [](const json& a, const json& b) { return a["time"] < b["time"]; });

  Core ordered, arrived;
  ordered.Ingest(in_time_order);
  arrived.Ingest(shuffled);
  int differing = 0, with_cart_timer = 0, with_tasks = 0;
  for (int c = 0; c < kCustomers; ++c) {
    const std::string id = "c" + std::to_string(c);
    const json expected = ordered.StateOf(id), got = arrived.StateOf(id);
    differing += expected != got;
    EXPECT_EQ(expected, got) << id;
    with_cart_timer += expected["timers"].contains("cart-abandonment");
    with_tasks += !expected["tasks"].empty();
  }
  EXPECT_EQ(differing, 0);
  // The streams exercise what the property is about.
  EXPECT_GT(with_cart_timer, 0);
  EXPECT_GT(with_tasks, 0);
}

}  // namespace
}  // namespace portrait::daemon
