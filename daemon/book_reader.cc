#include "daemon/book_reader.h"

#include "daemon/derived_values.h"
#include "daemon/metrics_scan.h"
#include "daemon/purchase_log.h"
#include "rules/purchase_book.h"

namespace portrait::daemon {
Result<BookSummaries> ReadBooks(store::Store& store, store::ProfileVault& vault,
                                const rules::Model& model, int64_t until_us) {
  const analytics::TimeUnit unit = UnitOf(model);
  std::array<BookSummaries, 2> halves;
  PORTRAIT_ASSIGN_OR_RETURN(
      MetricsScanned scanned,
      ScanMetrics(store, vault, {std::string(rules::kPurchasesKey)},
                  [&](int half, store::ProfileId, const nlohmann::json& metrics) {
                    if (std::optional<rules::PurchaseBook> book =
                            rules::ReadPurchaseBook(metrics, model.name)) {
                      halves[half].customers.push_back(SummaryOfBook(*book, unit, until_us));
                      halves[half].purchase_days += book->repeat_days + 1;
                    }
                  }));
  BookSummaries& all = halves[0];
  all.customers.insert(all.customers.end(), halves[1].customers.begin(), halves[1].customers.end());
  all.purchase_days += halves[1].purchase_days;
  all.erased = scanned.erased;
  return std::move(all);
}

}  // namespace portrait::daemon
