// RFM value tiers: recency, frequency and monetary scores in 1..5 by quintiles over the whole
// base, and the eight groups (docs/DECISIONS.md 93).
//
// Quintile rule (nearest rank): with a metric's n values sorted ascending as v[0..n−1], the
// k-th boundary (k = 1..4) is v[⌈k·n/5⌉ − 1]. A value's count of boundaries it exceeds,
// c = #{k : value > boundary_k}, gives its score: 1 + c for frequency and monetary (more is
// better), 5 − c for recency (days since the last purchase: fewer is better, so 5 is the most
// recent). Equal values always get the same score; a boundary value belongs to the lower
// quintile. Heavily tied metrics (most customers bought once) therefore leave some scores empty.
//
// Groups: a score is high when it is above the base's mean score for that letter (strictly;
// equal to the mean is low), and (R, F, M) high/low name the group as in RfmGroup.
//
// Pure functions, thread-safe. Errors are Status values (never a throw): InvalidArgument names
// the customer by its index and the field, never a value.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace portrait::analytics {

struct RfmInput {
  int64_t days_since_last = 0;  // ≥ 0
  int64_t transactions = 0;     // ≥ 1 (same-day purchases as one)
  double monetary = 0;          // total spend, finite ≥ 0
};

enum class RfmGroup : uint8_t {
  kImportantValue,        // R high, F high, M high
  kImportantDevelopment,  // R high, F low,  M high
  kImportantRetention,    // R low,  F high, M high
  kImportantWinback,      // R low,  F low,  M high
  kGeneralValue,          // R high, F high, M low
  kGeneralDevelopment,    // R high, F low,  M low
  kGeneralRetention,      // R low,  F high, M low
  kGeneralWinback,        // R low,  F low,  M low
};
constexpr size_t kRfmGroups = 8;

// "important_value", "important_development", … as in the comments above.
std::string_view RfmGroupName(RfmGroup group);

// The group of high/low letters.
RfmGroup GroupOf(bool r_high, bool f_high, bool m_high);

struct RfmModel {
  // Four ascending boundaries per metric.
  std::array<double, 4> recency{}, frequency{}, monetary{};
  // The base's mean scores, which split high from low.
  double mean_r = 0, mean_f = 0, mean_m = 0;
};

struct RfmScore {
  uint8_t r = 0, f = 0, m = 0;  // 1..5
  RfmGroup group = RfmGroup::kGeneralWinback;
};

struct RfmResult {
  RfmModel model;
  std::vector<RfmScore> scores;                    // one per input, in its order
  std::array<int64_t, kRfmGroups> group_counts{};  // indexed by RfmGroup
};

// Boundaries, every customer's scores and group, the means and the group counts.
// InvalidArgument for an empty base or a malformed customer.
Result<RfmResult> ComputeRfm(std::span<const RfmInput> customers);

// One customer scored against a computed model (e.g. a new purchase between refreshes).
// InvalidArgument for a malformed customer.
Result<RfmScore> ScoreRfm(const RfmModel& model, const RfmInput& customer);

}  // namespace portrait::analytics
