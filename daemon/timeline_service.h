// TimelineService: a profile's events timeline as a caller may see it (GET
// /v1/profiles/{id}/events), for the console's customer view. Events are what metrics are
// computed from, so they are shown only to a purpose whose `derived` list allows `metrics` and
// whose lawful basis holds for the customer now (as a read shows derived data); each event's
// type and time, its data only to a caller that sees every field in clear and every kind of
// derived data (as an export decides). Fail closed: answered only once its audit record is
// written. Thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "daemon/caller.h"
#include "daemon/profile_service.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

class TimelineService {
 public:
  TimelineService(store::Store& store, store::ProfileVault& vault, ProfileService& profiles,
                  store::AuditLog& audit, const Clock& clock)
      : store_(store), vault_(vault), profiles_(profiles), audit_(audit), clock_(clock) {}

  // {"internal_id", "shown": true, "events": [{"type", "time", "data"?}] (the latest `limit`,
  // newest first), "more": whether older ones were left out}, or {"internal_id", "shown": false,
  // "reason"} when the purpose may not see them. `query` takes only `limit` (1..1000, default
  // 100; else InvalidArgument naming it). Needs profiles.read (a refusal is audited); NotFound
  // for an unknown profile. Audited as profile.events with the count shown, never a value.
  Result<nlohmann::json> Events(const Caller& caller, std::string_view external_id,
                                const std::map<std::string, std::string>& query);

 private:
  store::Store& store_;
  store::ProfileVault& vault_;
  ProfileService& profiles_;
  store::AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace portrait::daemon
