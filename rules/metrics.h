// Metrics: per-profile figures kept up to date from events, one event at a time:
//   count = "order.placed"            how many
//   sum/min/max = "order.placed:amount"  over a numeric key of the event's data
//   last = "order.placed"             the time of the latest (µs); "order.placed:sku" its value
//   top = "order.placed:category"     the most frequent value (ties: the smallest)
// Values live in a JSON object (name -> value); `top` also keeps its tallies under "$top", and a
// keyed `last` the time of its value under "$last". Both kinds of `last` follow the events'
// times, not their arrival: an older event arriving late changes neither.
// Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "rules/evaluator.h"

namespace portrait::rules {

enum class MetricKind { kCount, kSum, kMin, kMax, kLast, kTop };

struct Metric {
  std::string name;
  MetricKind kind = MetricKind::kCount;
  std::string event_type;
  std::string key;  // a key of the event's data (dotted); empty for count and plain last
  config::SourcePos pos;

  Type type() const;
};

// Applies `event` to `metrics`; returns whether anything changed. A stored value of the wrong
// type counts as missing; a sum saturates at the largest finite double; numbers that are not
// finite are ignored. Never throws, whatever `metrics` holds.
bool ApplyEvent(const std::vector<Metric>& defs, const EventFacts& event, nlohmann::json& metrics);

// Removes every stored value whose type its metric does not keep (a count that is not a
// non-negative integer, a sum that is not a finite number, …), so the next event starts it
// afresh. Returns the names of the metrics repaired, "(all)" when `metrics` was not an object.
std::vector<std::string> RepairMetrics(const std::vector<Metric>& defs, nlohmann::json& metrics);

// Removes the values `defs` keep (with a `top`'s tallies and a keyed `last`'s time), so that
// applying every stored event again under `defs` rebuilds them from nothing.
void ForgetMetrics(const std::vector<Metric>& defs, nlohmann::json& metrics);

// The integer under `key` of a stored object; nullopt when `object` is not an object, or the key
// is missing or holds another type (stored state is never trusted to have the right type).
std::optional<int64_t> IntegerAt(const nlohmann::json& object, const std::string& key);

// The names of the metrics whose values are times (a `last` without a key: microseconds since
// 1970), which a view shows as RFC 3339 (consent::BuildDerivedView).
std::vector<std::string> TimeMetricNames(const std::vector<Metric>& defs);

// How many distinct values a `top` metric tallies before forgetting the rarest.
inline constexpr size_t kTopTallyLimit = 64;

}  // namespace portrait::rules
