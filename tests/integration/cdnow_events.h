// The CDNOW 1/10 sample (examples/cdnow/CDNOW_sample.txt) for the integration tests: its
// purchases as CloudEvents (as cdnow_events.sh makes them), and each customer's purchase log.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analytics/purchases.h"

namespace portrait::testing {

inline const std::string kCdnowSample =
    std::string(PORTRAIT_SOURCE_DIR) + "/examples/cdnow/CDNOW_sample.txt";

// The rules the tests add for the sample: the lifetime-value model over its purchases, in
// weeks, and an RFM score over the example's order metrics.
inline const std::string kCdnowModel = R"toml(
[[model]]
name = "clv"
kind = "bgnbd"
purchases = "order.placed"
amount = "amount"
unit = "week"
)toml";
inline const std::string kCdnowScore = R"toml(
[[score]]
name = "rfm"
kind = "rfm"
recency = "last_order"
frequency = "orders"
monetary = "spent"
)toml";

// Writes one JSON line per purchase to `path`: type "order.placed", subject "cdnow-ID" (the
// sample's own id), at noon UTC of its day, data {amount, items, category}. Returns `path`.
std::string WriteCdnowEvents(const std::string& path);

// The sample's purchase logs by its own customer id, at midnight UTC of each day.
std::map<int, std::vector<analytics::Purchase>> CdnowLogs();

}  // namespace portrait::testing
