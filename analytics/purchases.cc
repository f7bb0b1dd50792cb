#include "analytics/purchases.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace portrait::analytics {
namespace {

constexpr int64_t kUsPerDay = 86'400'000'000;
constexpr int64_t kLatestUs = 253'402'300'800'000'000;  // 10000-01-01T00:00:00Z

bool InRange(int64_t time_us) { return time_us >= 0 && time_us < kLatestUs; }

struct DayTotal {
  int64_t day = 0;
  double amount = 0;
};

// The period's purchases as one total per UTC day, in day order.
Result<std::vector<DayTotal>> DailyTotals(std::span<const Purchase> purchases, int64_t until_us) {
  std::vector<DayTotal> days;
  for (size_t i = 0; i < purchases.size(); ++i) {
    const Purchase& p = purchases[i];
    if (!InRange(p.time_us)) {
      return Error(Status::InvalidArgument("purchase " + std::to_string(i) +
                                           ": time outside 1970-01-01..9999-12-31"));
    }
    if (!std::isfinite(p.amount) || p.amount < 0) {
      return Error(Status::InvalidArgument("purchase " + std::to_string(i) +
                                           ": amount is not a finite number ≥ 0"));
    }
    if (p.time_us <= until_us) days.push_back({p.time_us / kUsPerDay, p.amount});
  }
  std::stable_sort(days.begin(), days.end(),
                   [](const DayTotal& a, const DayTotal& b) { return a.day < b.day; });
  std::vector<DayTotal> merged;
  for (const DayTotal& d : days) {
    if (!merged.empty() && merged.back().day == d.day) {
      merged.back().amount += d.amount;
    } else {
      merged.push_back(d);
    }
  }
  return merged;
}

}  // namespace

double DaysPerUnit(TimeUnit unit) { return unit == TimeUnit::kWeek ? 7.0 : 1.0; }

Result<CustomerSummary> Summarize(std::span<const Purchase> purchases,
                                  const SummaryOptions& options) {
  if (!InRange(options.until_us)) {
    return Error(Status::InvalidArgument("until: outside 1970-01-01..9999-12-31"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<DayTotal> days, DailyTotals(purchases, options.until_us));
  if (days.empty()) return Error(Status::NotFound("no purchase in the calibration period"));
  const double per_unit = DaysPerUnit(options.unit);
  const int64_t until_day = options.until_us / kUsPerDay;
  CustomerSummary s;
  s.x = static_cast<int64_t>(days.size()) - 1;
  s.t_x = static_cast<double>(days.back().day - days.front().day) / per_unit;
  s.T = static_cast<double>(until_day - days.front().day) / per_unit;
  s.days_since_last = until_day - days.back().day;
  s.transactions = static_cast<int64_t>(days.size());
  double repeat_total = 0;
  for (size_t i = 0; i < days.size(); ++i) {
    s.total_amount += days[i].amount;
    if (i > 0) repeat_total += days[i].amount;
  }
  if (!std::isfinite(s.total_amount)) {
    return Error(Status::InvalidArgument("amounts: their sum is beyond the range of a double"));
  }
  if (s.x > 0) s.mean_repeat_value = repeat_total / static_cast<double>(s.x);
  return s;
}

bool RunningSummary::Add(const Purchase& p) {
  if (!InRange(p.time_us) || !std::isfinite(p.amount) || p.amount < 0) {
    refused_ = true;
    return true;
  }
  const auto day = static_cast<int32_t>(p.time_us / kUsPerDay);  // < 2,932,897: fits
  if (days_ == 0) {
    first_day_ = last_day_ = day;
    days_ = 1;
    day_amount_ = p.amount;
    return true;
  }
  if (day < last_day_) {
    return false;
  }
  if (day == last_day_) {
    day_amount_ += p.amount;
    return true;
  }
  total_ += day_amount_;  // the last day closes
  if (days_ > 1) {
    repeat_total_ += day_amount_;
  }
  day_amount_ = p.amount;
  last_day_ = day;
  ++days_;
  return true;
}

Result<CustomerSummary> RunningSummary::Finish(const SummaryOptions& options) const {
  if (!InRange(options.until_us)) {
    return Error(Status::InvalidArgument("until: outside 1970-01-01..9999-12-31"));
  }
  if (refused_) {
    return Error(Status::InvalidArgument("a purchase's time or amount is out of range"));
  }
  if (days_ == 0) return Error(Status::NotFound("no purchase in the calibration period"));
  const double per_unit = DaysPerUnit(options.unit);
  const int64_t until_day = options.until_us / kUsPerDay;
  CustomerSummary s;
  s.x = days_ - 1;
  s.t_x = static_cast<double>(last_day_ - first_day_) / per_unit;
  s.T = static_cast<double>(until_day - first_day_) / per_unit;
  s.days_since_last = until_day - last_day_;
  s.transactions = days_;
  s.total_amount = total_ + day_amount_;
  if (!std::isfinite(s.total_amount)) {
    return Error(Status::InvalidArgument("amounts: their sum is beyond the range of a double"));
  }
  if (s.x > 0) s.mean_repeat_value = (repeat_total_ + day_amount_) / static_cast<double>(s.x);
  return s;
}

}  // namespace portrait::analytics
