#include "examples/sample_data.h"

#include <gtest/gtest.h>

#include <set>

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
  store::ProfileVault vault(config, *data.store, data.keys, data.blind, clock);
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

}  // namespace
}  // namespace portrait::examples
