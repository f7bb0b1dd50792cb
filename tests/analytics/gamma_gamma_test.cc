#include "analytics/gamma_gamma.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "analytics/lifetime_value.h"
#include "analytics/simulation.h"

namespace portrait::analytics {
namespace {

const GammaGammaParams kCdnowSpend{6.25, 3.74, 15.44};

TEST(GammaGamma, LogLikelihoodEqualsTheDirectDensity) {
  const std::vector<GammaGammaCustomer> customers = {{1, 20}, {3, 35.5}, {0, 0}, {10, 12}};
  const GammaGammaParams p{2.0, 3.0, 10.0};
  double expected = 0;
  for (const auto& c : customers) {
    if (c.x == 0) continue;
    const double x = static_cast<double>(c.x), m = c.mean_value;
    expected += std::log(std::tgamma(p.p * x + p.q) / (std::tgamma(p.p * x) * std::tgamma(p.q)) *
                         std::pow(p.gamma, p.q) * std::pow(m, p.p * x - 1) * std::pow(x, p.p * x) /
                         std::pow(p.gamma + m * x, p.p * x + p.q));
  }
  auto ll = GammaGammaLogLikelihood(p, customers);
  ASSERT_TRUE(ll.has_value()) << ll.error().ToString();
  EXPECT_NEAR(*ll, expected, 1e-9 * std::fabs(expected));
}

TEST(GammaGamma, FitRecoversTheParametersOfSimulatedCustomers) {
  const GammaGammaParams truth{4, 5, 20};
  const auto simulated = Simulate({1.5, 4, 0.8, 2.5}, truth, {.customers = 30'000, .seed = 3});
  std::vector<GammaGammaCustomer> customers;
  for (const auto& s : simulated) customers.push_back({s.purchases.x, s.mean_repeat_value});
  auto fit = FitGammaGamma(customers);
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_NEAR(fit->params.p, truth.p, 0.1 * truth.p);
  EXPECT_NEAR(fit->params.q, truth.q, 0.2 * truth.q);
  EXPECT_NEAR(fit->params.gamma, truth.gamma, 0.25 * truth.gamma);
  EXPECT_LT(fit->customers, 30'000);  // only repeat buyers
}

TEST(GammaGamma, ExpectedValueIsBetweenThePopulationMeanAndTheCustomersOwn) {
  const double population = kCdnowSpend.gamma * kCdnowSpend.p / (kCdnowSpend.q - 1);
  EXPECT_NEAR(*ExpectedTransactionValue(kCdnowSpend, {0, 0}), population, 1e-12);
  for (double own : {5.0, 100.0}) {
    const double e = *ExpectedTransactionValue(kCdnowSpend, {4, own});
    EXPECT_GT(e, std::min(own, population));
    EXPECT_LT(e, std::max(own, population));
    // More transactions: closer to the customer's own mean.
    const double e40 = *ExpectedTransactionValue(kCdnowSpend, {40, own});
    EXPECT_LT(std::fabs(e40 - own), std::fabs(e - own));
  }
  EXPECT_FALSE(ExpectedTransactionValue({1, 0.5, 10}, {0, 0}).has_value());  // q ≤ 1: no mean
}

TEST(GammaGamma, BadInputIsAnErrorNeverAThrow) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(FitGammaGamma({}).has_value());
  const std::vector<GammaGammaCustomer> one_timers = {{0, 0}, {0, 0}};
  EXPECT_FALSE(FitGammaGamma(one_timers).has_value());
  for (const GammaGammaCustomer bad :
       {GammaGammaCustomer{1, kNaN}, GammaGammaCustomer{1, 0}, GammaGammaCustomer{1, -3},
        GammaGammaCustomer{-1, 3},
        GammaGammaCustomer{1, std::numeric_limits<double>::infinity()}}) {
    const std::vector<GammaGammaCustomer> customers = {{2, 10}, bad};
    auto fit = FitGammaGamma(customers);
    ASSERT_FALSE(fit.has_value());
    EXPECT_NE(fit.error().message().find("customer 1"), std::string::npos);
    EXPECT_FALSE(ExpectedTransactionValue(kCdnowSpend, bad).has_value());
  }
  EXPECT_FALSE(GammaGammaLogLikelihood({0, 1, 1}, {{{2, 10}}}).has_value());
}

TEST(GammaGamma, DegenerateDataEndsInAnErrorOrAFiniteFit) {
  const std::vector<std::vector<GammaGammaCustomer>> cases = {
      {{1, 10}, {1, 10}, {1, 10}},  // every customer spends the same
      {{1, 1e-300}, {2, 1e300}},    // absurd scales
      {{1'000'000'000, 5}, {1, 5}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto fit = FitGammaGamma(cases[i]);
    if (fit.has_value()) {
      EXPECT_TRUE(std::isfinite(fit->log_likelihood)) << i;
      for (double v : {fit->params.p, fit->params.q, fit->params.gamma}) {
        EXPECT_TRUE(std::isfinite(v) && v > 0) << i;
      }
    } else {
      EXPECT_EQ(fit.error().code(), Status::Code::kInternal) << i << fit.error().ToString();
    }
  }
}

TEST(LifetimeValue, DiscountedExpectedPurchasesTimesExpectedValue) {
  const BgNbdParams purchases{0.243, 4.414, 0.793, 2.426};
  CustomerSummary c;
  c.x = 2;
  c.t_x = 30.43;
  c.T = 38.86;
  c.mean_repeat_value = 40;
  const double value = *ExpectedTransactionValue(kCdnowSpend, {2, 40});
  // No discount, one step: E[M] · E[Y(52)].
  auto flat = CustomerLifetimeValue(purchases, kCdnowSpend, c,
                                    {.horizon = 52, .step = 52, .yearly_discount = 0});
  ASSERT_TRUE(flat.has_value()) << flat.error().ToString();
  EXPECT_NEAR(*flat, value * *ExpectedPurchases(purchases, {2, 30.43, 38.86}, 52), 1e-9);
  // Four quarterly steps at 10% a year, by hand.
  double by_hand = 0, previous = 0;
  for (int k = 1; k <= 4; ++k) {
    const double e = *ExpectedPurchases(purchases, {2, 30.43, 38.86}, 13.0 * k);
    by_hand += (e - previous) / std::pow(1.1, 13.0 * k / (365.25 / 7));
    previous = e;
  }
  auto quarterly = CustomerLifetimeValue(purchases, kCdnowSpend, c,
                                         {.horizon = 52, .step = 13, .yearly_discount = 0.1});
  ASSERT_TRUE(quarterly.has_value());
  EXPECT_NEAR(*quarterly, value * by_hand, 1e-9);
  EXPECT_LT(*quarterly, *flat);
  for (const LifetimeValueOptions bad :
       {LifetimeValueOptions{.horizon = 0}, LifetimeValueOptions{.step = 0},
        LifetimeValueOptions{.horizon = 1e9, .step = 1},
        LifetimeValueOptions{.horizon = 2000, .step = 1},        // 2,000 steps
        LifetimeValueOptions{.horizon = 200'000, .step = 1000},  // beyond the longest horizon
        LifetimeValueOptions{.yearly_discount = -0.5},
        LifetimeValueOptions{.horizon = std::numeric_limits<double>::quiet_NaN()}}) {
    EXPECT_FALSE(CustomerLifetimeValue(purchases, kCdnowSpend, c, bad).has_value());
  }
}

}  // namespace
}  // namespace portrait::analytics
