// Customer lifetime value from a fitted BG/NBD and Gamma-Gamma pair (docs/DECISIONS.md 92):
//
//   CLV = E[M] · Σ_{k=1..K} (E[Y(t_k)] − E[Y(t_{k−1})]) / (1 + d)^(t_k / year)
//
// where E[M] is the Gamma-Gamma expected transaction value, E[Y(t)] the BG/NBD expected
// purchases in t after the calibration period, t_k = min(k · step, horizon), K = ⌈horizon /
// step⌉, d the yearly discount rate, and a year is 365.25 days in the model's unit. The
// purchases expected within a step are discounted as if made at its end (slightly
// conservative). A margin, if any, is the caller's to apply.
//
// Pure function, thread-safe. Errors are Status values, never a throw.
#pragma once

#include "analytics/bgnbd.h"
#include "analytics/gamma_gamma.h"
#include "analytics/purchases.h"
#include "base/result.h"

namespace portrait::analytics {

struct LifetimeValueOptions {
  double horizon = 52;           // in `unit`, 0 < horizon ≤ 100,000
  double step = 4;               // in `unit`, > 0; at most 1,000 steps per horizon
  double yearly_discount = 0.1;  // d ≥ 0
  TimeUnit unit = TimeUnit::kWeek;
};

// InvalidArgument for options out of range; the models' errors otherwise.
Result<double> CustomerLifetimeValue(const BgNbdParams& purchases, const GammaGammaParams& spend,
                                     const CustomerSummary& customer,
                                     const LifetimeValueOptions& options);

}  // namespace portrait::analytics
