#include "analytics/purchases.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/analytics/cdnow_data.h"

namespace portrait::analytics {
namespace {

using testing::DateUs;

constexpr int64_t kHourUs = 3'600'000'000;

TEST(Summarize, SameUtcDayIsOneTransactionWithAmountsSummed) {
  const std::vector<Purchase> purchases = {
      {DateUs(19970101) + 1 * kHourUs, 10},
      {DateUs(19970101) + 23 * kHourUs, 5},  // same UTC day
      {DateUs(19970108), 20},
      {DateUs(19970115) + 2 * kHourUs, 30},
      {DateUs(19970115) + 3 * kHourUs, 12},
  };
  auto s = Summarize(purchases, {DateUs(19970129), TimeUnit::kWeek});
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->x, 2);
  EXPECT_DOUBLE_EQ(s->t_x, 2.0);                            // 14 days
  EXPECT_DOUBLE_EQ(s->T, 4.0);                              // 28 days
  EXPECT_DOUBLE_EQ(s->mean_repeat_value, (20 + 42) / 2.0);  // the first day excluded
  EXPECT_EQ(s->transactions, 3);
  EXPECT_DOUBLE_EQ(s->total_amount, 77);
  EXPECT_EQ(s->days_since_last, 14);
}

TEST(Summarize, DaysAsUnitAndOrderDoesNotMatter) {
  const std::vector<Purchase> purchases = {{DateUs(19970110), 1}, {DateUs(19970101), 2}};
  auto s = Summarize(purchases, {DateUs(19970111), TimeUnit::kDay});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->x, 1);
  EXPECT_DOUBLE_EQ(s->t_x, 9);
  EXPECT_DOUBLE_EQ(s->T, 10);
  EXPECT_DOUBLE_EQ(s->mean_repeat_value, 1);
}

TEST(Summarize, PurchasesAfterUntilAreLeftOutAndUntilIsInclusive) {
  const std::vector<Purchase> purchases = {
      {DateUs(19970101), 1}, {DateUs(19970201), 2}, {DateUs(19970201) + 1, 4}};
  auto s = Summarize(purchases, {DateUs(19970201), TimeUnit::kDay});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->x, 1);
  EXPECT_DOUBLE_EQ(s->mean_repeat_value, 2);
  EXPECT_EQ(s->days_since_last, 0);
}

TEST(Summarize, OneTransactionHasNoRepeatValue) {
  const std::vector<Purchase> purchases = {{DateUs(19970101), 7}, {DateUs(19970101) + 5, 3}};
  auto s = Summarize(purchases, {DateUs(19970301), TimeUnit::kWeek});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->x, 0);
  EXPECT_DOUBLE_EQ(s->t_x, 0);
  EXPECT_DOUBLE_EQ(s->mean_repeat_value, 0);
  EXPECT_DOUBLE_EQ(s->total_amount, 10);
}

TEST(Summarize, NoPurchaseInThePeriodIsNotFound) {
  const std::vector<Purchase> later = {{DateUs(19980101), 1}};
  auto s = Summarize(later, {DateUs(19970101), TimeUnit::kWeek});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), Status::Code::kNotFound);
  EXPECT_FALSE(Summarize({}, {DateUs(19970101), TimeUnit::kWeek}).has_value());
}

TEST(Summarize, HostileValuesAreErrorsNamingThePurchaseNotItsValue) {
  const int64_t until = DateUs(19970301);
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  const double kInf = std::numeric_limits<double>::infinity();
  for (const Purchase bad : {Purchase{DateUs(19970101), kNaN}, Purchase{DateUs(19970101), kInf},
                             Purchase{DateUs(19970101), -1.5}, Purchase{-1, 1},
                             Purchase{std::numeric_limits<int64_t>::max(), 1},
                             Purchase{std::numeric_limits<int64_t>::min(), 1}}) {
    const std::vector<Purchase> purchases = {{DateUs(19970101), 1}, bad};
    auto s = Summarize(purchases, {until, TimeUnit::kWeek});
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.error().message().find("purchase 1"), std::string::npos) << s.error().message();
    EXPECT_EQ(s.error().message().find("1.5"), std::string::npos);
  }
  // Each amount finite, their sum not.
  const double kMax = std::numeric_limits<double>::max();
  const std::vector<Purchase> huge = {{DateUs(19970101), kMax}, {DateUs(19970102), kMax}};
  auto overflow = Summarize(huge, {until, TimeUnit::kWeek});
  ASSERT_FALSE(overflow.has_value());
  EXPECT_EQ(overflow.error().code(), Status::Code::kInvalidArgument);
  const std::vector<Purchase> one = {{DateUs(19970101), 1}};
  EXPECT_FALSE(Summarize(one, {-5, TimeUnit::kWeek}).has_value());
  EXPECT_FALSE(Summarize(one, {std::numeric_limits<int64_t>::max(), TimeUnit::kWeek}).has_value());
}

}  // namespace
}  // namespace portrait::analytics
