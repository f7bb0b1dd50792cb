// ScanMetrics: every profile's metrics, for a base-wide computation off the writer (an RFM
// refresh, a model fit from the purchase books). Profile rows come in id ranges of 5,000 on a
// read connection, their data keys in one range read a page (Store::DataKeysBetween); opening
// each profile's sealed metrics is most of the cost, so half of each page is opened on a second
// thread (base/in_two_halves.h), while a third reads the next page. A profile without metrics,
// or erased while the scan reads (its key gone), is skipped. Runs on the calling thread (a
// job); holds two pages in memory.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "base/result.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

// Sees one profile's opened metrics. `half` is 0 or 1: the calls with one `half` come from one
// thread, one after another, so a visitor keeps one accumulator a half and needs no lock. An
// exception it throws ends the scan with Internal.
using MetricsVisitor =
    std::function<void(int half, store::ProfileId id, const nlohmann::json& metrics)>;

struct MetricsScanned {
  int64_t profiles = 0;  // whose metrics were opened
  int64_t erased = 0;    // skipped: their key was gone when read
};

// Visits every profile with metrics, in id order within each half of a page, each with the
// top-level entries `only` names alone (store::ProfileVault::OpenMetrics). The first error (a
// key that does not unwrap, metrics that do not open) ends the scan.
Result<MetricsScanned> ScanMetrics(store::Store& store, store::ProfileVault& vault,
                                   const std::vector<std::string>& only,
                                   const MetricsVisitor& visit);

}  // namespace portrait::daemon
