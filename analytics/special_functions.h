// Special functions of the models, from Boost.Math (docs/DECISIONS.md 91), behind a policy that
// reports errors through the return value instead of throwing: Boost's default policy throws,
// and GSL's default error handler aborts the process (turning it off is process-wide).
//
// Thread-safe: no global state (unlike std::lgamma, which writes the global `signgam`).
#pragma once

#include "base/result.h"

namespace portrait::analytics {

// ln Γ(x) for x > 0; NaN for x ≤ 0 or a non-finite x.
double LogGamma(double x);

// ψ(x) = d/dx ln Γ(x) for x > 0; NaN for x ≤ 0 or a non-finite x.
double Digamma(double x);

// The Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its power series
// (Boost's checked pFq series, which tracks cancellation). Internal for a series that does not
// converge within Boost's iteration limit, loses more than half its bits, or is not finite;
// InvalidArgument for z outside [0, 1) or a non-finite argument.
Result<double> Hypergeometric2F1(double a, double b, double c, double z);

}  // namespace portrait::analytics
