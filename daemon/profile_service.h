// ProfileService: profile reads and writes as a caller may make them. Each call checks the
// caller's permission, applies the access policy (clear / masked / withheld, narrowed to the
// purpose's fields), withholds everything when the purpose's lawful basis does not hold for the
// customer, withholds sensitive fields without the separate sensitive consent, and writes an
// audit record. Fail closed: a read whose audit record can't be written returns an error, not
// the data. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <span>

#include "base/clock.h"
#include "config/config.h"
#include "daemon/caller.h"
#include "daemon/consent_service.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

// The first field of `fields` (a JSON object, field name -> value) the caller may not write:
// undeclared, or withheld from the caller's role for its purpose (a writer writes only what it
// can see, clear or masked). nullopt when every field may be written.
std::optional<store::PatchError> UnwritableField(const Caller& caller,
                                                 const nlohmann::json& fields);

// Whether `caller` may look profiles up by `field` (find by field; identity matching on
// import): it needs profiles.read and the field read in clear for its purpose, since a lookup by
// a masked or withheld field would confirm, one guess at a time, the value hidden. Otherwise
// PermissionDenied, audited as "request.refused" (detail {`audit_key`: the field's name, or
// "(undeclared)"}; a missing permission as RefuseRequest records it).
Status CheckLookupField(store::AuditLog& audit, const Clock& clock, const Caller& caller,
                        std::string_view field, std::string_view audit_key);

class ProfileService {
 public:
  ProfileService(store::ProfileVault& vault, ConsentService& consents, store::AuditLog& audit,
                 const Clock& clock, spdlog::logger& log)
      : vault_(vault), consents_(consents), audit_(audit), clock_(clock), log_(log) {}

  // The profile as the caller may see it: {"id", "internal_id", "fields", "masked", "withheld",
  // "basis", "tags", "timezone", "lifecycle", "metrics", "scores", "predictions"} (scores and
  // predictions as the purpose's `derived` allows). Needs profiles.read.
  Result<nlohmann::json> Read(const Caller& caller, std::string_view external_id);

  // A profile's scores and predictions computed now from its metrics (NAME -> values, each with
  // the version of the parameters it came from), the rule-driven tags and the segments it is in
  // that the purpose may see: daemon/derived_values.h; and the names of the rules' time
  // metrics, shown as RFC 3339. The server sets it once, before use; unset, none are shown and
  // time metrics show as stored.
  struct Derived {
    nlohmann::json scores = nlohmann::json::object();
    nlohmann::json predictions = nlohmann::json::object();
    std::vector<std::string> rule_tags;
    std::vector<std::string> segments;
    std::vector<std::string> time_metrics;

    // `api_tags` (tags set through the API) with the rule-driven tags after them, each once.
    std::vector<std::string> TagsWith(std::vector<std::string> api_tags) const;
  };
  using DerivedComputer =
      std::function<Derived(const config::Purpose& purpose, const nlohmann::json& metrics)>;
  void SetDerived(DerivedComputer compute) { derived_ = std::move(compute); }

  // Whether the caller's purpose's lawful basis holds for profile `id` now (on any channel):
  // without it, no derived data of the profile is shown for the purpose.
  Result<bool> BasisHolds(const Caller& caller, store::ProfileId id) {
    PORTRAIT_ASSIGN_OR_RETURN(LedgerGate gate, Gate(caller, id));
    return gate.basis.allowed;
  }

  // A read's answer and the audit record that must be durable before the answer is given.
  struct PreparedRead {
    nlohmann::json answer;
    store::AuditEntry record;
  };
  // Read without the append: the caller commits `record` (the HTTP API through the writer's
  // grouped audit commits) and gives `answer` only once it is durable, else ReadRefused.
  Result<PreparedRead> PrepareRead(const Caller& caller, std::string_view external_id);
  // The error for a read whose audit record could not be written; logs it, naming the profile
  // by internal id.
  Status ReadRefused(store::ProfileId id, const Status& audit_error) const;

  // What the customer's ledger lets the caller's purpose process of profile `id` now.
  struct LedgerGate {
    consent::BasisDecision basis;      // the purpose's lawful basis
    consent::BasisDecision sensitive;  // the separate consent sensitive fields need
    bool objected = false;             // to personalisation (profiling), in force now
    // Whether field `f` may be processed (shown, confirmed, looked up) for the purpose.
    bool Allows(const config::Field& f) const {
      return basis.allowed &&
             (f.field_class != config::FieldClass::kSensitive || sensitive.allowed);
    }
  };
  Result<LedgerGate> Gate(const Caller& caller, store::ProfileId id);
  // Gate of each of profiles `ids`, in their order, their ledgers read at once.
  Result<std::vector<LedgerGate>> Gates(const Caller& caller,
                                        std::span<const store::ProfileId> ids);

  // Upserts (see ProfileVault::Upsert); each field written must be visible to the caller
  // (clear or masked). Needs profiles.write. Returns {"internal_id", "created"}.
  Result<nlohmann::json> Write(const Caller& caller, std::string_view external_id,
                               const nlohmann::json& patch);

  // Ids of the profiles whose blind-indexed `field` equals `value`. Needs profiles.read and a
  // field the caller reads in clear for its purpose (else PermissionDenied, audited). A profile
  // whose ledger hides the field from the purpose (Gate) is not among them: naming it would
  // confirm the value a read hides. Audited per profile found, with the field name and the
  // counts found and shown. Returns {"ids": [...]} (external ids).
  Result<nlohmann::json> Find(const Caller& caller, std::string_view field,
                              const nlohmann::json& value);

  // Erases the profile (crypto-shredding) and returns a receipt. Needs erase.
  Result<nlohmann::json> Erase(const Caller& caller, std::string_view external_id);

  // Places (`reason`: why, at most 200 bytes, no personal data) or lifts a legal hold, audited
  // as legal_hold.place / legal_hold.lift. Needs erase. Returns {internal_id, legal_hold}.
  Result<nlohmann::json> SetLegalHold(const Caller& caller, std::string_view external_id, bool hold,
                                      std::string_view reason = "");

 private:
  Result<bool> Require(const Caller& caller, std::string_view permission);
  store::AuditEntry Entry(const Caller& caller, std::string action, nlohmann::json detail) const;

  store::ProfileVault& vault_;
  ConsentService& consents_;
  store::AuditLog& audit_;
  const Clock& clock_;
  spdlog::logger& log_;
  DerivedComputer derived_;
};

}  // namespace portrait::daemon
