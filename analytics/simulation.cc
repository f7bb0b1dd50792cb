#include "analytics/simulation.h"

#include <random>

namespace portrait::analytics {
namespace {

// One customer's repeat purchases in (0, T].
BgNbdCustomer Purchases(const BgNbdParams& p, double T, std::mt19937_64& rng) {
  const double lambda = std::gamma_distribution<double>(p.r, 1 / p.alpha)(rng);
  const double g1 = std::gamma_distribution<double>(p.a, 1)(rng);
  const double g2 = std::gamma_distribution<double>(p.b, 1)(rng);
  const double drop = g1 / (g1 + g2);
  std::exponential_distribution<double> wait(lambda > 0 ? lambda : 1e-300);
  std::uniform_real_distribution<double> coin(0, 1);
  BgNbdCustomer c{0, 0, T};
  for (double t = wait(rng); t <= T; t += wait(rng)) {
    ++c.x;
    c.t_x = t;
    if (coin(rng) < drop) break;
  }
  return c;
}

}  // namespace

std::vector<SimulatedCustomer> Simulate(const BgNbdParams& purchases, const GammaGammaParams& spend,
                                        const SimulationOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> age(options.T_min, options.T_max);
  std::vector<SimulatedCustomer> customers;
  customers.reserve(static_cast<size_t>(options.customers));
  for (int64_t i = 0; i < options.customers; ++i) {
    SimulatedCustomer c;
    c.purchases = Purchases(purchases, age(rng), rng);
    const double nu = std::gamma_distribution<double>(spend.q, 1 / spend.gamma)(rng);
    std::gamma_distribution<double> value(spend.p, 1 / nu);
    c.first_value = value(rng);
    double total = 0;
    for (int64_t k = 0; k < c.purchases.x; ++k) total += value(rng);
    if (c.purchases.x > 0) c.mean_repeat_value = total / static_cast<double>(c.purchases.x);
    customers.push_back(c);
  }
  return customers;
}

}  // namespace portrait::analytics
