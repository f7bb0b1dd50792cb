#include "daemon/identity.h"

#include <algorithm>

#include "base/caller_name.h"
#include "store/field_value.h"

namespace portrait::daemon {

Status IdentityMatcher::CheckMatchFields(const config::Config& config,
                                         const std::vector<std::string>& match_fields) {
  if (match_fields.empty()) {
    return Status::InvalidArgument("match: name at least one blind-indexed field");
  }
  for (const std::string& name : match_fields) {
    const config::Field* field = config.FindField(name);
    if (!field || !field->blind_index) {
      return Status::InvalidArgument("match: " + QuotedCallerName(name) +
                                     " is not a blind-indexed field");
    }
  }
  return Status::Ok();
}

Result<bool> IdentityMatcher::Lookup(const std::string& field, const std::string& index_key,
                                     std::set<store::ProfileId>& found) const {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ProfileId> ids,
                            store_.LookupBlind(field, blind_.Digest(field, index_key)));
  found.insert(ids.begin(), ids.end());
  return found.size() > 1;
}

IdentityMatch IdentityMatcher::Decide(const std::set<store::ProfileId>& found) {
  if (found.empty()) {
    return IdentityMatch{};
  }
  if (found.size() > 1) {
    return IdentityMatch{MatchKind::kAmbiguous, 0};
  }
  return IdentityMatch{MatchKind::kOne, *found.begin()};
}

Result<IdentityMatch> IdentityMatcher::Match(const nlohmann::json& fields,
                                             const std::vector<std::string>& match_fields) const {
  PORTRAIT_RETURN_IF_ERROR(CheckMatchFields(config_, match_fields));
  if (!fields.is_object()) {
    return Error(Status::InvalidArgument("fields: expected an object of field name to value"));
  }
  std::set<store::ProfileId> found;
  for (const std::string& name : match_fields) {
    auto it = fields.find(name);
    if (it == fields.end() || it->is_null()) {
      continue;
    }
    const config::Field& field = *config_.FindField(name);
    auto checked = store::CheckFieldValue(field, *it, config_.daemon.phone_region);
    if (!checked) {
      return Error(checked.error());
    }
    PORTRAIT_ASSIGN_OR_RETURN(bool ambiguous, Lookup(name, checked->index_key, found));
    if (ambiguous) {
      break;
    }
  }
  return Decide(found);
}

Result<IdentityMatch> IdentityMatcher::MatchChecked(const store::CheckedPatch& patch,
                                                    const std::vector<std::string>& match_fields,
                                                    const Visible& visible) const {
  PORTRAIT_RETURN_IF_ERROR(CheckMatchFields(config_, match_fields));
  std::set<store::ProfileId> found;
  for (const std::string& name : match_fields) {
    auto it = patch.set.find(name);
    if (it == patch.set.end()) {
      continue;
    }
    std::set<store::ProfileId> by_field;
    PORTRAIT_RETURN_IF_ERROR(Lookup(name, it->second.index_key, by_field));
    for (store::ProfileId id : by_field) {
      bool shown = true;
      if (visible) {
        PORTRAIT_ASSIGN_OR_RETURN(shown, visible(id, name));
      }
      if (shown) {
        found.insert(id);
      }
    }
    if (found.size() > 1) {
      break;
    }
  }
  return Decide(found);
}

std::vector<std::string> IdentityMatcher::MatchKeys(
    const store::CheckedPatch& patch, const std::vector<std::string>& match_fields) const {
  std::vector<std::string> keys;
  for (const std::string& name : match_fields) {
    auto it = patch.set.find(name);
    if (it != patch.set.end()) {
      keys.push_back(name + '\x1f' + blind_.Digest(name, it->second.index_key));
    }
  }
  return keys;
}

Result<store::AliasRow> NewAlias(const store::ProfileVault& vault, std::string_view external_id,
                                 store::ProfileId target, int64_t now_us) {
  if (external_id.empty() || external_id.size() > 256 ||
      std::any_of(external_id.begin(), external_id.end(),
                  [](unsigned char c) { return std::iscntrl(c); })) {
    return Error(
        Status::InvalidArgument("external id must be 1-256 bytes without control characters"));
  }
  return store::AliasRow{vault.ExtKey(external_id), target, 0, now_us};
}

}  // namespace portrait::daemon
