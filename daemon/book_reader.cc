#include "daemon/book_reader.h"

#include <array>
#include <cmath>

#include "daemon/derived_values.h"
#include "daemon/metrics_scan.h"
#include "rules/purchase_book.h"

namespace portrait::daemon {
namespace {

bool Same(const analytics::CustomerSummary& a, const analytics::CustomerSummary& b) {
  const double scale =
      std::max({1.0, std::fabs(a.mean_repeat_value), std::fabs(b.mean_repeat_value)});
  return a.x == b.x && a.t_x == b.t_x && a.T == b.T &&
         std::fabs(a.mean_repeat_value - b.mean_repeat_value) <= 1e-9 * scale;
}

}  // namespace

Result<BookSummaries> ReadBooks(store::Store& store, store::ProfileVault& vault,
                                const rules::Model& model, int64_t until_us) {
  const analytics::TimeUnit unit = UnitOf(model);
  std::array<BookSummaries, 2> halves;
  PORTRAIT_ASSIGN_OR_RETURN(
      MetricsScanned scanned,
      ScanMetrics(store, vault, [&](int half, store::ProfileId, const nlohmann::json& metrics) {
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

Result<BookComparison> CompareBooks(store::Store& store, store::ProfileVault& vault,
                                    const rules::Model& model, const PurchaseSummaries& logs,
                                    int64_t until_us) {
  const analytics::SummaryOptions options{until_us, UnitOf(model)};
  BookComparison compared;
  for (const auto& [id, running] : logs.by_profile) {
    compared.customers += running.Finish(options).has_value() ? 1 : 0;
  }
  std::array<int64_t, 2> books{}, agreeing{};
  PORTRAIT_RETURN_IF_ERROR(
      ScanMetrics(store, vault, [&](int half, store::ProfileId id, const nlohmann::json& metrics) {
        std::optional<rules::PurchaseBook> book = rules::ReadPurchaseBook(metrics, model.name);
        if (!book) {
          return;
        }
        ++books[half];
        const auto log = logs.by_profile.find(id);  // read-only on both threads
        if (log != logs.by_profile.end()) {
          auto events = log->second.Finish(options);
          agreeing[half] +=
              events && Same(*events, SummaryOfBook(*book, options.unit, until_us)) ? 1 : 0;
        }
      }));
  compared.books = books[0] + books[1];
  compared.agreeing = agreeing[0] + agreeing[1];
  return compared;
}

}  // namespace portrait::daemon
