// StatsService: the counts of GET /v1/stats, for the people who run portrait — profiles, events,
// the consent records in force by purpose, scope and status, tasks by state, the timers due in
// the next 24 hours and the profiles in each lifecycle stage. Every count comes from a plain
// column or an index (Store::Counts, CountTasksByState, CountDueTimers); no profile is opened.
// Only a role with the `admin` permission may read them: counts across the whole base say
// something about fields (a stage is decided by fields and metrics) that other roles may not
// read (docs/DECISIONS.md 123). The same holds for the activity per hour the console's overview
// draws (docs/DECISIONS.md 154). Thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "daemon/caller.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace portrait::daemon {

class StatsService {
 public:
  StatsService(store::Store& store, store::AuditLog& audit, const Clock& clock)
      : store_(store), audit_(audit), clock_(clock) {}

  // {"at", "profiles", "events", "consents": {PURPOSE: {SCOPE: {STATUS: n}}}, "tasks": {STATE:
  // n} (every state, 0 included), "timers_due_24h", "lifecycle": {STAGE: n} ("(none)": not
  // evaluated yet)}. Needs admin (else PermissionDenied, audited as a refused request).
  Result<nlohmann::json> Stats(const Caller& caller);

  // {"at", "hours": [{"hour", "profiles", "events", "tasks"}]}: what was made in each of the
  // last `hours` hours (the current one last, not yet over), from `query` {"hours": 1..168,
  // default 24; any other parameter is InvalidArgument}: profiles and tasks by creation time,
  // events by their own time (Store::CountByHour). Needs admin, as Stats.
  Result<nlohmann::json> Activity(const Caller& caller,
                                  const std::map<std::string, std::string>& query);

 private:
  store::Store& store_;
  store::AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace portrait::daemon
