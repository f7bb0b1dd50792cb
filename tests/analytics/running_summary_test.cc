// RunningSummary (a customer summarised a purchase at a time, as a model fit reads the events in
// time order) gives exactly what Summarize gives from the whole log: on random logs with many
// purchases a day and amounts that round, and on every customer of the CDNOW sample.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "analytics/purchases.h"
#include "tests/analytics/cdnow_data.h"

namespace portrait::analytics {
namespace {

using testing::DateUs;

constexpr int64_t kHourUs = 3'600'000'000;

RunningSummary Fed(const std::vector<Purchase>& purchases) {
  RunningSummary running;
  for (const Purchase& p : purchases) {
    EXPECT_TRUE(running.Add(p));
  }
  return running;
}

void ExpectSame(const CustomerSummary& a, const CustomerSummary& b) {
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.t_x, b.t_x);  // bit for bit: the same sums in the same order
  EXPECT_EQ(a.T, b.T);
  EXPECT_EQ(a.mean_repeat_value, b.mean_repeat_value);
  EXPECT_EQ(a.days_since_last, b.days_since_last);
  EXPECT_EQ(a.transactions, b.transactions);
  EXPECT_EQ(a.total_amount, b.total_amount);
}

TEST(RunningSummary, EqualsSummarizeOnRandomTimeOrderedLogs) {
  std::mt19937_64 rng(14);
  std::uniform_int_distribution<int64_t> gap(0, 40 * kHourUs);  // often the same day
  std::uniform_real_distribution<double> amount(0, 1000);       // never exact in binary
  for (int customer = 0; customer < 500; ++customer) {
    std::vector<Purchase> log;
    int64_t t = DateUs(19970101) + gap(rng);
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i, t += gap(rng)) {
      log.push_back({t, amount(rng)});
    }
    for (TimeUnit unit : {TimeUnit::kDay, TimeUnit::kWeek}) {
      const SummaryOptions options{t + 30 * 24 * kHourUs, unit};
      auto whole = Summarize(log, options);
      auto running = Fed(log).Finish(options);
      ASSERT_TRUE(whole && running) << customer;
      ExpectSame(*running, *whole);
    }
  }
}

TEST(RunningSummary, EqualsSummarizeOnEveryCdnowCustomer) {
  const auto purchases =
      testing::ReadCdnow(std::string(PORTRAIT_SOURCE_DIR) + "/examples/cdnow/CDNOW_sample.txt",
                         testing::CdnowFile::kSample);
  ASSERT_EQ(purchases.size(), 2357u);
  const SummaryOptions options{DateUs(19980630), TimeUnit::kWeek};
  for (auto [id, log] : purchases) {
    std::stable_sort(log.begin(), log.end(),
                     [](const Purchase& a, const Purchase& b) { return a.time_us < b.time_us; });
    auto whole = Summarize(log, options);
    auto running = Fed(log).Finish(options);
    ASSERT_TRUE(whole && running) << id;
    ExpectSame(*running, *whole);
  }
}

TEST(RunningSummary, APurchaseOnAnEarlierDayIsRefusedAndChangesNothing) {
  RunningSummary running = Fed({{DateUs(19970110), 5}, {DateUs(19970112), 7}});
  EXPECT_FALSE(running.Add({DateUs(19970111), 100}));
  EXPECT_TRUE(running.Add({DateUs(19970112) + kHourUs, 1}));  // same day, later: fine
  auto s = running.Finish({DateUs(19970120), TimeUnit::kDay});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->x, 1);
  EXPECT_EQ(s->mean_repeat_value, 8);
  EXPECT_EQ(s->total_amount, 13);
}

TEST(RunningSummary, HostileValuesRefuseTheCustomerAsSummarizeDoes) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  const double kInf = std::numeric_limits<double>::infinity();
  for (const Purchase bad : {Purchase{DateUs(19970101), kNaN}, Purchase{DateUs(19970101), kInf},
                             Purchase{DateUs(19970101), -1.5}, Purchase{-1, 1},
                             Purchase{std::numeric_limits<int64_t>::max(), 1}}) {
    RunningSummary running = Fed({{DateUs(19961231), 1}, bad});
    auto s = running.Finish({DateUs(19970301), TimeUnit::kWeek});
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), Status::Code::kInvalidArgument);
  }
  // Finite amounts whose sum is not.
  auto huge = Fed({{DateUs(19970101), 1e308}, {DateUs(19970102), 1e308}})
                  .Finish({DateUs(19970301), TimeUnit::kWeek});
  ASSERT_FALSE(huge.has_value());
  EXPECT_EQ(huge.error().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(RunningSummary().Finish({DateUs(19970301), TimeUnit::kWeek}).error().code(),
            Status::Code::kNotFound);
  EXPECT_EQ(Fed({{DateUs(19970101), 1}}).Finish({-5, TimeUnit::kWeek}).error().code(),
            Status::Code::kInvalidArgument);
}

TEST(RunningSummary, IsAFewDozenBytes) { EXPECT_LE(sizeof(RunningSummary), 40u); }

}  // namespace
}  // namespace portrait::analytics
