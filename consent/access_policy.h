// The field access policy: for a role acting for one purpose, each field is seen in clear,
// masked, or not at all. A request sees the intersection of its role's policy and its purpose's
// fields (data minimisation); a field the purpose lists as `masked` is at most masked.
// Pure functions over the config; thread-safe.
#pragma once

#include <string_view>

#include "base/result.h"
#include "config/config.h"

namespace portrait::consent {

enum class Access { kWithheld, kMasked, kClear };

// The purpose a request acts for: `requested` (e.g. from X-Purpose) if the role acts for it, or
// the role's only purpose when `requested` is empty. PermissionDenied if the role doesn't act
// for it; InvalidArgument if it is empty and the role has several (naming them).
Result<const config::Purpose*> ResolvePurpose(const config::Config& config,
                                              const config::Role& role, std::string_view requested);

// How `role`, acting for `purpose`, sees `field`.
Access FieldAccess(const config::Role& role, const config::Purpose& purpose,
                   std::string_view field);

// Whether `role` holds `permission` (e.g. "profiles.read").
bool HasPermission(const config::Role& role, std::string_view permission);

}  // namespace portrait::consent
