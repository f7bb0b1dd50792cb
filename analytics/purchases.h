// Customer summaries: one customer's purchase log → the inputs of the BG/NBD, Gamma-Gamma and
// RFM models.
//
// Definitions (docs/DECISIONS.md 92):
//  - A purchase belongs to the calibration period when its time is at or before `until`.
//  - Purchases on the same calendar day count as one transaction, their amounts summed. Days
//    are UTC calendar days: a time is floored to the whole days since the Unix epoch. (A caller
//    that wants the customer's own day shifts the times by the customer's UTC offset first.)
//  - Times are measured between days, never within a day: t_x = (last day − first day) and
//    T = (day of `until` − first day), in `unit` (a week is 7 days).
//  - x (frequency) is the number of transactions after the first; the mean repeat value is the
//    mean amount of those x transactions (the first is excluded; 0 when x = 0).
//  - For RFM: days_since_last = day of `until` − last day; transactions = x + 1; total = the sum
//    of every amount in the period.
//
// Pure functions, thread-safe. Errors are InvalidArgument naming the purchase by its index,
// never its value.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace portrait::analytics {

struct Purchase {
  int64_t time_us = 0;  // microseconds since the Unix epoch, UTC
  double amount = 0;    // finite, ≥ 0
};

enum class TimeUnit { kDay, kWeek };

// Days in one `unit`.
double DaysPerUnit(TimeUnit unit);

struct SummaryOptions {
  int64_t until_us = 0;  // the calibration period's end (inclusive)
  TimeUnit unit = TimeUnit::kWeek;
};

struct CustomerSummary {
  // BG/NBD
  int64_t x = 0;   // repeat transactions
  double t_x = 0;  // first to last transaction, in units
  double T = 0;    // first transaction to `until`, in units
  // Gamma-Gamma
  double mean_repeat_value = 0;  // mean amount of the x repeat transactions; 0 when x = 0
  // RFM
  int64_t days_since_last = 0;  // last transaction's day to `until`'s day
  int64_t transactions = 0;     // x + 1
  double total_amount = 0;      // all transactions in the period
};

// Summarises one customer's purchases (in any order; a day's amounts are summed in the order
// given). NotFound when none falls in the calibration period (the customer did not exist yet);
// InvalidArgument for a non-finite or negative amount, or a time before 1970 or after the year
// 9999.
Result<CustomerSummary> Summarize(std::span<const Purchase> purchases,
                                  const SummaryOptions& options);

// One customer's summary built a purchase at a time, for purchases that arrive in
// non-decreasing time order (a model fit reads a type's events in (time, key) order), in 40
// bytes instead of the whole log. Finish gives exactly what Summarize gives for the same
// purchases in the same order: the same days, each day's amounts and the day totals summed in
// the same order. Every purchase added must be at or before the `until` given to Finish.
class RunningSummary {
 public:
  // Adds `p`. False, and nothing changed, when `p` is on a day before the last one added (the
  // order is broken: the caller's fault). A purchase Summarize would refuse (its time or its
  // amount out of range) is kept as a mark: Finish refuses the customer.
  bool Add(const Purchase& p);
  // As Summarize: NotFound when nothing was added; InvalidArgument for a refused purchase (not
  // naming it), for a sum beyond the range of a double, or for `until` out of range.
  Result<CustomerSummary> Finish(const SummaryOptions& options) const;

 private:
  int32_t first_day_ = 0;
  int32_t last_day_ = 0;
  int32_t days_ = 0;  // distinct days added
  bool refused_ = false;
  double repeat_total_ = 0;  // the closed repeat days' totals (the last day's not yet in)
  double total_ = 0;         // every closed day's total
  double day_amount_ = 0;    // the last day's total so far
};

}  // namespace portrait::analytics
