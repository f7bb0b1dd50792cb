#include "analytics/bgnbd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "analytics/simulation.h"
#include "analytics/special_functions.h"

namespace portrait::analytics {
namespace {

const BgNbdParams kCdnow{0.243, 4.414, 0.793, 2.426};

// Equation (6) of the paper, term by term in plain arithmetic (small x only).
double DirectLikelihood(const BgNbdParams& p, const BgNbdCustomer& c) {
  const double x = static_cast<double>(c.x);
  auto beta = [](double u, double v) {
    return std::tgamma(u) * std::tgamma(v) / std::tgamma(u + v);
  };
  const double common = std::tgamma(p.r + x) * std::pow(p.alpha, p.r) / std::tgamma(p.r);
  double l = beta(p.a, p.b + x) / beta(p.a, p.b) * common / std::pow(p.alpha + c.T, p.r + x);
  if (c.x > 0) {
    l += beta(p.a + 1, p.b + x - 1) / beta(p.a, p.b) * common / std::pow(p.alpha + c.t_x, p.r + x);
  }
  return l;
}

TEST(BgNbd, LogLikelihoodEqualsTheDirectFormula) {
  const std::vector<BgNbdCustomer> customers = {
      {0, 0, 38.86}, {2, 30.43, 38.86}, {1, 1.71, 38.86}, {7, 29.43, 32.0}, {0, 0, 0}};
  const BgNbdParams params{0.5, 3.0, 1.7, 2.2};
  double expected = 0;
  for (const auto& c : customers) expected += std::log(DirectLikelihood(params, c));
  auto ll = BgNbdLogLikelihood(params, customers);
  ASSERT_TRUE(ll.has_value()) << ll.error().ToString();
  EXPECT_NEAR(*ll, expected, 1e-9 * std::fabs(expected));
}

TEST(BgNbd, FitRecoversTheParametersOfSimulatedCustomers) {
  const BgNbdParams truth{0.6, 5.0, 0.9, 3.0};
  const auto simulated = Simulate(truth, {6, 4, 15}, {.customers = 40'000, .seed = 7});
  std::vector<BgNbdCustomer> customers;
  for (const auto& s : simulated) customers.push_back(s.purchases);
  auto fit = FitBgNbd(customers, {.threads = 2});
  ASSERT_TRUE(fit.has_value()) << fit.error().ToString();
  EXPECT_NEAR(fit->params.r, truth.r, 0.1 * truth.r);
  EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.15 * truth.alpha);
  EXPECT_NEAR(fit->params.a, truth.a, 0.2 * truth.a);
  EXPECT_NEAR(fit->params.b, truth.b, 0.25 * truth.b);
  // The optimum: the truth is no likelier.
  auto at_truth = BgNbdLogLikelihood(truth, customers);
  ASSERT_TRUE(at_truth.has_value());
  EXPECT_GE(fit->log_likelihood, *at_truth);
}

TEST(BgNbd, ProbabilityAlive) {
  EXPECT_EQ(*ProbabilityAlive(kCdnow, {0, 0, 38.86}), 1.0);
  // Equation (11), directly.
  const BgNbdCustomer c{2, 30.43, 38.86};
  const double direct =
      1 / (1 + kCdnow.a / (kCdnow.b + 1) *
                   std::pow((kCdnow.alpha + c.T) / (kCdnow.alpha + c.t_x), kCdnow.r + 2));
  EXPECT_NEAR(*ProbabilityAlive(kCdnow, c), direct, 1e-12);
  // Long silent after many purchases: as good as gone, and no overflow.
  auto gone = ProbabilityAlive(kCdnow, {5000, 1, 1000});
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(*gone, 0.0);
}

// Equation (10) as printed, its ₂F₁ summed straight (moderate z and x only).
double PrintedExpectation(const BgNbdParams& p, const BgNbdCustomer& c, double t) {
  const double x = static_cast<double>(c.x);
  const double z = t / (p.alpha + c.T + t);
  const double f = Hypergeometric2F1(p.r + x, p.b + x, p.a + p.b + x - 1, z).value();
  const double numerator = (p.a + p.b + x - 1) / (p.a - 1) *
                           (1 - std::pow((p.alpha + c.T) / (p.alpha + c.T + t), p.r + x) * f);
  const double odds =
      c.x > 0 ? p.a / (p.b + x - 1) * std::pow((p.alpha + c.T) / (p.alpha + c.t_x), p.r + x) : 0;
  return numerator / (1 + odds);
}

TEST(BgNbd, ExpectedPurchasesEqualsThePrintedFormula) {
  for (const BgNbdCustomer& c :
       {BgNbdCustomer{0, 0, 38.86}, BgNbdCustomer{2, 30.43, 38.86}, BgNbdCustomer{12, 36, 38}}) {
    for (double t : {1.0, 10.0, 39.0}) {
      auto e = ExpectedPurchases(kCdnow, c, t);
      ASSERT_TRUE(e.has_value()) << e.error().ToString();
      EXPECT_NEAR(*e, PrintedExpectation(kCdnow, c, t), 1e-8) << c.x << " " << t;
    }
  }
}

// Reference values: the printed equation (10) in 50-digit arithmetic (Python's mpmath, hyp2f1).
TEST(BgNbd, ExpectedPurchasesMatchesHighPrecisionWhereThePrintedFormOverflows) {
  // x = 3000 and a long horizon: (1−z)^(r+x) underflows and ₂F₁(r+x, b+x; …) overflows in
  // doubles.
  auto heavy = ExpectedPurchases(kCdnow, {3000, 99.99, 100}, 500);
  ASSERT_TRUE(heavy.has_value()) << heavy.error().ToString();
  EXPECT_NEAR(*heavy, 6352.46144996203, 1e-6);
  // A horizon 130 times the customer's age: z = 0.9915, the series' slowest case.
  auto one_timer = ExpectedPurchases(kCdnow, {0, 0, 38.86}, 5000);
  ASSERT_TRUE(one_timer.has_value()) << one_timer.error().ToString();
  EXPECT_NEAR(*one_timer, 4.93156390085182, 1e-9);
  EXPECT_NEAR(*ExpectedPurchases(kCdnow, {2, 30.43, 38.86}, 39), 1.22602817476714, 1e-11);
  // The longest horizon allowed: z = 1 − 4·10⁻⁴.
  EXPECT_NEAR(*ExpectedPurchases(kCdnow, {0, 0, 38.86}, 100'000), 15.16358739759, 1e-8);
  EXPECT_NEAR(*ExpectedPurchases(kCdnow, {2, 30.43, 38.86}, 100'000), 48.616844073589, 1e-8);
}

TEST(BgNbd, ExpectedPurchasesGrowsWithTheHorizonAndIsContinuousAtAEqualsOne) {
  EXPECT_EQ(*ExpectedPurchases(kCdnow, {2, 30.43, 38.86}, 0), 0.0);
  double previous = 0;
  for (double t : {1.0, 5.0, 39.0, 200.0, 5000.0, 100'000.0}) {
    auto e = ExpectedPurchases(kCdnow, {2, 30.43, 38.86}, t);
    ASSERT_TRUE(e.has_value()) << e.error().ToString();
    EXPECT_GT(*e, previous);
    previous = *e;
  }
  BgNbdParams one = kCdnow, below = kCdnow, above = kCdnow;
  one.a = 1;
  below.a = 1 - 1e-3;
  above.a = 1 + 1e-3;
  const BgNbdCustomer c{3, 20, 38};
  const double at_one = *ExpectedPurchases(one, c, 39);
  EXPECT_TRUE(std::isfinite(at_one));
  EXPECT_NEAR(at_one, (*ExpectedPurchases(below, c, 39) + *ExpectedPurchases(above, c, 39)) / 2,
              1e-4);
}

TEST(BgNbd, BadInputIsAnErrorNeverAThrow) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(FitBgNbd({}).has_value());
  const std::vector<BgNbdCustomer> no_repeat = {{0, 0, 10}, {0, 0, 20}, {0, 0, 0}};
  auto fit = FitBgNbd(no_repeat);
  ASSERT_FALSE(fit.has_value());
  EXPECT_EQ(fit.error().code(), Status::Code::kInvalidArgument);
  for (const BgNbdCustomer bad :
       {BgNbdCustomer{1, kNaN, 10}, BgNbdCustomer{1, 5, kNaN}, BgNbdCustomer{1, 11, 10},
        BgNbdCustomer{-1, 0, 10}, BgNbdCustomer{1, -1, 10}, BgNbdCustomer{2'000'000'000, 5, 10}}) {
    const std::vector<BgNbdCustomer> customers = {{1, 2, 10}, bad};
    auto r = FitBgNbd(customers);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("customer 1"), std::string::npos) << r.error().message();
    EXPECT_FALSE(BgNbdLogLikelihood(kCdnow, customers).has_value());
    EXPECT_FALSE(ProbabilityAlive(kCdnow, bad).has_value());
    EXPECT_FALSE(ExpectedPurchases(kCdnow, bad, 10).has_value());
  }
  const std::vector<BgNbdCustomer> fine = {{1, 2, 10}, {0, 0, 5}};
  EXPECT_FALSE(FitBgNbd(fine, {.threads = 0}).has_value());
  for (const BgNbdParams bad :
       {BgNbdParams{0, 1, 1, 1}, BgNbdParams{1, -1, 1, 1}, BgNbdParams{1, 1, kNaN, 1},
        BgNbdParams{1, 1, 1, std::numeric_limits<double>::infinity()}}) {
    EXPECT_FALSE(BgNbdLogLikelihood(bad, fine).has_value());
    EXPECT_FALSE(ProbabilityAlive(bad, fine[0]).has_value());
    EXPECT_FALSE(ExpectedPurchases(bad, fine[0], 10).has_value());
  }
  EXPECT_FALSE(ExpectedPurchases(kCdnow, fine[0], -1).has_value());
  EXPECT_FALSE(ExpectedPurchases(kCdnow, fine[0], 100'001).has_value());
  EXPECT_TRUE(ExpectedPurchases(kCdnow, fine[0], 100'000).has_value());
  EXPECT_FALSE(ExpectedPurchases(kCdnow, fine[0], kNaN).has_value());
  EXPECT_FALSE(
      ExpectedPurchases(kCdnow, fine[0], std::numeric_limits<double>::infinity()).has_value());
}

TEST(BgNbd, DegenerateDataEndsInAnErrorOrAFiniteFit) {
  const std::vector<std::vector<BgNbdCustomer>> cases = {
      {{1, 10, 10}, {1, 10, 10}, {1, 10, 10}},  // nobody ever silent: no drop-out seen
      {{5, 1, 1}, {0, 0, 0}},                   // five purchases in no time
      {{1, 0, 0}},                              // a repeat at time 0
      {{1, 1e-300, 1e300}, {0, 0, 1e300}},      // absurd scales
      {{1'000'000'000, 1, 2}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto fit = FitBgNbd(cases[i]);
    if (fit.has_value()) {
      EXPECT_TRUE(std::isfinite(fit->log_likelihood)) << i;
      for (double v : {fit->params.r, fit->params.alpha, fit->params.a, fit->params.b}) {
        EXPECT_TRUE(std::isfinite(v) && v > 0) << i;
      }
    } else {
      EXPECT_EQ(fit.error().code(), Status::Code::kInternal) << i << fit.error().ToString();
    }
  }
}

// Everyone bought exactly twice, at random moments of the last year: nothing tells a slow buyer
// from one who left, and the likelihood's supremum lies at a bound (where NLopt used to stop
// with a bare "NLopt result -1").
TEST(BgNbd, HistoriesTooAlikeNameTheParameterTheyDoNotIdentify) {
  std::vector<BgNbdCustomer> alike;
  uint64_t state = 20261201;
  auto uniform = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (int i = 0; i < 2000; ++i) {
    const double first = 52 * uniform(), second = 52 * uniform();
    const double T = std::max(first, second);
    alike.push_back({1, std::fabs(first - second), T});
  }
  auto fit = FitBgNbd(alike);
  ASSERT_FALSE(fit.has_value());
  EXPECT_EQ(fit.error().code(), Status::Code::kInternal);
  EXPECT_NE(fit.error().message().find("do not identify"), std::string::npos)
      << fit.error().ToString();
}

}  // namespace
}  // namespace portrait::analytics
