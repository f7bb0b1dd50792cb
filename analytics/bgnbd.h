// BG/NBD: the beta-geometric/negative-binomial model of repeat buying (Fader, Hardie and Lee
// 2005, "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model").
//
// While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop
// out with probability p ~ Beta(a, b). A customer is summarised by x (repeat transactions),
// t_x (time of the last since the first) and T (time from the first to the end of the
// calibration period), all in one time unit (analytics/purchases.h computes them). The
// parameters are in that unit too: α scales with it, r, a and b do not.
//
// Pure functions, thread-safe; a fit may use `threads` threads of its own, joined before it
// returns. Errors are Status values (never a throw): InvalidArgument names the customer by its
// index and the field, never a value.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace portrait::analytics {

struct BgNbdParams {
  double r = 0, alpha = 0, a = 0, b = 0;
};

struct BgNbdCustomer {
  int64_t x = 0;   // repeat transactions, 0 ≤ x ≤ 10⁹
  double t_x = 0;  // 0 ≤ t_x ≤ T
  double T = 0;    // finite
};

struct BgNbdFit {
  BgNbdParams params;
  double log_likelihood = 0;
  int64_t customers = 0;
  int evaluations = 0;  // of the likelihood and its gradient
};

struct BgNbdFitOptions {
  int threads = 1;  // 1..64 threads share each evaluation of the likelihood
};

// The log-likelihood of `customers` under `params` (each > 0 and finite).
Result<double> BgNbdLogLikelihood(const BgNbdParams& params,
                                  std::span<const BgNbdCustomer> customers);

// Maximum-likelihood r, α, a, b (L-BFGS over their logarithms with the analytic gradient).
// InvalidArgument when there are no customers, a customer is malformed, or none bought twice
// (nothing then identifies the drop-out process); Internal when the fit does not converge.
Result<BgNbdFit> FitBgNbd(std::span<const BgNbdCustomer> customers,
                          const BgNbdFitOptions& options = {});

// P(alive | x, t_x, T): 1 for x = 0 (the model lets a customer drop out only after a purchase).
Result<double> ProbabilityAlive(const BgNbdParams& params, const BgNbdCustomer& customer);

// E[Y(t) | x, t_x, T]: the expected purchases in the `horizon` (0..100,000, same unit) after T,
// equation (10) of the paper, with its ₂F₁ taken in the Euler-transformed form
// (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose terms stay bounded for any x.
// Internal when the series fails (analytics/special_functions.h).
Result<double> ExpectedPurchases(const BgNbdParams& params, const BgNbdCustomer& customer,
                                 double horizon);

}  // namespace portrait::analytics
