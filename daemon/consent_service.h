// ConsentService: records and reads a customer's consent ledger, and answers whether a
// purpose's lawful basis (and the separate sensitive or transfer consent) holds for a profile.
// Recording is audited in the same transaction; evidence is sealed with the profile's key, so
// erasure shreds it while the record itself (purpose, channel, status, time, notice) remains as
// proof under the pseudonymous internal id. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "base/clock.h"
#include "config/config.h"
#include "consent/ledger.h"
#include "daemon/caller.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

class ConsentService {
 public:
  ConsentService(store::Store& store, store::ProfileVault& vault, store::AuditLog& audit,
                 const Clock& clock, spdlog::logger& log)
      : store_(store), vault_(vault), audit_(audit), clock_(clock), log_(log) {}

  // Appends a record from an API body {"purpose", "channel", "status", "scope"?, "source"?,
  // "notice"?, "evidence"?, "expires"? (RFC 3339), "time"? (RFC 3339, not in the future)}.
  // Tasks of the profile waiting to be sent whose lawful basis the record ends are suppressed
  // in the same transaction (call on the writer thread, which the dispatcher claims through).
  // Needs consents.write. Returns the record id. NotFound for an unknown profile;
  // InvalidArgument naming the key for a bad body.
  Result<int64_t> Record(const Caller& caller, std::string_view external_id,
                         const nlohmann::json& body);

  // {"current": [...], "history": [...]} for the profile. Needs consents.read. Audited.
  Result<nlohmann::json> Show(const Caller& caller, std::string_view external_id);

  // {"current", "history"} of profile `id`, evidence opened; no permission check, not audited
  // (for callers that check and audit themselves, e.g. the data-subject export).
  Result<nlohmann::json> LedgerJson(store::ProfileId id);

  // The profile's ledger as consent records (evidence left sealed: not needed to decide).
  Result<std::vector<consent::ConsentRecord>> Ledger(store::ProfileId id);

  // Whether `purpose` may process profile `id` on `channel` at `now_us`.
  Result<consent::BasisDecision> Basis(store::ProfileId id, const config::Purpose& purpose,
                                       consent::Channel channel, int64_t now_us);

 private:
  Status Refuse(const Caller& caller, std::string_view permission);
  // Adds to `batch` the suppression (audited) of the profile's waiting tasks whose lawful basis
  // ends with the new record `row`.
  Status SuppressEndedTasks(const config::Config& config, const store::ConsentRow& row,
                            int64_t now_us, store::Batch& batch);

  store::Store& store_;
  store::ProfileVault& vault_;
  store::AuditLog& audit_;
  const Clock& clock_;
  spdlog::logger& log_;
};

// A ledger row as a consent record (evidence copied as stored, i.e. sealed).
consent::ConsentRecord ToRecord(const store::ConsentRow& row);

// Refusal bookkeeping shared by services: audits a "request.refused" record for `caller`
// lacking `permission` and returns PermissionDenied.
Status RefuseRequest(store::AuditLog& audit, const Clock& clock, const Caller& caller,
                     std::string_view permission, store::ProfileId profile_id = 0);

}  // namespace portrait::daemon
