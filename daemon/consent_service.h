// ConsentService: records and reads a customer's consent ledger, and answers whether a
// purpose's lawful basis (and the separate sensitive or transfer consent) holds for a profile.
// Recording is audited in the same transaction; evidence is sealed with the profile's key, so
// erasure shreds it while the record itself (purpose, channel, status, time, notice) remains as
// proof under the pseudonymous internal id. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <nlohmann/json.hpp>
#include <span>
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
  // "purpose" names a configured purpose, or kPersonalisation (the opt-out).
  // Tasks of the profile waiting to be sent whose lawful basis the record ends are suppressed
  // in the same transaction (call on the writer thread, which the dispatcher claims through).
  // Needs consents.write. Returns the record id and the profile it was recorded for (so the
  // caller need not look the external id up again: a failed second lookup would leave caches
  // of the profile stale). NotFound for an unknown profile; InvalidArgument naming the key for
  // a bad body.
  struct Recorded {
    int64_t record = 0;
    store::ProfileId profile = 0;
  };
  Result<Recorded> Record(const Caller& caller, std::string_view external_id,
                          const nlohmann::json& body);

  // {"current": [...], "history": [...]} for the profile. Needs consents.read. Audited.
  Result<nlohmann::json> Show(const Caller& caller, std::string_view external_id);

  // {"current", "history"} of profile `id`, evidence opened; no permission check, not audited
  // (for callers that check and audit themselves, e.g. the data-subject export).
  Result<nlohmann::json> LedgerJson(store::ProfileId id);

  // The profile's ledger as consent records (evidence left sealed: not needed to decide).
  Result<std::vector<consent::ConsentRecord>> Ledger(store::ProfileId id);
  // The ledgers of profiles `ids`, in their order, in one store read (Store::GetConsentsOf).
  Result<std::vector<std::vector<consent::ConsentRecord>>> Ledgers(
      std::span<const store::ProfileId> ids);

  // Whether `purpose` may process profile `id` on `channel` at `now_us`.
  Result<consent::BasisDecision> Basis(store::ProfileId id, const config::Purpose& purpose,
                                       consent::Channel channel, int64_t now_us);

 private:
  Status Refuse(const Caller& caller, std::string_view permission);
  // The consent record a POST body asks for, checked; evidence sealed, not yet stored.
  Result<store::ConsentRow> ParseRecord(const Caller& caller, std::string_view external_id,
                                        const nlohmann::json& body, int64_t now_us);
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

// The purpose name under which a customer objects to (or withdraws from) personalisation: an
// `objected` or `withdrawn` record for it, on the task's channel or `any`, opts them out. The
// consent API accepts it although no [[purpose]] declares it.
inline constexpr std::string_view kPersonalisation = "personalisation";

// What the ledger allows a task: sent or suppressed (with the reason), and personalised or not.
struct TaskConsent {
  bool allowed = false;
  bool personalise = true;  // false: the customer opted out; send message_plain, no fields
  std::string reason;       // why not allowed; never a value
  int64_t record_id = 0;    // the record that decided the lawful basis, 0 when none
};

// Whether a task of `purpose` on `channel` to `sink` may go at `now_us`: the purpose's lawful
// basis, the separate sensitive consent when the trigger reads or sends a sensitive field
// (`sensitive`), the transfer consent for a third-party sink, and the personalisation opt-out.
// Pure: checked when the task is made and again before each attempt.
TaskConsent CheckTaskConsent(const config::Purpose& purpose, const config::Sink* sink,
                             bool sensitive, consent::Channel channel,
                             const std::vector<consent::ConsentRecord>& ledger, int64_t now_us);

// The name a consent record's evidence is sealed under (with the profile id).
inline constexpr std::string_view kConsentEvidenceField = "$consent_evidence";

// A ledger row as a consent record (evidence copied as stored, i.e. sealed).
consent::ConsentRecord ToRecord(const store::ConsentRow& row);

// Refusal bookkeeping shared by services: audits a "request.refused" record for `caller`
// lacking `permission` and returns PermissionDenied.
Status RefuseRequest(store::AuditLog& audit, const Clock& clock, const Caller& caller,
                     std::string_view permission, store::ProfileId profile_id = 0);

}  // namespace portrait::daemon
