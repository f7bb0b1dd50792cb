#include "analytics/bgnbd.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "analytics/bgnbd_likelihood.h"
#include "analytics/optimiser.h"
#include "analytics/special_functions.h"

namespace portrait::analytics {
namespace {

// Beyond it ₂F₁'s argument is so near 1 that the series needs millions of terms and Boost's
// truncation is no longer exact (0.05% off at 10⁸ weeks); 100,000 weeks is 1,900 years.
constexpr double kMaxHorizon = 100'000;

bool Positive(double v) { return std::isfinite(v) && v > 0; }

Status CheckParams(const BgNbdParams& p) {
  if (!Positive(p.r) || !Positive(p.alpha) || !Positive(p.a) || !Positive(p.b)) {
    return Status::InvalidArgument("BG/NBD parameters: r, alpha, a and b must be finite and > 0");
  }
  return Status::Ok();
}

// ln of the second term's weight against the first in the likelihood and in P(alive):
// ln[a/(b+x−1)] + (r+x) ln[(α+T)/(α+t_x)], for x > 0.
double LogDeathOdds(const BgNbdParams& p, const BgNbdCustomer& c) {
  const double x = static_cast<double>(c.x);
  return std::log(p.a) - std::log(p.b + x - 1) +
         (p.r + x) * (std::log(p.alpha + c.T) - std::log(p.alpha + c.t_x));
}

// Equation (10) for a ≠ 1.
Result<double> Expected(const BgNbdParams& p, const BgNbdCustomer& c, double t) {
  const double x = static_cast<double>(c.x);
  const double z = t / (p.alpha + c.T + t);
  PORTRAIT_ASSIGN_OR_RETURN(double f,
                            Hypergeometric2F1(p.a + p.b - 1 - p.r, p.a - 1, p.a + p.b + x - 1, z));
  const double tail = std::exp((p.a - 1) * std::log1p(-z)) * f;
  const double numerator = (p.a + p.b + x - 1) / (p.a - 1) * (1 - tail);
  const double denominator = c.x > 0 ? 1 + std::exp(LogDeathOdds(p, c)) : 1;
  const double e = numerator / denominator;
  if (!std::isfinite(e)) return Error(Status::Internal("expected purchases: not finite"));
  return std::max(0.0, e);
}

}  // namespace

Result<double> BgNbdLogLikelihood(const BgNbdParams& params,
                                  std::span<const BgNbdCustomer> customers) {
  PORTRAIT_RETURN_IF_ERROR(CheckParams(params));
  PORTRAIT_ASSIGN_OR_RETURN(BgNbdLikelihood data, BgNbdLikelihood::Prepare(customers));
  std::array<double, 4> gradient{};
  const double ll = data.Evaluate(params, gradient, 1);
  if (!std::isfinite(ll)) return Error(Status::Internal("BG/NBD log-likelihood: not finite"));
  return ll;
}

Result<BgNbdFit> FitBgNbd(std::span<const BgNbdCustomer> customers,
                          const BgNbdFitOptions& options) {
  if (options.threads < 1 || options.threads > 64) {
    return Error(Status::InvalidArgument("threads: outside 1..64"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(BgNbdLikelihood data, BgNbdLikelihood::Prepare(customers));
  if (!data.any_repeat()) {
    return Error(Status::InvalidArgument("no customer made a repeat purchase: nothing to fit"));
  }
  LogLikelihoodFn fn = [&](std::span<const double> v, std::span<double> gradient) {
    std::array<double, 4> g{};
    const double ll = data.Evaluate({v[0], v[1], v[2], v[3]}, g, options.threads);
    std::copy(g.begin(), g.end(), gradient.begin());
    return ll;
  };
  static constexpr const char* kNames[] = {"r", "alpha", "a", "b"};
  const double start[] = {1, 1, 1, 1};
  PORTRAIT_ASSIGN_OR_RETURN(
      MaximumLikelihood ml,
      MaximiseLikelihood("BG/NBD", kNames, start, static_cast<double>(data.customers()), fn));
  const BgNbdParams params{ml.params[0], ml.params[1], ml.params[2], ml.params[3]};
  return BgNbdFit{params, ml.log_likelihood, data.customers(), ml.evaluations};
}

Result<double> ProbabilityAlive(const BgNbdParams& params, const BgNbdCustomer& customer) {
  PORTRAIT_RETURN_IF_ERROR(CheckParams(params));
  PORTRAIT_RETURN_IF_ERROR(CheckBgNbdCustomer(customer));
  if (customer.x == 0) return 1.0;
  return 1 / (1 + std::exp(LogDeathOdds(params, customer)));
}

Result<double> ExpectedPurchases(const BgNbdParams& params, const BgNbdCustomer& customer,
                                 double horizon) {
  PORTRAIT_RETURN_IF_ERROR(CheckParams(params));
  PORTRAIT_RETURN_IF_ERROR(CheckBgNbdCustomer(customer));
  if (!(horizon >= 0 && horizon <= kMaxHorizon)) {
    return Error(Status::InvalidArgument("horizon: outside 0..100,000 units"));
  }
  if (horizon == 0) return 0.0;
  // At a = 1 the formula is 0/0; its limit is the mean of two points either side.
  constexpr double kNearOne = 1e-6;
  if (std::fabs(params.a - 1) >= kNearOne) return Expected(params, customer, horizon);
  BgNbdParams below = params, above = params;
  below.a = 1 - kNearOne;
  above.a = 1 + kNearOne;
  PORTRAIT_ASSIGN_OR_RETURN(double low, Expected(below, customer, horizon));
  PORTRAIT_ASSIGN_OR_RETURN(double high, Expected(above, customer, horizon));
  return (low + high) / 2;
}

}  // namespace portrait::analytics
