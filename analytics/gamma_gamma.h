// Gamma-Gamma: the spend per transaction (Fader, Hardie and Lee 2005, "The Gamma-Gamma Model of
// Monetary Value"). A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across
// customers; a customer is summarised by x (repeat transactions) and m_x (their mean value,
// analytics/purchases.h: the first transaction excluded, as in the note's CDNOW figures). The
// model assumes spend independent of the purchase process (check it before relying on both).
//
// Pure functions, thread-safe. Errors are Status values (never a throw): InvalidArgument names
// the customer by its index and the field, never a value.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace portrait::analytics {

struct GammaGammaParams {
  double p = 0, q = 0, gamma = 0;
};

struct GammaGammaCustomer {
  int64_t x = 0;          // repeat transactions, 0 ≤ x ≤ 10⁹
  double mean_value = 0;  // mean of the x repeat transactions: finite, > 0 when x > 0
};

struct GammaGammaFit {
  GammaGammaParams params;
  double log_likelihood = 0;
  int64_t customers = 0;  // those fitted: the repeat buyers
  int evaluations = 0;
};

// The log-likelihood of the repeat buyers among `customers` (x = 0 contributes nothing).
Result<double> GammaGammaLogLikelihood(const GammaGammaParams& params,
                                       std::span<const GammaGammaCustomer> customers);

// Maximum-likelihood p, q, γ over the repeat buyers (x > 0; the others are skipped).
// InvalidArgument when a customer is malformed or there is no repeat buyer; Internal when the
// fit does not converge.
Result<GammaGammaFit> FitGammaGamma(std::span<const GammaGammaCustomer> customers);

// E[M | p, q, γ, m_x, x] = (γ + m_x x) p / (p x + q − 1): the expected value of this customer's
// next transactions, between the population mean γp/(q−1) and their own mean. For x = 0 it is
// the population mean. InvalidArgument when p x + q ≤ 1 (the mean does not exist).
Result<double> ExpectedTransactionValue(const GammaGammaParams& params,
                                        const GammaGammaCustomer& customer);

}  // namespace portrait::analytics
