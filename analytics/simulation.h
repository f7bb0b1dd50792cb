// Synthetic customers drawn from the BG/NBD and Gamma-Gamma processes, for tests and
// benchmarks: each customer's λ ~ Gamma(r, α) and p ~ Beta(a, b); purchases at Poisson rate λ
// from time 0 to T (uniform in [T_min, T_max]), a drop-out with probability p right after each
// repeat purchase; each transaction's value ~ Gamma(p_gg, ν) with ν ~ Gamma(q, γ).
//
// Deterministic for a seed (std::mt19937_64 and the standard distributions of this build).
// Thread-compatible.
#pragma once

#include <cstdint>
#include <vector>

#include "analytics/bgnbd.h"
#include "analytics/gamma_gamma.h"

namespace portrait::analytics {

struct SimulationOptions {
  int64_t customers = 1000;
  double T_min = 27, T_max = 39;  // calibration lengths, in the parameters' unit
  uint64_t seed = 1;
};

struct SimulatedCustomer {
  BgNbdCustomer purchases;
  double mean_repeat_value = 0;  // 0 when x = 0
  double first_value = 0;
};

std::vector<SimulatedCustomer> Simulate(const BgNbdParams& purchases, const GammaGammaParams& spend,
                                        const SimulationOptions& options);

}  // namespace portrait::analytics
