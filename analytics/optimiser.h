// Maximum likelihood over positive parameters, with NLopt's L-BFGS (docs/DECISIONS.md 91).
//
// The optimiser works on θ = ln(parameter), so every parameter stays positive, and on the mean
// negative log-likelihood per customer, so the tolerances mean the same for 100 customers or a
// million. The caller's objective returns the total log-likelihood and its gradient with
// respect to the parameters themselves (not θ), or NaN when it cannot be evaluated.
//
// Thread-compatible: one call owns its NLopt object.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace portrait::analytics {

// Fills `gradient` (same size as `params`) with ∂LL/∂param and returns LL.
using LogLikelihoodFn =
    std::function<double(std::span<const double> params, std::span<double> gradient)>;

struct MaximumLikelihood {
  std::vector<double> params;
  double log_likelihood = 0;
  int evaluations = 0;
};

struct OptimiserOptions {
  double relative_tolerance = 1e-10;  // on the mean log-likelihood, and on θ
  int max_evaluations = 2000;
  double log_bound = 18;  // each θ stays within ±log_bound (e^18 ≈ 6.6e7)
};

// Maximises `log_likelihood` from `start` (positive). `model` and `names` label errors. A run
// whose line search gave up (NLopt's failure or round-off) is restarted from its best point, at
// most three times, and accepted where the gradient there is nil. Internal when it still fails,
// stops at its evaluation limit, or ends with a parameter at its bound (the data do not
// identify it; named also when a run that gave up has a parameter beyond half its bound, e^±9).
Result<MaximumLikelihood> MaximiseLikelihood(std::string_view model,
                                             std::span<const char* const> names,
                                             std::span<const double> start, double customers,
                                             const LogLikelihoodFn& log_likelihood,
                                             const OptimiserOptions& options = {});

}  // namespace portrait::analytics
