#include "consent/access_policy.h"

#include <algorithm>

namespace portrait::consent {
namespace {

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

Result<const config::Purpose*> ResolvePurpose(const config::Config& config,
                                              const config::Role& role,
                                              std::string_view requested) {
  if (requested.empty()) {
    if (role.purposes.size() == 1) {
      return config.FindPurpose(role.purposes[0]);
    }
    std::string names;
    for (const auto& p : role.purposes) {
      names += names.empty() ? p : ", " + p;
    }
    return Error(Status::InvalidArgument("role '" + role.name +
                                         "' acts for several purposes; declare one with "
                                         "X-Purpose (" +
                                         names + ")"));
  }
  if (!Contains(role.purposes, requested)) {
    return Error(Status::PermissionDenied("role '" + role.name + "' does not act for purpose '" +
                                          std::string(requested) + "'"));
  }
  return config.FindPurpose(requested);
}

Access FieldAccess(const config::Role& role, const config::Purpose& purpose,
                   std::string_view field) {
  if (Contains(purpose.masked, field)) {
    return Contains(role.read, field) || Contains(role.masked, field) ? Access::kMasked
                                                                      : Access::kWithheld;
  }
  if (!Contains(purpose.fields, field)) {
    return Access::kWithheld;
  }
  if (Contains(role.read, field)) {
    return Access::kClear;
  }
  if (Contains(role.masked, field)) {
    return Access::kMasked;
  }
  return Access::kWithheld;
}

bool HasPermission(const config::Role& role, std::string_view permission) {
  return Contains(role.can, permission);
}

}  // namespace portrait::consent
