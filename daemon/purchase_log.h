// A [[model]]'s inputs, read from the stored events (the source of truth; docs/DECISIONS.md
// 102): every event of the model's `purchases` type up to `until`, in pages of the store's
// events_by_type range (Store::EventsOfType, on a read connection: the writer is not held up),
// each one's amount opened from its data sealed with its profile's key (one unwrap per profile
// and page). Then each customer summarised (analytics/purchases.h) and the BG/NBD and
// Gamma-Gamma fits made. Runs on the job thread; nothing personal leaves it but the fitted,
// base-wide parameters.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "analytics/purchases.h"
#include "daemon/derived_params.h"
#include "rules/rule_set.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

struct PurchaseLogs {
  std::map<store::ProfileId, std::vector<analytics::Purchase>> by_profile;
  int64_t events = 0;
  int64_t without_amount = 0;  // data with no usable amount at the key: counted as 0
  int64_t unreadable = 0;      // of profiles erased while the fit read (skipped)
};

// The purchases of events of `type` at or before `until_us`, by profile.
Result<PurchaseLogs> ReadPurchases(store::Store& store, store::ProfileVault& vault,
                                   std::string_view type, std::string_view amount_key,
                                   int64_t until_us);

// Summarises each customer as of `until_us` in the model's unit and fits BG/NBD over all of them
// and Gamma-Gamma over the repeat buyers with a positive mean value (none when there is no such
// buyer). A customer whose log can't be summarised (a time before 1970) is left out.
// InvalidArgument when BG/NBD has nothing to fit (no customer, none bought twice).
Result<FittedModel> FitPurchases(const rules::Model& model, const PurchaseLogs& logs,
                                 int64_t until_us);

analytics::TimeUnit UnitOf(const rules::Model& model);

}  // namespace portrait::daemon
