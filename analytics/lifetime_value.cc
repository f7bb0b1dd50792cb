#include "analytics/lifetime_value.h"

#include <algorithm>
#include <cmath>

namespace portrait::analytics {
namespace {

constexpr double kMaxSteps = 1'000;

Status CheckOptions(const LifetimeValueOptions& o) {
  if (!std::isfinite(o.horizon) || !(o.horizon > 0) || !std::isfinite(o.step) || !(o.step > 0)) {
    return Status::InvalidArgument("lifetime value: horizon and step must be finite and > 0");
  }
  if (o.horizon / o.step > kMaxSteps) {
    return Status::InvalidArgument("lifetime value: more than 1,000 steps in the horizon");
  }
  if (!std::isfinite(o.yearly_discount) || o.yearly_discount < 0) {
    return Status::InvalidArgument("lifetime value: yearly_discount must be finite and ≥ 0");
  }
  return Status::Ok();
}

}  // namespace

Result<double> CustomerLifetimeValue(const BgNbdParams& purchases, const GammaGammaParams& spend,
                                     const CustomerSummary& customer,
                                     const LifetimeValueOptions& options) {
  PORTRAIT_RETURN_IF_ERROR(CheckOptions(options));
  PORTRAIT_ASSIGN_OR_RETURN(
      double value, ExpectedTransactionValue(spend, {customer.x, customer.mean_repeat_value}));
  const BgNbdCustomer c{customer.x, customer.t_x, customer.T};
  const double units_per_year = 365.25 / DaysPerUnit(options.unit);
  const double log_discount = std::log1p(options.yearly_discount);
  const auto steps = static_cast<int>(std::ceil(options.horizon / options.step));
  double previous = 0, discounted = 0;
  for (int k = 1; k <= steps; ++k) {
    const double t = std::min(k * options.step, options.horizon);
    PORTRAIT_ASSIGN_OR_RETURN(double expected, ExpectedPurchases(purchases, c, t));
    discounted += (expected - previous) * std::exp(-log_discount * t / units_per_year);
    previous = expected;
  }
  return value * discounted;
}

}  // namespace portrait::analytics
