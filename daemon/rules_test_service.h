// RulesTestService: a dry run of the rules in force for one profile (POST /v1/rules/test):
// which of the caller's purpose's triggers would fire now, at a given time or on a given event,
// and why not. Nothing is written but its audit record; a trigger that reads a field the caller
// can't read in clear is not evaluated for it, and one that fires but whose lawful basis does
// not hold is reported as it would be suppressed. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/clock.h"
#include "crypto/blind_index.h"
#include "daemon/caller.h"
#include "daemon/consent_service.h"
#include "daemon/ingestor.h"
#include "daemon/rules_holder.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"
#include "store/store.h"

namespace portrait::daemon {

class RulesTestService {
 public:
  RulesTestService(store::Store& store, store::ProfileVault& vault, ConsentService& consents,
                   const RulesHolder& rules, store::AuditLog& audit,
                   const crypto::BlindIndex& blind, const Clock& clock)
      : store_(store),
        vault_(vault),
        consents_(consents),
        rules_(rules),
        audit_(audit),
        blind_(blind),
        clock_(clock) {}

  // What fills the dry run's scores and predictions, as the writer's (Ingestor::DerivedMaker).
  // Set once, before use; unset, a dry run sees none.
  void SetDerived(Ingestor::DerivedMaker make) { make_derived_ = std::move(make); }

  // Runs the test that `body` (the request's JSON text: {"profile": external id, "at"?: RFC
  // 3339, "event"?: one CloudEvent}) asks for. Returns {"internal_id", "at", "triggers":
  // [{"trigger", "fires" (null when not evaluated for the caller), "reason"}]}, the caller's
  // purpose's triggers only. Needs rules.test (checked before the body is read; a refusal is
  // audited). Malformed for a body that isn't JSON; InvalidArgument naming the key; NotFound
  // for an unknown profile. Audited as rules.test.
  Result<nlohmann::json> Test(const Caller& caller, std::string_view body);

 private:
  // The event the body asks to test with, if any.
  Result<std::optional<rules::EventInput>> EventOf(const nlohmann::json& body, int64_t at_us);
  Result<nlohmann::json> Explain(const Caller& caller, const store::Profile& profile,
                                 const rules::EventInput* event, int64_t at_us);

  store::Store& store_;
  store::ProfileVault& vault_;
  ConsentService& consents_;
  const RulesHolder& rules_;
  store::AuditLog& audit_;
  const crypto::BlindIndex& blind_;
  const Clock& clock_;
  Ingestor::DerivedMaker make_derived_;
};

}  // namespace portrait::daemon
