#include "rules/metrics.h"

namespace portrait::rules {
namespace {

const nlohmann::json* DataValue(const EventFacts& e, const std::string& key) {
  const nlohmann::json* at = e.data;
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

bool Tally(const std::string& name, const nlohmann::json& value, nlohmann::json& metrics) {
  if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
    return false;
  }
  const std::string v = value.is_string() ? value.get<std::string>() : value.dump();
  nlohmann::json& tally = metrics["$top"][name];
  if (!tally.is_object()) {
    tally = nlohmann::json::object();
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
  const std::string current = metrics.contains(name) ? metrics[name].get<std::string>() : "";
  if (current.empty() || (current != v && count > tally.value(current, int64_t{0}))) {
    metrics[name] = v;
  }
  return true;
}

}  // namespace

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

bool ApplyEvent(const std::vector<Metric>& defs, const EventFacts& event, nlohmann::json& metrics) {
  if (!metrics.is_object()) {
    metrics = nlohmann::json::object();
  }
  bool changed = false;
  for (const Metric& m : defs) {
    if (m.event_type != event.type) {
      continue;
    }
    const nlohmann::json* value = m.key.empty() ? nullptr : DataValue(event, m.key);
    switch (m.kind) {
      case MetricKind::kCount:
        metrics[m.name] = metrics.value(m.name, int64_t{0}) + 1;
        changed = true;
        break;
      case MetricKind::kSum:
      case MetricKind::kMin:
      case MetricKind::kMax: {
        if (!value || !value->is_number()) {
          break;
        }
        double v = value->get<double>();
        if (!metrics.contains(m.name)) {
          metrics[m.name] = v;
        } else {
          double cur = metrics[m.name].get<double>();
          metrics[m.name] = m.kind == MetricKind::kSum   ? cur + v
                            : m.kind == MetricKind::kMin ? std::min(cur, v)
                                                         : std::max(cur, v);
        }
        changed = true;
        break;
      }
      case MetricKind::kLast:
        if (m.key.empty()) {
          if (!metrics.contains(m.name) || metrics[m.name].get<int64_t>() <= event.time_us) {
            metrics[m.name] = event.time_us;  // an older event arriving late does not win
            changed = true;
          }
        } else if (value) {
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
