#include "analytics/special_functions.h"

#include <algorithm>
#include <boost/math/policies/policy.hpp>
#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/hypergeometric_pFq.hpp>
#include <cerrno>
#include <cmath>
#include <exception>

namespace portrait::analytics {
namespace {

namespace bp = boost::math::policies;
// Every error sets errno and returns a NaN or ±inf: nothing throws.
using NoThrow =
    bp::policy<bp::domain_error<bp::errno_on_error>, bp::pole_error<bp::errno_on_error>,
               bp::overflow_error<bp::errno_on_error>, bp::evaluation_error<bp::errno_on_error>,
               bp::rounding_error<bp::errno_on_error>>;

}  // namespace

double LogGamma(double x) {
  if (!(x > 0) || !std::isfinite(x)) return std::nan("");
  return boost::math::lgamma(x, NoThrow());
}

double Digamma(double x) {
  if (!(x > 0) || !std::isfinite(x)) return std::nan("");
  return boost::math::digamma(x, NoThrow());
}

Result<double> Hypergeometric2F1(double a, double b, double c, double z) {
  if (!std::isfinite(a) || !std::isfinite(b) || !std::isfinite(c) || !(z >= 0 && z < 1)) {
    return Error(Status::InvalidArgument("2F1: arguments outside its domain"));
  }
  const int saved_errno = errno;
  errno = 0;
  double abs_error = 0;
  double value = 0;
  try {
    value = boost::math::hypergeometric_pFq({a, b}, {c}, z, &abs_error, NoThrow());
  } catch (const std::exception&) {  // std::bad_alloc: the policy turns off every other throw
    value = std::nan("");
  }
  const bool failed = errno != 0 || !std::isfinite(value) ||
                      std::fabs(abs_error) > 1e-8 * std::max(1.0, std::fabs(value));
  errno = saved_errno;
  if (failed) return Error(Status::Internal("2F1: the series did not converge to a finite value"));
  return value;
}

}  // namespace portrait::analytics
