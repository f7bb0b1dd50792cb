// The BG/NBD log-likelihood and its gradient over many customers, arranged for speed: the terms
// that depend only on x are computed once per distinct x (weighted by its count), and each
// customer costs two logarithms and one exponential. Internal to analytics/bgnbd.cc.
//
// Thread-compatible; Evaluate may split the customers over `threads` threads, joined before it
// returns.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "analytics/bgnbd.h"
#include "base/result.h"

namespace portrait::analytics {

// InvalidArgument naming the field when x is outside 0..10⁹ or t_x outside 0..T (or not finite).
Status CheckBgNbdCustomer(const BgNbdCustomer& customer);

class BgNbdLikelihood {
 public:
  // Checks each customer (InvalidArgument naming its index and field) and lays them out.
  static Result<BgNbdLikelihood> Prepare(std::span<const BgNbdCustomer> customers);

  // The log-likelihood at `params`; `gradient` gets ∂LL/∂(r, α, a, b). NaN when not finite.
  double Evaluate(const BgNbdParams& params, std::array<double, 4>& gradient, int threads) const;

  int64_t customers() const { return static_cast<int64_t>(x_index_.size()); }
  bool any_repeat() const { return distinct_x_.back() > 0; }

 private:
  struct Partial {
    double ll = 0;
    std::array<double, 4> gradient{};
  };
  struct XTerm;  // the per-x terms of one evaluation
  std::vector<XTerm> XTerms(const BgNbdParams& params, Partial& total) const;
  Partial Sum(const BgNbdParams& params, const std::vector<XTerm>& terms, size_t begin,
              size_t end) const;

  std::vector<double> distinct_x_;  // ascending
  std::vector<int64_t> x_count_;    // customers per distinct x
  std::vector<uint32_t> x_index_;   // per customer: its x's position in distinct_x_
  std::vector<double> t_x_, T_;
};

}  // namespace portrait::analytics
