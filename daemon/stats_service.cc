#include "daemon/stats_service.h"

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "daemon/consent_service.h"
#include "store/task_state.h"

namespace portrait::daemon {

using nlohmann::json;

Result<json> StatsService::Stats(const Caller& caller) {
  if (!consent::HasPermission(*caller.role, "admin")) {
    return Error(RefuseRequest(audit_, clock_, caller, "admin"));
  }
  const int64_t now = clock_.NowUs();
  constexpr int64_t kDayUs = int64_t{24} * 3600 * 1'000'000;
  PORTRAIT_ASSIGN_OR_RETURN(int64_t profiles, store_.CountProfiles());
  PORTRAIT_ASSIGN_OR_RETURN(store::StoreCounts counts, store_.Counts(now));
  PORTRAIT_ASSIGN_OR_RETURN(auto by_state, store_.CountTasksByState());
  PORTRAIT_ASSIGN_OR_RETURN(int64_t due, store_.CountDueTimers(now + kDayUs));
  json tasks = json::object();
  for (store::TaskState s : store::kTaskStates) {
    const std::string name(store::TaskStateName(s));
    const auto found = by_state.find(name);
    tasks[name] = found == by_state.end() ? 0 : found->second;
  }
  json consents = json::object();
  for (const store::ConsentCount& c : counts.consents) {
    consents[c.purpose][c.scope][c.status] = c.records;
  }
  json lifecycle = json::object();
  for (const auto& [stage, n] : counts.lifecycle) {
    lifecycle[stage.empty() ? "(none)" : stage] = n;
  }
  return json{{"at", FormatRfc3339(now)}, {"profiles", profiles}, {"events", counts.events},
              {"consents", consents},     {"tasks", tasks},       {"timers_due_24h", due},
              {"lifecycle", lifecycle}};
}

}  // namespace portrait::daemon
