// The customer-value models at scale: N synthetic customers drawn from a BG/NBD process with the
// CDNOW parameters (analytics/simulation.h, fixed seed), then the BG/NBD fit, the Gamma-Gamma
// fit, an RFM refresh (quintiles, scores, groups) and per-customer predictions, each timed by
// the wall clock. Prints figures beside the targets and the load average; asserts nothing.
//
//   build-bench/bin/model_bench [--customers N] [--threads T] [--predictions N]
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "analytics/bgnbd.h"
#include "analytics/gamma_gamma.h"
#include "analytics/lifetime_value.h"
#include "analytics/rfm.h"
#include "analytics/simulation.h"

namespace {

using namespace portrait::analytics;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void PrintLoad(const char* when) {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3) {
    std::printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
  }
}

struct Args {
  int64_t customers = 1'000'000;
  int threads = 2;
  int64_t predictions = 100'000;
};

Args Parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--customers") == 0) args.customers = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) args.threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--predictions") == 0) args.predictions = std::atoll(argv[i + 1]);
  }
  return args;
}

bool FitPurchases(const std::vector<BgNbdCustomer>& customers, int threads, BgNbdParams& out) {
  const auto start = Clock::now();
  auto fit = FitBgNbd(customers, {.threads = threads});
  const double seconds = Seconds(start);
  if (!fit) {
    std::printf("BG/NBD fit failed: %s\n", fit.error().ToString().c_str());
    return false;
  }
  std::printf(
      "BG/NBD fit, %d thread(s): %.2f s (target <= 10 s), %d evaluations, "
      "r %.4f alpha %.4f a %.4f b %.4f\n",
      threads, seconds, fit->evaluations, fit->params.r, fit->params.alpha, fit->params.a,
      fit->params.b);
  out = fit->params;
  return true;
}

bool FitSpend(const std::vector<GammaGammaCustomer>& customers, GammaGammaParams& out) {
  const auto start = Clock::now();
  auto fit = FitGammaGamma(customers);
  const double seconds = Seconds(start);
  if (!fit) {
    std::printf("Gamma-Gamma fit failed: %s\n", fit.error().ToString().c_str());
    return false;
  }
  std::printf(
      "Gamma-Gamma fit (%lld repeat buyers): %.2f s, %d evaluations, p %.3f q %.3f "
      "gamma %.3f\n",
      static_cast<long long>(fit->customers), seconds, fit->evaluations, fit->params.p,
      fit->params.q, fit->params.gamma);
  out = fit->params;
  return true;
}

void RefreshRfm(const std::vector<SimulatedCustomer>& simulated) {
  std::vector<RfmInput> inputs;
  inputs.reserve(simulated.size());
  for (const SimulatedCustomer& s : simulated) {
    const double days = std::floor((s.purchases.T - s.purchases.t_x) * 7);
    const double total = s.first_value + s.mean_repeat_value * static_cast<double>(s.purchases.x);
    inputs.push_back({static_cast<int64_t>(days), s.purchases.x + 1, total});
  }
  const auto start = Clock::now();
  auto rfm = ComputeRfm(inputs);
  const double seconds = Seconds(start);
  if (!rfm) {
    std::printf("RFM failed: %s\n", rfm.error().ToString().c_str());
    return;
  }
  std::printf("RFM refresh (quintiles, scores, groups): %.3f s (target <= 5 s); groups:", seconds);
  for (size_t g = 0; g < kRfmGroups; ++g) {
    std::printf(" %s %lld", std::string(RfmGroupName(static_cast<RfmGroup>(g))).c_str(),
                static_cast<long long>(rfm->group_counts[g]));
  }
  std::printf("\n");
}

// P(alive), E[Y(39)] and E[M] per customer; then the 52-week lifetime value (13 steps).
void Predict(const std::vector<SimulatedCustomer>& simulated, int64_t count,
             const BgNbdParams& purchases, const GammaGammaParams& spend) {
  const auto n = std::min<int64_t>(count, static_cast<int64_t>(simulated.size()));
  double sum = 0;
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    const SimulatedCustomer& s = simulated[static_cast<size_t>(i)];
    sum += ProbabilityAlive(purchases, s.purchases).value_or(0) +
           ExpectedPurchases(purchases, s.purchases, 39).value_or(0) +
           ExpectedTransactionValue(spend, {s.purchases.x, s.mean_repeat_value}).value_or(0);
  }
  const double predict_seconds = Seconds(start);
  start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    const SimulatedCustomer& s = simulated[static_cast<size_t>(i)];
    CustomerSummary summary;
    summary.x = s.purchases.x;
    summary.t_x = s.purchases.t_x;
    summary.T = s.purchases.T;
    summary.mean_repeat_value = s.mean_repeat_value;
    sum += CustomerLifetimeValue(purchases, spend, summary, {}).value_or(0);
  }
  const double clv_seconds = Seconds(start);
  std::printf("predictions (P(alive) + E[Y(39)] + E[M]), one thread: %.0f customers/s\n",
              static_cast<double>(n) / predict_seconds);
  std::printf("lifetime value (52 weeks, 13 steps), one thread: %.0f customers/s (checksum %.3g)\n",
              static_cast<double>(n) / clv_seconds, sum);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  PrintLoad("at start");
  auto start = Clock::now();
  const auto simulated = Simulate({0.243, 4.414, 0.793, 2.426}, {6.25, 3.74, 15.44},
                                  {.customers = args.customers, .seed = 20261201});
  std::printf("%lld customers simulated in %.2f s\n", static_cast<long long>(args.customers),
              Seconds(start));
  std::vector<BgNbdCustomer> purchases;
  std::vector<GammaGammaCustomer> spend;
  for (const SimulatedCustomer& s : simulated) {
    purchases.push_back(s.purchases);
    spend.push_back({s.purchases.x, s.mean_repeat_value});
  }
  BgNbdParams bgnbd;
  GammaGammaParams gg;
  if (args.threads > 1 && !FitPurchases(purchases, 1, bgnbd)) return 1;
  if (!FitPurchases(purchases, args.threads, bgnbd) || !FitSpend(spend, gg)) return 1;
  RefreshRfm(simulated);
  Predict(simulated, args.predictions, bgnbd, gg);
  PrintLoad("at end");
  return 0;
}
