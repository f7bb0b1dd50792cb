#include "consent/profile_view.h"

#include <algorithm>

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "consent/masking.h"

namespace portrait::consent {

ProfileView BuildView(const config::Config& config, const config::Role& role,
                      const config::Purpose& purpose, const nlohmann::json& fields) {
  ProfileView view;
  for (const config::Field& field : config.fields) {
    Access access = FieldAccess(role, purpose, field.name);
    if (access == Access::kWithheld) {
      view.withheld.push_back(field.name);
      continue;
    }
    auto it = fields.find(field.name);
    if (it == fields.end()) {
      continue;
    }
    if (access == Access::kClear) {
      view.fields[field.name] = *it;
    } else {
      view.fields[field.name] = Mask(field.mask, *it);
      view.masked.push_back(field.name);
    }
  }
  return view;
}

nlohmann::json ReadableTime(const nlohmann::json& value) {
  constexpr int64_t kEndOf9999Us = 253'402'300'799'999'999;
  if (!value.is_number_integer()) {
    return value;
  }
  const int64_t us = value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(kEndOf9999Us)
                         ? -1
                         : value.get<int64_t>();
  return us >= 0 && us <= kEndOf9999Us ? nlohmann::json(FormatRfc3339(us)) : value;
}

DerivedView BuildDerivedView(const config::Purpose& purpose, const nlohmann::json& metrics,
                             const std::vector<std::string>& tags, const std::string& lifecycle,
                             const std::vector<std::string>& time_metrics) {
  DerivedView view;
  if (metrics.is_object()) {
    for (const auto& [name, value] : metrics.items()) {
      // "$…" entries are the rules engine's bookkeeping (tallies, times), never shown.
      if (name.starts_with('$') || !purpose.derived.Allows("metrics", name)) {
        continue;
      }
      const bool time =
          std::find(time_metrics.begin(), time_metrics.end(), name) != time_metrics.end();
      view.metrics[name] = time ? ReadableTime(value) : value;
    }
  }
  for (const std::string& tag : tags) {
    if (purpose.derived.AllowsTag(tag)) {
      view.tags.push_back(tag);
    }
  }
  if (purpose.derived.Allows("lifecycle") && !lifecycle.empty()) {
    view.lifecycle = lifecycle;
  }
  return view;
}

nlohmann::json AllowedDerived(const config::Purpose& purpose, std::string_view kind,
                              const nlohmann::json& computed) {
  nlohmann::json out = nlohmann::json::object();
  if (computed.is_object()) {
    for (const auto& [name, value] : computed.items()) {
      if (purpose.derived.Allows(kind, name)) {
        out[name] = value;
      }
    }
  }
  return out;
}

}  // namespace portrait::consent
