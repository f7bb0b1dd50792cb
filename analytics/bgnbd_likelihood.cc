#include "analytics/bgnbd_likelihood.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <system_error>
#include <thread>

#include "analytics/special_functions.h"

namespace portrait::analytics {

// The terms of customer i's log-likelihood that depend on its x only.
struct BgNbdLikelihood::XTerm {
  double r_plus_x = 0;
  double log_a4 = 0;    // ln a − ln(b+x−1): the second term's factor, x > 0
  double inv_bx1 = 0;   // 1/(b+x−1), x > 0
  bool repeat = false;  // x > 0
};

Status CheckBgNbdCustomer(const BgNbdCustomer& c) {
  if (c.x < 0 || c.x > 1'000'000'000) return Status::InvalidArgument("x outside 0..10^9");
  if (!std::isfinite(c.T) || !std::isfinite(c.t_x) || c.t_x < 0 || c.t_x > c.T) {
    return Status::InvalidArgument("t_x outside 0..T, or not finite");
  }
  return Status::Ok();
}

Result<BgNbdLikelihood> BgNbdLikelihood::Prepare(std::span<const BgNbdCustomer> customers) {
  if (customers.empty()) return Error(Status::InvalidArgument("no customers"));
  if (customers.size() > UINT32_MAX) return Error(Status::InvalidArgument("too many customers"));
  std::map<int64_t, int64_t> counts;
  for (size_t i = 0; i < customers.size(); ++i) {
    PORTRAIT_RETURN_IF_ERROR(
        CheckBgNbdCustomer(customers[i]).WithContext("customer " + std::to_string(i)));
    ++counts[customers[i].x];
  }
  BgNbdLikelihood data;
  std::map<int64_t, uint32_t> position;
  for (const auto& [x, count] : counts) {
    position[x] = static_cast<uint32_t>(data.distinct_x_.size());
    data.distinct_x_.push_back(static_cast<double>(x));
    data.x_count_.push_back(count);
  }
  data.x_index_.reserve(customers.size());
  data.t_x_.reserve(customers.size());
  data.T_.reserve(customers.size());
  for (const BgNbdCustomer& c : customers) {
    data.x_index_.push_back(position[c.x]);
    data.t_x_.push_back(c.t_x);
    data.T_.push_back(c.T);
  }
  return data;
}

// Fills `total` with the x-only parts of LL and its gradient, summed with their counts.
std::vector<BgNbdLikelihood::XTerm> BgNbdLikelihood::XTerms(const BgNbdParams& p,
                                                            Partial& total) const {
  const double base =
      -LogGamma(p.r) + p.r * std::log(p.alpha) + LogGamma(p.a + p.b) - LogGamma(p.b);
  const double psi_r = Digamma(p.r), psi_ab = Digamma(p.a + p.b), psi_b = Digamma(p.b);
  std::vector<XTerm> terms(distinct_x_.size());
  for (size_t k = 0; k < distinct_x_.size(); ++k) {
    const double x = distinct_x_[k], n = static_cast<double>(x_count_[k]);
    const double psi_abx = Digamma(p.a + p.b + x);
    total.ll += n * (base + LogGamma(p.r + x) + LogGamma(p.b + x) - LogGamma(p.a + p.b + x));
    total.gradient[0] += n * (Digamma(p.r + x) - psi_r + std::log(p.alpha));
    total.gradient[1] += n * p.r / p.alpha;
    total.gradient[2] += n * (psi_ab - psi_abx);
    total.gradient[3] += n * (psi_ab + Digamma(p.b + x) - psi_b - psi_abx);
    XTerm& t = terms[k];
    t.r_plus_x = p.r + x;
    t.repeat = x > 0;
    if (t.repeat) {
      t.inv_bx1 = 1 / (p.b + x - 1);
      t.log_a4 = std::log(p.a) + std::log(t.inv_bx1);
    }
  }
  return terms;
}

// The per-customer parts: ln(e^A3 + δ e^A4) with A3 = −(r+x) ln(α+T) and
// A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x), and their derivatives.
BgNbdLikelihood::Partial BgNbdLikelihood::Sum(const BgNbdParams& p, const std::vector<XTerm>& terms,
                                              size_t begin, size_t end) const {
  Partial s;
  for (size_t i = begin; i < end; ++i) {
    const XTerm& t = terms[x_index_[i]];
    const double log_T = std::log(p.alpha + T_[i]);
    const double a3 = -t.r_plus_x * log_T;
    if (!t.repeat) {
      s.ll += a3;
      s.gradient[0] -= log_T;
      s.gradient[1] -= t.r_plus_x / (p.alpha + T_[i]);
      continue;
    }
    const double log_tx = std::log(p.alpha + t_x_[i]);
    const double a4 = t.log_a4 - t.r_plus_x * log_tx;
    const double e = std::exp(-std::fabs(a3 - a4));
    const double w = a4 > a3 ? 1 / (1 + e) : e / (1 + e);  // the second term's share
    s.ll += std::max(a3, a4) + std::log1p(e);
    s.gradient[0] -= (1 - w) * log_T + w * log_tx;
    s.gradient[1] -= t.r_plus_x * ((1 - w) / (p.alpha + T_[i]) + w / (p.alpha + t_x_[i]));
    s.gradient[2] += w / p.a;
    s.gradient[3] -= w * t.inv_bx1;
  }
  return s;
}

double BgNbdLikelihood::Evaluate(const BgNbdParams& params, std::array<double, 4>& gradient,
                                 int threads) const {
  Partial total;
  const std::vector<XTerm> terms = XTerms(params, total);
  const size_t n = x_index_.size();
  const size_t parts =
      std::clamp<size_t>(static_cast<size_t>(threads), 1, std::max<size_t>(1, n / 4096));
  std::vector<Partial> partials(parts);
  std::vector<std::thread> workers;
  auto run = [&](size_t k) {
    partials[k] = Sum(params, terms, n * k / parts, n * (k + 1) / parts);
  };
  size_t started = 1;
  for (; started < parts; ++started) {
    try {
      workers.emplace_back(run, started);
    } catch (const std::system_error&) {  // no thread to be had: the rest run here
      break;
    }
  }
  run(0);
  for (size_t k = started; k < parts; ++k) run(k);
  for (std::thread& worker : workers) worker.join();
  for (const Partial& part : partials) {
    total.ll += part.ll;
    for (size_t j = 0; j < 4; ++j) total.gradient[j] += part.gradient[j];
  }
  gradient = total.gradient;
  return std::isfinite(total.ll) ? total.ll : std::nan("");
}

}  // namespace portrait::analytics
