#include "rules/metrics.h"

#include <cmath>
#include <limits>
#include <optional>

namespace portrait::rules {
namespace {

using nlohmann::json;

constexpr double kLargest = std::numeric_limits<double>::max();

// The stored value of `name` when it is a finite number; nullopt when missing or another type.
std::optional<double> StoredNumber(const json& metrics, const std::string& name) {
  auto it = metrics.find(name);
  if (it == metrics.end() || !it->is_number() || !std::isfinite(it->get<double>())) {
    return std::nullopt;
  }
  return it->get<double>();
}

// Whether a stored value has the type its metric keeps.
bool Fits(const Metric& m, const json& metrics) {
  switch (m.kind) {
    case MetricKind::kCount:
      return IntegerAt(metrics, m.name).value_or(-1) >= 0;
    case MetricKind::kSum:
    case MetricKind::kMin:
    case MetricKind::kMax:
      return StoredNumber(metrics, m.name).has_value();
    case MetricKind::kLast:
      return !m.key.empty() || IntegerAt(metrics, m.name).has_value();
    case MetricKind::kTop:
      return metrics.at(m.name).is_string();
  }
  return false;
}

// Whether a `top` metric's tallies are an object of counts.
bool TallyFits(const json& tally) {
  if (!tally.is_object()) {
    return false;
  }
  for (const auto& [value, count] : tally.items()) {
    if (!count.is_number_integer()) {
      return false;
    }
  }
  return true;
}

const json* DataValue(const EventFacts& e, const std::string& key) {
  const json* at = e.data;
  size_t start = 0;
  while (at && at->is_object()) {
    size_t dot = key.find('.', start);
    auto it = at->find(key.substr(start, dot == std::string::npos ? dot : dot - start));
    if (it == at->end()) {
      return nullptr;
    }
    at = &*it;
    if (dot == std::string::npos) {
      return at;
    }
    start = dot + 1;
  }
  return nullptr;
}

bool Tally(const std::string& name, const json& value, json& metrics) {
  if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
    return false;
  }
  const std::string v = value.is_string()
                            ? value.get<std::string>()
                            : value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!metrics["$top"].is_object()) {
    metrics["$top"] = json::object();
  }
  json& tally = metrics["$top"][name];
  if (!TallyFits(tally)) {
    tally = json::object();
  }
  if (!tally.contains(v) && tally.size() >= kTopTallyLimit) {
    auto rarest = tally.begin();
    for (auto it = tally.begin(); it != tally.end(); ++it) {
      if (it.value().get<int64_t>() < rarest.value().get<int64_t>()) {
        rarest = it;
      }
    }
    tally.erase(rarest);
  }
  tally[v] = tally.value(v, int64_t{0}) + 1;
  const int64_t count = tally[v].get<int64_t>();
  auto stored = metrics.find(name);
  const std::string current =
      stored != metrics.end() && stored->is_string() ? stored->get<std::string>() : "";
  // Ties go to the smaller value, so the result does not depend on the order events arrive in.
  const int64_t current_count = tally.value(current, int64_t{0});
  if (current.empty() || count > current_count || (count == current_count && v < current)) {
    metrics[name] = v;
  }
  return true;
}

// Whether an event at `time_us` is the latest seen for keyed `last` metric `name`; if so,
// remembers its time under "$last", so a late older event does not replace a newer value.
bool LatestSoFar(json& metrics, const std::string& name, int64_t time_us) {
  if (!metrics["$last"].is_object()) {
    metrics["$last"] = json::object();
  }
  json& times = metrics["$last"];
  if (std::optional<int64_t> latest = IntegerAt(times, name); latest && *latest > time_us) {
    return false;
  }
  times[name] = time_us;
  return true;
}

}  // namespace

std::optional<int64_t> IntegerAt(const json& object, const std::string& key) {
  auto it = object.is_object() ? object.find(key) : object.end();
  if (it == object.end() || !it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})) {
    return std::nullopt;
  }
  return it->get<int64_t>();
}

std::vector<std::string> TimeMetricNames(const std::vector<Metric>& defs) {
  std::vector<std::string> out;
  for (const Metric& m : defs) {
    if (m.type() == Type::kTime) {
      out.push_back(m.name);
    }
  }
  return out;
}

Type Metric::type() const {
  switch (kind) {
    case MetricKind::kLast:
      return key.empty() ? Type::kTime : Type::kAny;
    case MetricKind::kTop:
      return Type::kString;
    default:
      return Type::kNumber;
  }
}

std::vector<std::string> RepairMetrics(const std::vector<Metric>& defs, json& metrics) {
  std::vector<std::string> repaired;
  if (!metrics.is_object()) {
    metrics = json::object();
    repaired.push_back("(all)");
    return repaired;
  }
  for (const Metric& m : defs) {
    if (metrics.contains(m.name) && !Fits(m, metrics)) {
      metrics.erase(m.name);
      repaired.push_back(m.name);
    }
    if (m.kind != MetricKind::kTop || !metrics.contains("$top")) {
      continue;
    }
    json& tallies = metrics["$top"];
    if (!tallies.is_object()) {
      tallies = json::object();
      repaired.push_back(m.name);
    } else if (tallies.contains(m.name) && !TallyFits(tallies[m.name])) {
      tallies.erase(m.name);
      repaired.push_back(m.name);
    }
  }
  return repaired;
}

void ForgetMetrics(const std::vector<Metric>& defs, json& metrics) {
  if (!metrics.is_object()) {
    return;
  }
  for (const Metric& m : defs) {
    metrics.erase(m.name);
    for (const char* aux : {"$top", "$last"}) {
      if (auto it = metrics.find(aux); it != metrics.end() && it->is_object()) {
        it->erase(m.name);
      }
    }
  }
}

bool ApplyEvent(const std::vector<Metric>& defs, const EventFacts& event, json& metrics) {
  if (!metrics.is_object()) {
    metrics = json::object();
  }
  bool changed = false;
  for (const Metric& m : defs) {
    if (m.event_type != event.type) {
      continue;
    }
    const json* value = m.key.empty() ? nullptr : DataValue(event, m.key);
    switch (m.kind) {
      case MetricKind::kCount:
        metrics[m.name] = std::max<int64_t>(IntegerAt(metrics, m.name).value_or(0), 0) + 1;
        changed = true;
        break;
      case MetricKind::kSum:
      case MetricKind::kMin:
      case MetricKind::kMax: {
        if (!value || !value->is_number() || !std::isfinite(value->get<double>())) {
          break;
        }
        const double v = value->get<double>();
        if (std::optional<double> cur = StoredNumber(metrics, m.name); !cur) {
          metrics[m.name] = v;
        } else {
          // A sum saturates at the largest finite double: infinity has no JSON form.
          metrics[m.name] = m.kind == MetricKind::kSum   ? std::clamp(*cur + v, -kLargest, kLargest)
                            : m.kind == MetricKind::kMin ? std::min(*cur, v)
                                                         : std::max(*cur, v);
        }
        changed = true;
        break;
      }
      case MetricKind::kLast:
        if (m.key.empty()) {
          std::optional<int64_t> latest = IntegerAt(metrics, m.name);
          if (!latest || *latest <= event.time_us) {
            metrics[m.name] = event.time_us;  // an older event arriving late does not win
            changed = true;
          }
        } else if (value && LatestSoFar(metrics, m.name, event.time_us)) {
          metrics[m.name] = *value;
          changed = true;
        }
        break;
      case MetricKind::kTop:
        changed = value && Tally(m.name, *value, metrics) ? true : changed;
        break;
    }
  }
  return changed;
}

}  // namespace portrait::rules
