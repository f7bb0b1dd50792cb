#include "analytics/gamma_gamma.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analytics/optimiser.h"
#include "analytics/special_functions.h"

namespace portrait::analytics {
namespace {

bool Positive(double v) { return std::isfinite(v) && v > 0; }

Status CheckParams(const GammaGammaParams& p) {
  if (!Positive(p.p) || !Positive(p.q) || !Positive(p.gamma)) {
    return Status::InvalidArgument("Gamma-Gamma parameters: p, q and gamma must be finite and > 0");
  }
  return Status::Ok();
}

Status CheckCustomer(const GammaGammaCustomer& c) {
  if (c.x < 0 || c.x > 1'000'000'000) return Status::InvalidArgument("x outside 0..10^9");
  if (!std::isfinite(c.mean_value) || c.mean_value < 0 || (c.x > 0 && c.mean_value == 0)) {
    return Status::InvalidArgument("mean_value not finite and > 0");
  }
  return Status::Ok();
}

// The repeat buyers: x (as a position among the distinct x), ln x and m_x, checked.
struct RepeatBuyers {
  std::vector<double> distinct_x;  // ascending
  std::vector<uint32_t> x_index;
  std::vector<double> log_x, m, log_m;
};

Result<RepeatBuyers> Prepare(std::span<const GammaGammaCustomer> customers) {
  if (customers.size() > UINT32_MAX) return Error(Status::InvalidArgument("too many customers"));
  std::map<int64_t, uint32_t> position;
  for (size_t i = 0; i < customers.size(); ++i) {
    PORTRAIT_RETURN_IF_ERROR(
        CheckCustomer(customers[i]).WithContext("customer " + std::to_string(i)));
    if (customers[i].x > 0) position[customers[i].x] = 0;
  }
  if (position.empty()) return Error(Status::InvalidArgument("no repeat buyer: nothing to fit"));
  RepeatBuyers buyers;
  for (auto& [x, index] : position) {
    index = static_cast<uint32_t>(buyers.distinct_x.size());
    buyers.distinct_x.push_back(static_cast<double>(x));
  }
  for (const GammaGammaCustomer& c : customers) {
    if (c.x == 0) continue;
    buyers.x_index.push_back(position[c.x]);
    buyers.log_x.push_back(std::log(static_cast<double>(c.x)));
    buyers.m.push_back(c.mean_value);
    buyers.log_m.push_back(std::log(c.mean_value));
  }
  return buyers;
}

// The terms of one evaluation that depend on x only.
struct XTerm {
  double log_density = 0;  // ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ
  double d_p = 0;          // x (ψ(px+q) − ψ(px))
  double d_q = 0;          // ψ(px+q) − ψ(q) + ln γ
};

std::vector<XTerm> XTerms(const GammaGammaParams& p, const RepeatBuyers& b) {
  const double log_gq = p.q * std::log(p.gamma) - LogGamma(p.q), psi_q = Digamma(p.q);
  std::vector<XTerm> terms(b.distinct_x.size());
  for (size_t k = 0; k < terms.size(); ++k) {
    const double x = b.distinct_x[k], px = p.p * x, psi_pxq = Digamma(px + p.q);
    terms[k].log_density = LogGamma(px + p.q) - LogGamma(px) + log_gq;
    terms[k].d_p = x * (psi_pxq - Digamma(px));
    terms[k].d_q = psi_pxq - psi_q + std::log(p.gamma);
  }
  return terms;
}

// ln f(m_x | p, q, γ, x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m_x + px ln x
//                          − (px+q) ln(γ + m_x x), summed, with ∂/∂(p, q, γ).
double LogLikelihood(const GammaGammaParams& p, const RepeatBuyers& b, std::span<double> g) {
  const std::vector<XTerm> terms = XTerms(p, b);
  double ll = 0;
  g[0] = g[1] = g[2] = 0;
  for (size_t i = 0; i < b.x_index.size(); ++i) {
    const XTerm& t = terms[b.x_index[i]];
    const double x = b.distinct_x[b.x_index[i]], px = p.p * x, pxq = px + p.q;
    const double total = p.gamma + b.m[i] * x, log_total = std::log(total);
    ll += t.log_density + (px - 1) * b.log_m[i] + px * b.log_x[i] - pxq * log_total;
    g[0] += t.d_p + x * (b.log_m[i] + b.log_x[i] - log_total);
    g[1] += t.d_q - log_total;
    g[2] += p.q / p.gamma - pxq / total;
  }
  return std::isfinite(ll) ? ll : std::nan("");
}

}  // namespace

Result<double> GammaGammaLogLikelihood(const GammaGammaParams& params,
                                       std::span<const GammaGammaCustomer> customers) {
  PORTRAIT_RETURN_IF_ERROR(CheckParams(params));
  PORTRAIT_ASSIGN_OR_RETURN(RepeatBuyers buyers, Prepare(customers));
  double gradient[3];
  const double ll = LogLikelihood(params, buyers, gradient);
  if (!std::isfinite(ll)) return Error(Status::Internal("Gamma-Gamma log-likelihood: not finite"));
  return ll;
}

Result<GammaGammaFit> FitGammaGamma(std::span<const GammaGammaCustomer> customers) {
  PORTRAIT_ASSIGN_OR_RETURN(RepeatBuyers buyers, Prepare(customers));
  LogLikelihoodFn fn = [&](std::span<const double> v, std::span<double> gradient) {
    return LogLikelihood({v[0], v[1], v[2]}, buyers, gradient);
  };
  static constexpr const char* kNames[] = {"p", "q", "gamma"};
  const double start[] = {1, 1, 1};
  const double n = static_cast<double>(buyers.x_index.size());
  PORTRAIT_ASSIGN_OR_RETURN(MaximumLikelihood ml,
                            MaximiseLikelihood("Gamma-Gamma", kNames, start, n, fn));
  return GammaGammaFit{{ml.params[0], ml.params[1], ml.params[2]},
                       ml.log_likelihood,
                       static_cast<int64_t>(buyers.x_index.size()),
                       ml.evaluations};
}

Result<double> ExpectedTransactionValue(const GammaGammaParams& params,
                                        const GammaGammaCustomer& customer) {
  PORTRAIT_RETURN_IF_ERROR(CheckParams(params));
  PORTRAIT_RETURN_IF_ERROR(CheckCustomer(customer));
  const double x = static_cast<double>(customer.x);
  const double denominator = params.p * x + params.q - 1;
  if (!(denominator > 0)) {
    return Error(
        Status::InvalidArgument("Gamma-Gamma: p x + q ≤ 1, the mean value does not exist"));
  }
  const double value = (params.gamma + customer.mean_value * x) * params.p / denominator;
  if (!std::isfinite(value)) return Error(Status::Internal("Gamma-Gamma: value not finite"));
  return value;
}

}  // namespace portrait::analytics
