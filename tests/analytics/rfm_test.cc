#include "analytics/rfm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "analytics/purchases.h"
#include "tests/analytics/cdnow_data.h"

namespace portrait::analytics {
namespace {

TEST(Rfm, TenCustomersByHand) {
  // Recency 1..10 days, frequency 10..1, monetary 10, 20, …, 100.
  std::vector<RfmInput> customers;
  for (int i = 0; i < 10; ++i) customers.push_back({i + 1, 10 - i, 10.0 * (i + 1)});
  auto rfm = ComputeRfm(customers);
  ASSERT_TRUE(rfm.has_value()) << rfm.error().ToString();
  // Boundaries at ranks ⌈2⌉, ⌈4⌉, ⌈6⌉, ⌈8⌉ (1-based): the 2nd, 4th, 6th and 8th values.
  EXPECT_EQ(rfm->model.recency, (std::array<double, 4>{2, 4, 6, 8}));
  EXPECT_EQ(rfm->model.frequency, (std::array<double, 4>{2, 4, 6, 8}));
  EXPECT_EQ(rfm->model.monetary, (std::array<double, 4>{20, 40, 60, 80}));
  const int r[] = {5, 5, 4, 4, 3, 3, 2, 2, 1, 1};
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(rfm->scores[i].r, r[i]) << i;
    EXPECT_EQ(rfm->scores[i].f, r[i]) << i;      // frequency falls as recency grows
    EXPECT_EQ(rfm->scores[i].m, 6 - r[i]) << i;  // monetary rises
  }
  EXPECT_DOUBLE_EQ(rfm->model.mean_r, 3);
  // Customer 0: R 5, F 5, M 1 → general value; customer 9: R 1, F 1, M 5 → important win-back;
  // customers 4 and 5 score exactly the mean 3 in R and F: low.
  EXPECT_EQ(rfm->scores[0].group, RfmGroup::kGeneralValue);
  EXPECT_EQ(rfm->scores[9].group, RfmGroup::kImportantWinback);
  EXPECT_EQ(rfm->scores[4].group, RfmGroup::kGeneralWinback);
  EXPECT_EQ(rfm->group_counts[static_cast<size_t>(RfmGroup::kGeneralValue)], 4);
  EXPECT_EQ(rfm->group_counts[static_cast<size_t>(RfmGroup::kImportantWinback)], 4);
}

TEST(Rfm, TiesAtABoundaryShareTheLowerScore) {
  // Seven one-time buyers and three repeat buyers: every 1 is at or below the first three
  // boundaries, so all ones score 1 and scores 2 and 3 stay empty.
  std::vector<RfmInput> customers;
  for (int i = 0; i < 10; ++i) customers.push_back({5, i < 7 ? 1 : i - 5, 10});
  auto rfm = ComputeRfm(customers);
  ASSERT_TRUE(rfm.has_value());
  EXPECT_EQ(rfm->model.frequency, (std::array<double, 4>{1, 1, 1, 2}));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(rfm->scores[i].f, 1);
  EXPECT_EQ(rfm->scores[7].f, 4);  // 2: above three boundaries, at the fourth
  EXPECT_EQ(rfm->scores[8].f, 5);
  // Everyone equal in recency and monetary: all recent (5) and all lowest spend (1).
  for (const RfmScore& s : rfm->scores) {
    EXPECT_EQ(s.r, 5);
    EXPECT_EQ(s.m, 1);
  }
}

TEST(Rfm, NamesAndScoreAgainstAModel) {
  EXPECT_EQ(RfmGroupName(RfmGroup::kImportantValue), "important_value");
  EXPECT_EQ(RfmGroupName(RfmGroup::kImportantDevelopment), "important_development");
  EXPECT_EQ(RfmGroupName(RfmGroup::kImportantRetention), "important_retention");
  EXPECT_EQ(RfmGroupName(RfmGroup::kGeneralWinback), "general_winback");
  EXPECT_EQ(GroupOf(true, false, true), RfmGroup::kImportantDevelopment);
  EXPECT_EQ(GroupOf(false, true, false), RfmGroup::kGeneralRetention);
  std::vector<RfmInput> customers;
  for (int i = 0; i < 100; ++i) customers.push_back({i, 1 + i % 7, 3.0 * i});
  auto rfm = ComputeRfm(customers);
  ASSERT_TRUE(rfm.has_value());
  for (size_t i = 0; i < customers.size(); ++i) {
    auto s = ScoreRfm(rfm->model, customers[i]);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->r, rfm->scores[i].r);
    EXPECT_EQ(s->group, rfm->scores[i].group);
  }
}

TEST(Rfm, BadInputIsAnErrorNamingTheCustomer) {
  EXPECT_FALSE(ComputeRfm({}).has_value());
  for (const RfmInput bad : {RfmInput{-1, 1, 1}, RfmInput{1, 0, 1}, RfmInput{1, 1, -1},
                             RfmInput{1, 1, std::numeric_limits<double>::quiet_NaN()},
                             RfmInput{1, 1, std::numeric_limits<double>::infinity()}}) {
    const std::vector<RfmInput> customers = {{1, 1, 1}, bad};
    auto rfm = ComputeRfm(customers);
    ASSERT_FALSE(rfm.has_value());
    EXPECT_NE(rfm.error().message().find("customer 1"), std::string::npos);
    EXPECT_FALSE(ScoreRfm({}, bad).has_value());
  }
}

// An independent computation: boundaries by a full sort and the 20/40/60/80th nearest ranks in
// floating point; a score from the share of customers strictly below the value
// (value > v[⌈kn/5⌉−1]  ⟺  5·#{below} ≥ k·n); groups by an if-chain over names.
struct Independent {
  std::array<double, 4> boundaries{};
  std::vector<int> scores;
};

Independent Quintiles(std::vector<double> values, bool lower_is_better) {
  Independent out;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const double n = static_cast<double>(sorted.size());
  for (int k = 1; k <= 4; ++k) {
    out.boundaries[k - 1] = sorted[static_cast<size_t>(std::ceil(k * n / 5 - 1e-9)) - 1];
  }
  for (double v : values) {
    const auto below = std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin();
    const int exceeded =
        std::min<int>(4, static_cast<int>(5 * static_cast<size_t>(below) / sorted.size()));
    out.scores.push_back(lower_is_better ? 5 - exceeded : 1 + exceeded);
  }
  return out;
}

std::string GroupName(bool r, bool f, bool m) {
  if (m) {
    if (r && f) return "important_value";
    if (r) return "important_development";
    return f ? "important_retention" : "important_winback";
  }
  if (r && f) return "general_value";
  if (r) return "general_development";
  return f ? "general_retention" : "general_winback";
}

TEST(Rfm, CdnowMasterEqualsAnIndependentComputation) {
  const auto purchases =
      testing::ReadCdnow(std::string(PORTRAIT_SOURCE_DIR) + "/examples/cdnow/CDNOW_master.txt",
                         testing::CdnowFile::kMaster);
  ASSERT_EQ(purchases.size(), 23570u);
  std::vector<RfmInput> customers;
  std::vector<double> recency, frequency, monetary;
  for (const auto& [id, list] : purchases) {
    auto s = Summarize(list, {testing::DateUs(19980630), TimeUnit::kDay});
    ASSERT_TRUE(s.has_value());
    customers.push_back({s->days_since_last, s->transactions, s->total_amount});
    recency.push_back(static_cast<double>(s->days_since_last));
    frequency.push_back(static_cast<double>(s->transactions));
    monetary.push_back(s->total_amount);
  }
  auto rfm = ComputeRfm(customers);
  ASSERT_TRUE(rfm.has_value()) << rfm.error().ToString();
  const Independent r = Quintiles(recency, true), f = Quintiles(frequency, false),
                    m = Quintiles(monetary, false);
  EXPECT_EQ(rfm->model.recency, r.boundaries);
  EXPECT_EQ(rfm->model.frequency, f.boundaries);
  EXPECT_EQ(rfm->model.monetary, m.boundaries);
  double mr = 0, mf = 0, mm = 0;
  for (size_t i = 0; i < customers.size(); ++i) {
    mr += r.scores[i], mf += f.scores[i], mm += m.scores[i];
  }
  const double n = static_cast<double>(customers.size());
  std::map<std::string, int64_t> counts;
  for (size_t i = 0; i < customers.size(); ++i) {
    ASSERT_EQ(rfm->scores[i].r, r.scores[i]) << i;
    ASSERT_EQ(rfm->scores[i].f, f.scores[i]) << i;
    ASSERT_EQ(rfm->scores[i].m, m.scores[i]) << i;
    ++counts[GroupName(r.scores[i] > mr / n, f.scores[i] > mf / n, m.scores[i] > mm / n)];
  }
  int64_t total = 0;
  for (size_t g = 0; g < kRfmGroups; ++g) {
    const std::string name(RfmGroupName(static_cast<RfmGroup>(g)));
    EXPECT_EQ(rfm->group_counts[g], counts[name]) << name;
    total += rfm->group_counts[g];
  }
  EXPECT_EQ(total, 23570);
  EXPECT_GT(counts.size(), 4u);  // the data spread over most groups
}

}  // namespace
}  // namespace portrait::analytics
