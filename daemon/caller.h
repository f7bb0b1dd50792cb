// Caller: who is asking, as which role, for which purpose. Every request runs as exactly one
// role for one declared purpose; services check permissions and policy against it.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "config/config.h"

namespace portrait::daemon {

struct Caller {
  std::string token;  // the token's name; "system" for the daemon's own work
  std::shared_ptr<const config::Config> config;  // the config in force when the call began
  const config::Role* role = nullptr;            // in `config`
  const config::Purpose* purpose = nullptr;      // in `config`

  // "token:crm-sync role:admin" — what the audit log records as the actor.
  std::string Actor() const { return "token:" + token + " role:" + role->name; }
};

// The caller for token `token_name` of role `role_name`, acting for `requested_purpose` (or the
// role's only purpose when empty). PermissionDenied if the role is unknown (removed from the
// config since the token was made) or doesn't act for the purpose.
Result<Caller> MakeCaller(std::shared_ptr<const config::Config> config, std::string_view token_name,
                          std::string_view role_name, std::string_view requested_purpose);

}  // namespace portrait::daemon
