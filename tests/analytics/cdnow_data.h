// The CDNOW purchase logs in examples/cdnow/, read for the analytics tests: each customer's
// purchases in file order. The master log's lines are "id YYYYMMDD cds dollars" (after a header
// line); the 1/10 sample's are "master-id sample-id YYYYMMDD cds dollars". Dates are taken as
// midnight UTC.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analytics/purchases.h"

namespace portrait::analytics::testing {

enum class CdnowFile { kMaster, kSample };

// Customer id (the sample's own id for the sample) → purchases. Fails the test on a bad line.
std::map<int64_t, std::vector<Purchase>> ReadCdnow(const std::string& path, CdnowFile kind);

// Midnight UTC of a YYYYMMDD date, in microseconds since the epoch.
int64_t DateUs(int yyyymmdd);

}  // namespace portrait::analytics::testing
