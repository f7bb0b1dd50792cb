// ExportService: the data-subject export (GDPR art. 15 and 20) of one profile, as the caller may
// see it for its purpose: fields through its view (clear, masked, withheld), derived data as its
// purpose declares, the consent ledger, events' data and tasks' payloads only as far as they
// show nothing more than the view. Fail closed: the export is returned only once its audit
// record is written. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/clock.h"
#include "daemon/caller.h"
#include "daemon/consent_service.h"
#include "daemon/profile_service.h"
#include "daemon/rules_holder.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

// Whether the caller sees everything an export holds: every declared field in clear and every
// kind of derived data. Only such a caller gets event data and task payloads whole (here and in
// the events timeline, daemon/timeline_service.h).
bool SeesEverything(const Caller& caller);

class ExportService {
 public:
  ExportService(store::Store& store, store::ProfileVault& vault, ConsentService& consents,
                const RulesHolder& rules, store::AuditLog& audit, const Clock& clock)
      : store_(store),
        vault_(vault),
        consents_(consents),
        rules_(rules),
        audit_(audit),
        clock_(clock) {}

  // What computes a profile's scores and predictions (as ProfileService's). Set once, before use.
  void SetDerived(ProfileService::DerivedComputer compute) { derived_ = std::move(compute); }

  // {"id", "internal_id", "created", "fields", "masked", "withheld", "tags", "timezone",
  // "lifecycle", "metrics", "scores", "predictions" (each with the version of the model or
  // score it came from, as the purpose's `derived` allows), "legal_hold", "events",
  // "consents", "tasks"}. Events carry "data"
  // and tasks their whole "payload" only for a caller that sees every field in clear and every
  // kind of derived data; otherwise a task's payload holds its fields through the caller's view
  // and its message only when that reads nothing the caller can't. Needs export (a refusal is
  // audited); NotFound for an unknown profile. Audited as profile.export.
  Result<nlohmann::json> Export(const Caller& caller, std::string_view external_id);

 private:
  Result<nlohmann::json> Events(store::ProfileId id, bool with_data);
  Result<nlohmann::json> Tasks(const Caller& caller, store::ProfileId id);

  store::Store& store_;
  store::ProfileVault& vault_;
  ConsentService& consents_;
  const RulesHolder& rules_;
  store::AuditLog& audit_;
  const Clock& clock_;
  ProfileService::DerivedComputer derived_;
};

}  // namespace portrait::daemon
