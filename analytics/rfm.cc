#include "analytics/rfm.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace portrait::analytics {
namespace {

Status Check(const RfmInput& c) {
  if (c.days_since_last < 0) return Status::InvalidArgument("days_since_last < 0");
  if (c.transactions < 1) return Status::InvalidArgument("transactions < 1");
  if (!std::isfinite(c.monetary) || c.monetary < 0) {
    return Status::InvalidArgument("monetary not a finite number ≥ 0");
  }
  return Status::Ok();
}

// The nearest-rank boundaries v[⌈k·n/5⌉ − 1], k = 1..4, by selection (no full sort).
std::array<double, 4> Boundaries(std::vector<double> values) {
  std::array<double, 4> boundaries{};
  const size_t n = values.size();
  auto from = values.begin();
  for (size_t k = 1; k <= 4; ++k) {
    const size_t rank = (k * n + 4) / 5 - 1;
    auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank);
    std::nth_element(from, nth, values.end());
    boundaries[k - 1] = *nth;
    from = nth;
  }
  return boundaries;
}

int Exceeded(const std::array<double, 4>& boundaries, double value) {
  return static_cast<int>(std::lower_bound(boundaries.begin(), boundaries.end(), value) -
                          boundaries.begin());
}

RfmScore Score(const RfmModel& model, const RfmInput& c) {
  RfmScore s;
  s.r = static_cast<uint8_t>(5 - Exceeded(model.recency, static_cast<double>(c.days_since_last)));
  s.f = static_cast<uint8_t>(1 + Exceeded(model.frequency, static_cast<double>(c.transactions)));
  s.m = static_cast<uint8_t>(1 + Exceeded(model.monetary, c.monetary));
  s.group = GroupOf(s.r > model.mean_r, s.f > model.mean_f, s.m > model.mean_m);
  return s;
}

}  // namespace

std::string_view RfmGroupName(RfmGroup group) {
  static constexpr std::string_view kNames[kRfmGroups] = {
      "important_value", "important_development", "important_retention", "important_winback",
      "general_value",   "general_development",   "general_retention",   "general_winback"};
  return kNames[static_cast<size_t>(group)];
}

RfmGroup GroupOf(bool r_high, bool f_high, bool m_high) {
  const int index = (m_high ? 0 : 4) + (r_high ? 0 : 2) + (f_high ? 0 : 1);
  return static_cast<RfmGroup>(index);
}

Result<RfmResult> ComputeRfm(std::span<const RfmInput> customers) {
  if (customers.empty()) return Error(Status::InvalidArgument("no customers"));
  std::vector<double> recency, frequency, monetary;
  recency.reserve(customers.size());
  frequency.reserve(customers.size());
  monetary.reserve(customers.size());
  for (size_t i = 0; i < customers.size(); ++i) {
    PORTRAIT_RETURN_IF_ERROR(Check(customers[i]).WithContext("customer " + std::to_string(i)));
    recency.push_back(static_cast<double>(customers[i].days_since_last));
    frequency.push_back(static_cast<double>(customers[i].transactions));
    monetary.push_back(customers[i].monetary);
  }
  RfmResult result;
  result.model.recency = Boundaries(std::move(recency));
  result.model.frequency = Boundaries(std::move(frequency));
  result.model.monetary = Boundaries(std::move(monetary));
  result.scores.reserve(customers.size());
  double sum_r = 0, sum_f = 0, sum_m = 0;
  for (const RfmInput& c : customers) {
    RfmScore s = Score(result.model, c);  // the group comes once the means are known
    sum_r += s.r;
    sum_f += s.f;
    sum_m += s.m;
    result.scores.push_back(s);
  }
  const auto n = static_cast<double>(customers.size());
  result.model.mean_r = sum_r / n;
  result.model.mean_f = sum_f / n;
  result.model.mean_m = sum_m / n;
  for (RfmScore& s : result.scores) {
    s.group =
        GroupOf(s.r > result.model.mean_r, s.f > result.model.mean_f, s.m > result.model.mean_m);
    ++result.group_counts[static_cast<size_t>(s.group)];
  }
  return result;
}

Result<RfmScore> ScoreRfm(const RfmModel& model, const RfmInput& customer) {
  PORTRAIT_RETURN_IF_ERROR(Check(customer));
  return Score(model, customer);
}

}  // namespace portrait::analytics
