#include "examples/sample_data.h"

#include <gtest/gtest.h>

#include <set>

#include "base/time_format.h"
#include "store/profile_vault.h"
#include "tests/support/test_support.h"

namespace portrait::examples {
namespace {

TEST(SampleData, IsDeterministicPerSeedAndIndex) {
  EXPECT_EQ(SampleData(1).Customer(5).patch, SampleData(1).Customer(5).patch);
  EXPECT_NE(SampleData(1).Customer(5).patch, SampleData(2).Customer(5).patch);
  EXPECT_EQ(SampleData(1).Customer(42).external_id, "cust-000042");
}

TEST(SampleData, EveryCustomerIsValidAndTheMixIsVaried) {
  testing::TempDir dir;
  config::Config config = testing::WriteTestConfig(dir);
  store::DataDir data = store::InitDataDir(config).value();
  FakeClock clock(TimePoint(std::chrono::seconds(1'700'000'000)));
  config::ConfigHolder in_force(std::make_shared<const config::Config>(config));
  store::ProfileVault vault(in_force, *data.store, data.keys, data.blind, clock);
  SampleData sample(7);
  std::set<std::string> zones;
  std::set<std::string> phones;
  int leap_day = 0;
  for (int i = 0; i < 400; ++i) {
    SampleCustomer c = sample.Customer(i);
    auto r = vault.Upsert(c.external_id, c.patch);
    ASSERT_TRUE(r) << "customer " << i << ": " << r.error().ToString();
    zones.insert(c.patch["timezone"].get<std::string>());
    phones.insert(vault.Get(c.external_id).value().fields["phone"].get<std::string>());
    leap_day += c.patch["fields"]["birthday"].get<std::string>().ends_with("-02-29");
  }
  EXPECT_GE(zones.size(), 4u);
  EXPECT_GE(leap_day, 5);
  EXPECT_GE(phones.size(), 390u);
  for (const auto& p : phones) {
    EXPECT_EQ(p[0], '+');  // stored in E.164
  }
}

TEST(SampleData, ConsentsAndEventsAreOrderedRecentAndVaried) {
  const int64_t now = 1'790'000'000'000'000;
  const int64_t two_years = int64_t{730} * 86'400'000'000;
  SampleData sample(1);
  EXPECT_EQ(sample.Customer(9, now).events, sample.Customer(9, now).events);
  std::set<std::string> ids, statuses;
  int orders = 0, carts = 0, recent_carts = 0;
  for (int i = 0; i < 300; ++i) {
    SampleCustomer c = sample.Customer(i, now);
    int64_t last = 0;
    for (const auto& e : c.events) {
      const int64_t t = ParseRfc3339(e["time"].get<std::string>()).value();
      EXPECT_GE(t, last) << c.external_id << ": events oldest first";
      EXPECT_LE(t, now);
      EXPECT_GE(t, now - two_years - 86'400'000'000);
      EXPECT_EQ(e["subject"], c.external_id);
      EXPECT_TRUE(ids.insert(e["id"].get<std::string>()).second) << "event ids are unique";
      last = t;
      orders += e["type"] == "order.placed";
      carts += e["type"] == "cart.updated";
      recent_carts += e["type"] == "cart.updated" && now - t < 3'600'000'000;
    }
    for (const auto& consent : c.consents) {
      statuses.insert(consent["purpose"].get<std::string>() + ":" +
                      consent["status"].get<std::string>());
      EXPECT_LE(ParseRfc3339(consent["time"].get<std::string>()).value(), now);
    }
  }
  EXPECT_GE(orders, 1000);
  EXPECT_GE(carts, 200);
  EXPECT_GE(recent_carts, 10);
  EXPECT_EQ(statuses,
            (std::set<std::string>{"care:objected", "marketing:granted", "marketing:withdrawn"}));
}

}  // namespace
}  // namespace portrait::examples
