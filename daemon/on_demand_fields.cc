#include "daemon/on_demand_fields.h"

#include "store/profile_vault.h"

namespace portrait::daemon {

const nlohmann::json* OnDemandFields::Find(std::string_view name) const {
  if (auto it = opened_.find(name); it != opened_.end()) {
    return &it->second;
  }
  const auto sealed = envelopes_.find(std::string(name));
  if (sealed == envelopes_.end()) {
    return nullptr;
  }
  Result<nlohmann::json> value = store::ProfileVault::OpenField(key_, id_, name, sealed->second);
  if (!value) {
    failed_ = true;
    return nullptr;
  }
  return &opened_.emplace(std::string(name), std::move(*value)).first->second;
}

}  // namespace portrait::daemon
