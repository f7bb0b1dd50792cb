// A fit's inputs read from the customers' purchase books (rules/purchase_book.h) rather than
// from their events, for when daemon/kept_marks.h says a model's books are complete: every
// profile's metrics scanned (daemon/metrics_scan.h, two threads), each book summarised as of
// `until` as SummaryOfBook (daemon/derived_values.h) does. Nothing personal leaves here but
// summaries without ids and counts. Runs on the job thread.
#pragma once

#include <vector>

#include "analytics/purchases.h"
#include "base/result.h"
#include "rules/rule_set.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

struct BookSummaries {
  std::vector<analytics::CustomerSummary> customers;  // one a customer with a book
  int64_t purchase_days = 0;                          // summed over the books (x + 1 each)
  int64_t erased = 0;                                 // profiles erased while read (skipped)
};

// The summaries of `model`'s books as of `until_us`, which must be at or after every stored
// purchase of the model (Store::LatestEventTime), else a book would hold days after it.
Result<BookSummaries> ReadBooks(store::Store& store, store::ProfileVault& vault,
                                const rules::Model& model, int64_t until_us);

}  // namespace portrait::daemon
