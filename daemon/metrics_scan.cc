#include "daemon/metrics_scan.h"

#include <array>
#include <exception>
#include <future>

#include "base/in_two_halves.h"

namespace portrait::daemon {
namespace {

constexpr int kPage = 5'000;

// One page of profile rows and their data keys, in id order.
struct Page {
  std::vector<store::ProfileRow> rows;
  std::vector<std::pair<store::ProfileId, std::string>> keys;
};

// Opens the metrics of rows [from, to) of one page, `keys` being the page's data keys in id
// order; counts into `scanned`. Never throws.
Status OpenHalf(store::ProfileVault& vault, const std::vector<store::ProfileRow>& rows,
                const std::vector<std::pair<store::ProfileId, std::string>>& keys, size_t from,
                size_t to, int half, const std::vector<std::string>& only,
                const MetricsVisitor& visit, MetricsScanned& scanned) {
  try {
    size_t k = 0;
    for (size_t i = from; i < to; ++i) {
      const store::ProfileRow& row = rows[i];
      while (k < keys.size() && keys[k].first < row.id) {
        ++k;
      }
      if (row.metrics.empty()) {
        continue;
      }
      if (k == keys.size() || keys[k].first != row.id) {
        ++scanned.erased;
        continue;
      }
      PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, vault.Unwrap(row.id, keys[k].second));
      PORTRAIT_ASSIGN_OR_RETURN(nlohmann::json metrics,
                                store::ProfileVault::OpenMetrics(key, row, &only));
      visit(half, row.id, metrics);
      ++scanned.profiles;
    }
    return Status::Ok();
  } catch (const std::exception&) {
    return Status::Internal("reading the metrics: out of memory");
  }
}

// The scan; it may throw (std::async without a thread, or memory).
Result<MetricsScanned> ScanPages(store::Store& store, store::ProfileVault& vault,
                                 const std::vector<std::string>& only,
                                 const MetricsVisitor& visit) {
  auto read = [&store](store::ProfileId after) -> Result<Page> {
    Page page;
    PORTRAIT_ASSIGN_OR_RETURN(page.rows, store.ProfileRows(after, kPage));
    if (!page.rows.empty()) {
      PORTRAIT_ASSIGN_OR_RETURN(page.keys,
                                store.DataKeysBetween(page.rows.front().id, page.rows.back().id));
    }
    return page;
  };
  MetricsScanned total;
  // The next page is read while this one is opened. (A future of std::async waits for its
  // read when destroyed, so an early return leaves none running.)
  std::future<Result<Page>> next = std::async(std::launch::async, read, 0);
  while (true) {
    PORTRAIT_ASSIGN_OR_RETURN(Page page, next.get());
    if (page.rows.empty()) {
      return total;
    }
    next = std::async(std::launch::async, read, page.rows.back().id);
    const std::vector<store::ProfileRow>& rows = page.rows;
    std::array<MetricsScanned, 2> scanned{};
    std::array<Status, 2> failed;
    InTwoHalves(rows.size(), [&](size_t from, size_t to) {
      const int half = to == rows.size() ? 1 : 0;  // the halves never share a slot
      failed[half] = OpenHalf(vault, rows, page.keys, from, to, half, only, visit, scanned[half]);
    });
    for (int half : {0, 1}) {
      PORTRAIT_RETURN_IF_ERROR(failed[half]);
      total.profiles += scanned[half].profiles;
      total.erased += scanned[half].erased;
    }
  }
}

}  // namespace

Result<MetricsScanned> ScanMetrics(store::Store& store, store::ProfileVault& vault,
                                   const std::vector<std::string>& only,
                                   const MetricsVisitor& visit) {
  try {
    return ScanPages(store, vault, only, visit);
  } catch (const std::exception&) {  // no thread for the next page's read, or no memory
    return Error(Status::Internal("reading the metrics: out of threads or memory"));
  }
}

}  // namespace portrait::daemon
