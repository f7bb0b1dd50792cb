#include "daemon/consent_service.h"

#include <limits>
#include <set>

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "daemon/task_audit.h"
#include "store/task_state.h"

namespace portrait::daemon {

using consent::ConsentRecord;
using nlohmann::json;

namespace {

// The string at `key` of `body`, or "" when absent; InvalidArgument if it isn't a string.
Result<std::string> OptionalString(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return Error(Status::InvalidArgument(std::string(key) + ": expected a string"));
  }
  return it->get<std::string>();
}

Result<int64_t> OptionalTime(const json& body, const char* key) {
  PORTRAIT_ASSIGN_OR_RETURN(std::string text, OptionalString(body, key));
  if (text.empty()) {
    return int64_t{0};
  }
  auto t = ParseRfc3339(text);
  if (!t) {
    return Error(t.error().WithContext(key));
  }
  return *t;
}

json RecordJson(const ConsentRecord& r) {
  json j = {{"id", r.id},
            {"purpose", r.purpose},
            {"scope", consent::ScopeName(r.scope)},
            {"channel", consent::ChannelName(r.channel)},
            {"status", consent::StatusName(r.status)},
            {"time", FormatRfc3339(r.time_us)},
            {"source", r.source},
            {"notice", r.notice},
            {"actor", r.actor}};
  if (r.expires_us != 0) {
    j["expires"] = FormatRfc3339(r.expires_us);
  }
  return j;
}

}  // namespace

TaskConsent CheckTaskConsent(const config::Purpose& purpose, const config::Sink* sink,
                             bool sensitive, consent::Channel channel,
                             const std::vector<ConsentRecord>& ledger, int64_t now_us) {
  TaskConsent out;
  const consent::BasisDecision basis = consent::CheckLawfulBasis(purpose, channel, ledger, now_us);
  out.record_id = basis.record_id;
  if (!basis.allowed) {
    out.reason = basis.reason;
    return out;
  }
  if (sensitive) {
    const consent::BasisDecision s = consent::CheckSeparateConsent(
        consent::ConsentScope::kSensitive, purpose.name, channel, ledger, now_us);
    if (!s.allowed) {
      out.reason = "the trigger uses a sensitive field: " + s.reason;
      return out;
    }
  }
  if (sink && sink->third_party) {
    const consent::BasisDecision t = consent::CheckSeparateConsent(
        consent::ConsentScope::kTransfer, purpose.name, channel, ledger, now_us);
    if (!t.allowed) {
      out.reason = "sink '" + sink->name + "' is a third party: " + t.reason;
      return out;
    }
  }
  const ConsentRecord* opt = consent::RecordInForce(
      ledger, kPersonalisation, consent::ConsentScope::kProcessing, channel, now_us);
  out.personalise = !opt || opt->status == consent::ConsentStatus::kGranted;
  out.allowed = true;
  return out;
}

ConsentRecord ToRecord(const store::ConsentRow& row) {
  ConsentRecord r;
  r.id = row.id;
  r.purpose = row.purpose;
  r.scope = consent::ParseScope(row.scope).value_or(consent::ConsentScope::kProcessing);
  r.channel = consent::ParseChannel(row.channel).value_or(consent::Channel::kAny);
  // An unreadable status must never read as consent.
  r.status = consent::ParseStatus(row.status).value_or(consent::ConsentStatus::kWithdrawn);
  r.time_us = row.time_us;
  r.source = row.source;
  r.notice = row.notice;
  r.evidence = row.evidence;
  r.actor = row.actor;
  r.expires_us = row.expires_us;
  return r;
}

Status RefuseRequest(store::AuditLog& audit, const Clock& clock, const Caller& caller,
                     std::string_view permission, store::ProfileId profile_id) {
  // The refusal stands whether or not its audit record can be written.
  (void)audit.Append(
      {store::AuditEntry{clock.NowUs(), caller.Actor(), "request.refused", profile_id,
                         caller.purpose->name, json{{"missing_permission", permission}}.dump()}});
  return Status::PermissionDenied("role '" + caller.role->name + "' lacks permission '" +
                                  std::string(permission) + "'");
}

Status ConsentService::Refuse(const Caller& caller, std::string_view permission) {
  return RefuseRequest(audit_, clock_, caller, permission);
}

Result<store::ConsentRow> ConsentService::ParseRecord(const Caller& caller,
                                                      std::string_view external_id,
                                                      const json& body, int64_t now_us) {
  if (!body.is_object()) {
    return Error(Status::InvalidArgument("the consent body must be a JSON object"));
  }
  for (const auto& [key, value] : body.items()) {
    static const std::set<std::string> kKeys = {"purpose", "channel",  "status",  "scope", "source",
                                                "notice",  "evidence", "expires", "time"};
    if (!kKeys.contains(key)) {
      return Error(Status::InvalidArgument("unknown key '" + key + "'"));
    }
  }
  store::ConsentRow row;
  PORTRAIT_ASSIGN_OR_RETURN(row.purpose, OptionalString(body, "purpose"));
  if (!caller.config->FindPurpose(row.purpose) && row.purpose != kPersonalisation) {
    return Error(Status::InvalidArgument(
        "purpose: must name a purpose of the configuration, or personalisation"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(row.channel, OptionalString(body, "channel"));
  PORTRAIT_ASSIGN_OR_RETURN(row.status, OptionalString(body, "status"));
  PORTRAIT_ASSIGN_OR_RETURN(row.scope, OptionalString(body, "scope"));
  if (row.channel.empty()) {
    row.channel = consent::ChannelName(consent::Channel::kAny);
  }
  if (row.scope.empty()) {
    row.scope = "processing";
  }
  PORTRAIT_RETURN_IF_ERROR(consent::ParseChannel(row.channel));
  PORTRAIT_RETURN_IF_ERROR(consent::ParseStatus(row.status));
  PORTRAIT_RETURN_IF_ERROR(consent::ParseScope(row.scope));
  PORTRAIT_ASSIGN_OR_RETURN(row.expires_us, OptionalTime(body, "expires"));
  PORTRAIT_ASSIGN_OR_RETURN(row.time_us, OptionalTime(body, "time"));
  if (row.time_us > now_us) {
    return Error(Status::InvalidArgument("time: must not be in the future"));
  }
  row.time_us = row.time_us == 0 ? now_us : row.time_us;
  PORTRAIT_ASSIGN_OR_RETURN(std::string evidence, OptionalString(body, "evidence"));
  PORTRAIT_ASSIGN_OR_RETURN(row.profile_id, vault_.IdOf(external_id));
  PORTRAIT_ASSIGN_OR_RETURN(row.source, OptionalString(body, "source"));
  PORTRAIT_ASSIGN_OR_RETURN(row.notice, OptionalString(body, "notice"));
  if (!evidence.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(row.evidence,
                              vault_.SealFor(row.profile_id, kConsentEvidenceField, evidence));
  }
  row.actor = caller.Actor();
  return row;
}

Result<ConsentService::Recorded> ConsentService::Record(const Caller& caller,
                                                        std::string_view external_id,
                                                        const json& body) {
  if (!consent::HasPermission(*caller.role, "consents.write")) {
    return Error(Refuse(caller, "consents.write"));
  }
  const int64_t now = clock_.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(store::ConsentRow row, ParseRecord(caller, external_id, body, now));
  store::Batch batch;
  batch.audit.push_back(store::AuditEntry{now, caller.Actor(), "consent.record", row.profile_id,
                                          caller.purpose->name,
                                          json{{"purpose", row.purpose},
                                               {"scope", row.scope},
                                               {"channel", row.channel},
                                               {"status", row.status},
                                               {"notice", row.notice}}
                                              .dump()});
  PORTRAIT_RETURN_IF_ERROR(SuppressEndedTasks(*caller.config, row, now, batch));
  batch.consents.push_back(std::move(row));
  PORTRAIT_ASSIGN_OR_RETURN(store::CommitResult result, audit_.Commit(batch));
  log_.debug("consent record {} ({} {}) for profile {}", result.consent_ids[0],
             batch.consents[0].purpose, batch.consents[0].status, batch.consents[0].profile_id);
  return Recorded{result.consent_ids[0], batch.consents[0].profile_id};
}

Status ConsentService::SuppressEndedTasks(const config::Config& config,
                                          const store::ConsentRow& row, int64_t now_us,
                                          store::Batch& batch) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<ConsentRecord> ledger, Ledger(row.profile_id));
  ConsentRecord added = ToRecord(row);
  added.id = std::numeric_limits<int64_t>::max();  // newer than every stored record
  ledger.push_back(std::move(added));
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> tasks, store_.GetTasks(row.profile_id));
  for (const store::TaskRow& t : tasks) {
    const config::Purpose* purpose = config.FindPurpose(t.purpose);
    auto channel = consent::ParseChannel(t.channel);
    if (!store::IsWaiting(t.state) || !purpose || !channel) {
      continue;  // the dispatcher suppresses what its config no longer knows
    }
    const consent::BasisDecision basis =
        consent::CheckLawfulBasis(*purpose, *channel, ledger, now_us);
    if (basis.allowed) {
      continue;
    }
    const std::string suppressed(store::TaskStateName(store::TaskState::kSuppressed));
    batch.task_updates.push_back({t.id, suppressed, basis.reason, t.due_us, t.attempts, now_us});
    batch.audit.push_back(TaskAudit(t, suppressed, basis.reason, now_us));
  }
  return Status::Ok();
}

Result<std::vector<ConsentRecord>> ConsentService::Ledger(store::ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(auto ledgers, Ledgers(std::span<const store::ProfileId>(&id, 1)));
  return std::move(ledgers[0]);
}

Result<std::vector<std::vector<ConsentRecord>>> ConsentService::Ledgers(
    std::span<const store::ProfileId> ids) {
  PORTRAIT_ASSIGN_OR_RETURN(auto ledgers, store_.GetConsentsOf(ids));
  std::vector<std::vector<ConsentRecord>> out(ledgers.size());
  for (size_t i = 0; i < ledgers.size(); ++i) {
    out[i].reserve(ledgers[i].size());
    for (const auto& row : ledgers[i]) {
      out[i].push_back(ToRecord(row));
    }
  }
  return out;
}

Result<json> ConsentService::Show(const Caller& caller, std::string_view external_id) {
  if (!consent::HasPermission(*caller.role, "consents.read")) {
    return Error(Refuse(caller, "consents.read"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::ProfileId id, vault_.IdOf(external_id));
  PORTRAIT_ASSIGN_OR_RETURN(json out, LedgerJson(id));
  PORTRAIT_RETURN_IF_ERROR(audit_.Append(
      {store::AuditEntry{clock_.NowUs(), caller.Actor(), "consent.read", id, caller.purpose->name,
                         json{{"records", out["history"].size()}}.dump()}}));
  return out;
}

Result<json> ConsentService::LedgerJson(store::ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(auto ledger, Ledger(id));
  const int64_t now = clock_.NowUs();
  json out = {{"current", json::array()}, {"history", json::array()}};
  for (const auto& r : consent::CurrentState(ledger, now)) {
    out["current"].push_back(RecordJson(r));
  }
  for (const auto& r : ledger) {
    json j = RecordJson(r);
    if (!r.evidence.empty()) {
      auto evidence = vault_.OpenFor(id, kConsentEvidenceField, r.evidence);
      j["evidence"] = evidence ? json(*evidence) : json(nullptr);
    }
    out["history"].push_back(std::move(j));
  }
  return out;
}

Result<consent::BasisDecision> ConsentService::Basis(store::ProfileId id,
                                                     const config::Purpose& purpose,
                                                     consent::Channel channel, int64_t now_us) {
  PORTRAIT_ASSIGN_OR_RETURN(auto ledger, Ledger(id));
  return consent::CheckLawfulBasis(purpose, channel, ledger, now_us);
}

}  // namespace portrait::daemon
