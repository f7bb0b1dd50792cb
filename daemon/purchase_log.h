// A [[model]]'s inputs, read from the stored events (the source of truth; docs/DECISIONS.md
// 102): every event of the model's `purchases` type up to `until`, in pages of the store's
// events_by_type range (Store::EventsOfType, on a read connection: the writer is not held up),
// each one's amount opened from its data sealed with its profile's key (one unwrap per profile
// and page). The events come in (time, key) order, so each customer's purchases arrive day
// after day and are summarised as they come (analytics::RunningSummary, DECISIONS 113): the
// memory held is one summary per customer (about 76 bytes with the map's node and buckets),
// never the purchases. Then the BG/NBD and Gamma-Gamma fits are made. Runs on the job thread;
// nothing personal leaves it but the fitted, base-wide parameters and counts.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "analytics/purchases.h"
#include "daemon/derived_params.h"
#include "rules/rule_set.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

struct PurchaseSummaries {
  std::unordered_map<store::ProfileId, analytics::RunningSummary> by_profile;
  int64_t events = 0;          // read and summarised (also of customers dropped later)
  int64_t without_amount = 0;  // data with no usable amount at the key: counted as 0
  int64_t unreadable = 0;      // of profiles erased while the fit read (skipped)
  // Customers erased or merged away while the fit read: left out whole, their summary of the
  // pages before dropped (an erased person's purchases must not shape the fit, nor a history
  // cut short at the erasure pass for a lapsed customer's).
  std::unordered_set<store::ProfileId> dropped;
};

// The purchases of events of `type` at or before `until_us`, summarised by profile; once read,
// the customers whose profile is gone (ids no longer in Store::ProfileIds: erased, or merged
// away) are dropped — an erasure deletes the events of the pages still to come, so a missing
// key alone would not tell. Internal when the store breaks its (time, key) order.
Result<PurchaseSummaries> ReadPurchases(store::Store& store, store::ProfileVault& vault,
                                        std::string_view type, std::string_view amount_key,
                                        int64_t until_us);

// Fits BG/NBD over `summaries` (as of `until_us`, in the model's unit) and Gamma-Gamma over the
// repeat buyers with a positive mean value (none when there is no such buyer). InvalidArgument
// when BG/NBD has nothing to fit. The counts of what was read are the caller's to fill in.
Result<FittedModel> FitSummaries(const rules::Model& model,
                                 std::span<const analytics::CustomerSummary> summaries,
                                 int64_t until_us);

// Each customer's summary as of `options.until_us`; a customer whose log can't be summarised (a
// time before 1970) is left out.
std::vector<analytics::CustomerSummary> Summaries(const PurchaseSummaries& logs,
                                                  const analytics::SummaryOptions& options);

analytics::TimeUnit UnitOf(const rules::Model& model);

}  // namespace portrait::daemon
