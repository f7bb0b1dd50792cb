// ProfileVault::FullWrite: what a merge of two profiles stores for its target.
#include <algorithm>

#include "store/profile_vault.h"

namespace portrait::store {

using nlohmann::json;

Result<ProfileWrite> ProfileVault::FullWrite(const OpenProfile& p, const Profile& merged,
                                             int64_t now_us) {
  ProfileWrite w;
  w.row = p.row;
  w.row.updated_us = now_us;
  w.row.created_us = merged.created_us;
  w.row.lifecycle = merged.lifecycle;
  json fields = json::object();
  for (const auto& [name, value] : merged.fields.items()) {
    if (!p.profile.fields.contains(name) || p.profile.fields[name] != value) {
      fields[name] = value;
    }
  }
  for (const auto& [name, value] : p.profile.fields.items()) {
    if (!merged.fields.contains(name)) {
      fields[name] = nullptr;
    }
  }
  json dropped = json::array();
  for (const std::string& tag : p.profile.tags) {
    if (std::find(merged.tags.begin(), merged.tags.end(), tag) == merged.tags.end()) {
      dropped.push_back(tag);
    }
  }
  json patch = {{"fields", fields}, {"tags", {{"add", merged.tags}, {"remove", dropped}}}};
  if (!merged.timezone.empty()) {
    patch["timezone"] = merged.timezone;
  }
  auto checked = CheckPatch(patch);
  if (!checked) {
    return Error(checked.error().status);
  }
  PORTRAIT_RETURN_IF_ERROR(SealPatch(*checked, p.key, p.profile.tags, w));
  w.row.metrics.clear();
  if (!merged.metrics.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(w.row.metrics, SealMetrics(p, merged.metrics));
  }
  return w;
}

}  // namespace portrait::store
