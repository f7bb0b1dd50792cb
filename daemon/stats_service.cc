#include "daemon/stats_service.h"

#include "base/time_format.h"
#include "base/url.h"
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

Result<json> StatsService::Activity(const Caller& caller,
                                    const std::map<std::string, std::string>& query) {
  if (!consent::HasPermission(*caller.role, "admin")) {
    return Error(RefuseRequest(audit_, clock_, caller, "admin"));
  }
  for (const auto& [key, value] : query) {
    if (key != "hours") {
      return Error(Status::InvalidArgument("query: unknown parameter '" + key + "' (hours)"));
    }
  }
  auto hours = QueryInt(query, "hours", 24);
  if (!hours || *hours < 1 || *hours > 168) {
    return Error(Status::InvalidArgument("hours: an integer from 1 to 168"));
  }
  constexpr int64_t kHourUs = int64_t{3600} * 1'000'000;
  const int64_t now = clock_.NowUs();
  const int64_t from = (now - now % kHourUs) - (*hours - 1) * kHourUs;
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::HourCounts> counts,
                            store_.CountByHour(from, static_cast<int>(*hours)));
  json out = json::array();
  for (const store::HourCounts& h : counts) {
    out.push_back({{"hour", FormatRfc3339(h.hour_us)},
                   {"profiles", h.profiles},
                   {"events", h.events},
                   {"tasks", h.tasks}});
  }
  return json{{"at", FormatRfc3339(now)}, {"hours", std::move(out)}};
}

}  // namespace portrait::daemon
