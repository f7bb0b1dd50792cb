#include "daemon/caller.h"

#include "consent/access_policy.h"

namespace portrait::daemon {

Result<Caller> MakeCaller(std::shared_ptr<const config::Config> config, std::string_view token_name,
                          std::string_view role_name, std::string_view requested_purpose) {
  const config::Role* role = config->FindRole(role_name);
  if (!role) {
    return Error(Status::PermissionDenied("the token's role '" + std::string(role_name) +
                                          "' is not in the configuration"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(const config::Purpose* purpose,
                            consent::ResolvePurpose(*config, *role, requested_purpose));
  return Caller{std::string(token_name), std::move(config), role, purpose};
}

}  // namespace portrait::daemon
