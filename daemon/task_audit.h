// The audit record of a task's change of state: which task, from what, why — never a value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "store/store.h"

namespace portrait::daemon {

// "task.<to>" by `actor` for `task` (as it was before the change), with `reason`.
inline store::AuditEntry TaskAudit(const store::TaskRow& task, std::string_view to,
                                   const std::string& reason, int64_t now_us,
                                   std::string actor = "system", std::string purpose = "") {
  return store::AuditEntry{now_us,
                           std::move(actor),
                           "task." + std::string(to),
                           task.profile_id,
                           purpose.empty() ? task.purpose : std::move(purpose),
                           nlohmann::json{{"task", task.id},
                                          {"trigger", task.trigger},
                                          {"sink", task.sink},
                                          {"from", task.state},
                                          {"attempts", task.attempts},
                                          {"reason", reason}}
                               .dump()};
}

}  // namespace portrait::daemon
