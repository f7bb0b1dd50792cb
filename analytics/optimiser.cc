#include "analytics/optimiser.h"

#include <nlopt.h>

#include <cmath>
#include <exception>
#include <memory>
#include <string>

namespace portrait::analytics {
namespace {

struct NloptDeleter {
  void operator()(nlopt_opt opt) const { nlopt_destroy(opt); }
};
using NloptPtr = std::unique_ptr<std::remove_pointer_t<nlopt_opt>, NloptDeleter>;

// What NLopt's C callback needs: the objective in θ-space, per customer, negated.
struct Objective {
  const LogLikelihoodFn* log_likelihood = nullptr;
  double customers = 1;
  nlopt_opt opt = nullptr;
  int evaluations = 0;
  bool threw = false;
  std::vector<double> params, gradient;

  // −LL/n at θ, and its gradient in θ (∂/∂θ = param · ∂/∂param); NaN when not finite.
  double Evaluate(const double* theta, double* theta_gradient) {
    ++evaluations;
    for (size_t i = 0; i < params.size(); ++i) params[i] = std::exp(theta[i]);
    double ll = (*log_likelihood)(params, gradient);
    bool finite = std::isfinite(ll);
    for (size_t i = 0; i < params.size(); ++i) {
      double g = -params[i] * gradient[i] / customers;
      finite = finite && std::isfinite(g);
      if (theta_gradient != nullptr) theta_gradient[i] = g;
    }
    return finite ? -ll / customers : HUGE_VAL;
  }
};

double Callback(unsigned n, const double* theta, double* theta_gradient, void* data) {
  auto* objective = static_cast<Objective*>(data);
  try {
    return objective->Evaluate(theta, theta_gradient);
  } catch (const std::exception&) {  // e.g. std::bad_alloc: must not cross NLopt's C frames
    objective->threw = true;
    nlopt_force_stop(objective->opt);
    return HUGE_VAL;
  }
}

// NLopt's verdict, accepting a round-off stop where the gradient has all but vanished.
bool Converged(nlopt_result result, Objective& objective, const std::vector<double>& theta) {
  if (result == NLOPT_SUCCESS || result == NLOPT_FTOL_REACHED || result == NLOPT_XTOL_REACHED) {
    return true;
  }
  // A line search that gave up (L-BFGS's bare failure, or round-off) may have given up at the
  // optimum: accepted when the gradient there is nil.
  if (result != NLOPT_ROUNDOFF_LIMITED && result != NLOPT_FAILURE) return false;
  std::vector<double> g(theta.size());
  if (!std::isfinite(objective.Evaluate(theta.data(), g.data()))) return false;
  for (double gi : g) {
    if (std::fabs(gi) > 1e-6) return false;
  }
  return true;
}

std::string Reason(nlopt_result result) {
  switch (result) {
    case NLOPT_MAXEVAL_REACHED:
      return "the evaluation limit was reached";
    case NLOPT_ROUNDOFF_LIMITED:
      return "round-off stopped it short of the optimum";
    case NLOPT_OUT_OF_MEMORY:
      return "out of memory";
    case NLOPT_FORCED_STOP:
      return "it was stopped";
    default:
      return "the optimiser failed (NLopt result " + std::to_string(static_cast<int>(result)) + ")";
  }
}

}  // namespace

Result<MaximumLikelihood> MaximiseLikelihood(std::string_view model,
                                             std::span<const char* const> names,
                                             std::span<const double> start, double customers,
                                             const LogLikelihoodFn& log_likelihood,
                                             const OptimiserOptions& options) {
  const unsigned n = static_cast<unsigned>(start.size());
  const std::string prefix = std::string(model) + " fit: ";
  NloptPtr opt(nlopt_create(NLOPT_LD_LBFGS, n));
  if (opt == nullptr) return Error(Status::Internal(prefix + "NLopt could not start"));
  Objective objective;
  objective.log_likelihood = &log_likelihood;
  objective.customers = customers;
  objective.opt = opt.get();
  objective.params.resize(n);
  objective.gradient.resize(n);
  std::vector<double> theta(n), lower(n, -options.log_bound), upper(n, options.log_bound);
  for (unsigned i = 0; i < n; ++i) theta[i] = std::log(start[i]);
  nlopt_set_min_objective(opt.get(), Callback, &objective);
  nlopt_set_lower_bounds(opt.get(), lower.data());
  nlopt_set_upper_bounds(opt.get(), upper.data());
  nlopt_set_ftol_rel(opt.get(), options.relative_tolerance);
  nlopt_set_xtol_rel(opt.get(), options.relative_tolerance);
  nlopt_set_maxeval(opt.get(), options.max_evaluations);
  double minimum = 0;
  nlopt_result result = nlopt_optimize(opt.get(), theta.data(), &minimum);
  // A line search that gave up short of the optimum (on a large base, a step into a region
  // where the likelihood can't be evaluated) is restarted from the best point, with a fresh
  // L-BFGS memory and the evaluations left, at most kRestarts times.
  constexpr int kRestarts = 3;
  for (int restart = 0;
       restart < kRestarts && !objective.threw && std::isfinite(minimum) &&
       (result == NLOPT_FAILURE || result == NLOPT_ROUNDOFF_LIMITED) &&
       !Converged(result, objective, theta) && objective.evaluations < options.max_evaluations;
       ++restart) {
    nlopt_set_maxeval(opt.get(), options.max_evaluations - objective.evaluations);
    result = nlopt_optimize(opt.get(), theta.data(), &minimum);
  }
  if (objective.threw) return Error(Status::Internal(prefix + "out of memory"));
  const bool converged = Converged(result, objective, theta) && std::isfinite(minimum);
  // The likelihood's supremum outside the model shows as a parameter at its bound, or, where
  // NLopt gave up on the way (a bare failure on the flat ridge, even one whose gradient there
  // is nil), far out towards it.
  const bool clean = result != NLOPT_FAILURE && result != NLOPT_ROUNDOFF_LIMITED;
  const double far = converged && clean ? options.log_bound * (1 - 1e-9) : options.log_bound / 2;
  for (unsigned i = 0; i < n; ++i) {
    if (std::fabs(theta[i]) >= far) {
      return Error(Status::Internal(
          prefix + "the data do not identify " + names[i] + " (it ran " +
          (converged ? "to" : "towards") +
          " its bound): the customers' histories are too much alike for this model"));
    }
  }
  if (!converged) {
    return Error(Status::Internal(prefix + "did not converge: " + Reason(result)));
  }
  MaximumLikelihood fit{{}, -minimum * customers, objective.evaluations};
  for (unsigned i = 0; i < n; ++i) fit.params.push_back(std::exp(theta[i]));
  return fit;
}

}  // namespace portrait::analytics
