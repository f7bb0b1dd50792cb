// The purchase book: a [[model]]'s per-profile inputs, kept as bookkeeping inside the metrics
// object (like "$tags"), under metrics["$purchases"][MODEL] (docs/DECISIONS.md 103):
//
//   {"days": [[day, amount], ...], "folded": [days, amount, through_day]}
//
// `days` holds the distinct UTC days (whole days since the Unix epoch) with a purchase, sorted,
// each with the day's amounts summed; the first is the first purchase. At most kBookDays days
// are kept: past that, the oldest repeat day (never the first) is folded into `folded` (how
// many days, their amount, the latest folded day). So x (repeat days), t_x (last day − first
// day), the first day and the mean repeat value follow exactly as analytics/purchases.h
// defines them, whatever order the events arrive in — except that a late purchase on a day at
// or before the latest folded day counts as on a day already counted (its amount is added).
// Sums of amounts saturate at the largest double (never infinite, which JSON can't hold).
// Stored state is never trusted: a book of the wrong shape starts afresh. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "rules/evaluator.h"
#include "rules/rule_set.h"

namespace portrait::rules {

inline constexpr std::string_view kPurchasesKey = "$purchases";
inline constexpr size_t kBookDays = 1000;

// The number at the dotted `key` of an event's `data`, if it is a finite number ≥ 0 (what a
// model reads as a purchase's value; a purchase without one counts with the value 0).
std::optional<double> AmountAt(const nlohmann::json& data, std::string_view key);

// Records the event, if it is one of `model`'s purchases, in `metrics`' book for the model.
// Returns whether it was one.
bool RecordPurchase(const Model& model, const EventFacts& event, nlohmann::json& metrics);

// Removes `model_name`'s book from `metrics`, so that recording every stored purchase again
// rebuilds it from nothing.
void ForgetBook(std::string_view model_name, nlohmann::json& metrics);

// What a book says, in days.
struct PurchaseBook {
  int64_t first_day = 0;
  int64_t last_day = 0;
  int64_t repeat_days = 0;   // x
  double repeat_amount = 0;  // summed over the repeat days
  double first_amount = 0;
};

// The book of `model_name` in `metrics`, or nullopt when there is none (or it is malformed).
std::optional<PurchaseBook> ReadPurchaseBook(const nlohmann::json& metrics,
                                             std::string_view model_name);

}  // namespace portrait::rules
