#include "daemon/profile_service.h"

#include "base/caller_name.h"
#include "base/time_format.h"
#include "config/channel.h"
#include "consent/access_policy.h"
#include "consent/profile_view.h"
#include "daemon/ingest_group.h"

namespace portrait::daemon {

using nlohmann::json;

namespace {

// Whether `check` allows processing on at least one channel; the first allowing decision, else
// the decision for `any`.
template <typename Check>
consent::BasisDecision OnAnyChannel(Check&& check) {
  consent::BasisDecision first;
  for (consent::Channel c : config::kChannels) {
    consent::BasisDecision d = check(c);
    if (d.allowed) {
      return d;
    }
    if (c == consent::Channel::kAny) {
      first = d;
    }
  }
  return first;
}

}  // namespace

std::optional<store::PatchError> UnwritableField(const Caller& caller, const json& fields) {
  for (const auto& [name, value] : fields.items()) {
    if (!caller.config->FindField(name)) {
      return store::PatchError{
          CallerNameLabel(name),
          Status::InvalidArgument("fields: unknown field " + QuotedCallerName(name) +
                                  " (declare it as a [[field]] in portrait.toml)")};
    }
    if (consent::FieldAccess(*caller.role, *caller.purpose, name) == consent::Access::kWithheld) {
      return store::PatchError{
          name, Status::PermissionDenied("field '" + name + "' is not visible to role '" +
                                         caller.role->name + "' for purpose '" +
                                         caller.purpose->name + "'")};
    }
  }
  return std::nullopt;
}

Status CheckLookupField(store::AuditLog& audit, const Clock& clock, const Caller& caller,
                        std::string_view field, std::string_view audit_key) {
  if (!consent::HasPermission(*caller.role, "profiles.read")) {
    return RefuseRequest(audit, clock, caller, "profiles.read");
  }
  const config::Field* declared = caller.config->FindField(field);
  if (declared &&
      consent::FieldAccess(*caller.role, *caller.purpose, field) == consent::Access::kClear) {
    return Status::Ok();
  }
  const std::string name = declared ? declared->name : "(undeclared)";
  (void)audit.Append(
      {store::AuditEntry{clock.NowUs(), caller.Actor(), "request.refused", 0, caller.purpose->name,
                         json{{std::string(audit_key), name}}.dump()}});
  return Status::PermissionDenied("field '" + name + "' is not read in clear by role '" +
                                  caller.role->name + "' for purpose '" + caller.purpose->name +
                                  "'");
}

Result<bool> ProfileService::Require(const Caller& caller, std::string_view permission) {
  if (!consent::HasPermission(*caller.role, permission)) {
    return Error(RefuseRequest(audit_, clock_, caller, permission));
  }
  return true;
}

store::AuditEntry ProfileService::Entry(const Caller& caller, std::string action,
                                        json detail) const {
  return store::AuditEntry{clock_.NowUs(),       caller.Actor(), std::move(action), 0,
                           caller.purpose->name, detail.dump()};
}

Result<json> ProfileService::Read(const Caller& caller, std::string_view external_id) {
  PORTRAIT_ASSIGN_OR_RETURN(PreparedRead read, PrepareRead(caller, external_id));
  Status audited = audit_.Append({read.record});
  if (!audited.ok()) {
    return Error(ReadRefused(read.record.profile_id, audited));
  }
  return std::move(read.answer);
}

Status ProfileService::ReadRefused(store::ProfileId id, const Status& audit_error) const {
  log_.error("profile {} read refused: audit log unavailable ({})", id, audit_error.ToString());
  return Status::Unavailable(
      "the audit log could not record this read, so it was refused; retry later");
}

Result<ProfileService::LedgerGate> ProfileService::Gate(const Caller& caller, store::ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(auto gates, Gates(caller, std::span<const store::ProfileId>(&id, 1)));
  return gates[0];
}

Result<std::vector<ProfileService::LedgerGate>> ProfileService::Gates(
    const Caller& caller, std::span<const store::ProfileId> ids) {
  const int64_t now = clock_.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(auto ledgers, consents_.Ledgers(ids));
  std::vector<LedgerGate> out(ledgers.size());
  for (size_t i = 0; i < ledgers.size(); ++i) {
    const auto& ledger = ledgers[i];
    LedgerGate& gate = out[i];
    gate.basis = OnAnyChannel([&](consent::Channel c) {
      return consent::CheckLawfulBasis(*caller.purpose, c, ledger, now);
    });
    gate.sensitive = OnAnyChannel([&](consent::Channel c) {
      return consent::CheckSeparateConsent(consent::ConsentScope::kSensitive, caller.purpose->name,
                                           c, ledger, now);
    });
    gate.objected = Objected(ledger, now);
  }
  return out;
}

Result<ProfileService::PreparedRead> ProfileService::PrepareRead(const Caller& caller,
                                                                 std::string_view external_id) {
  PORTRAIT_RETURN_IF_ERROR(Require(caller, "profiles.read"));
  PORTRAIT_ASSIGN_OR_RETURN(store::Profile profile, vault_.Get(external_id));
  PORTRAIT_ASSIGN_OR_RETURN(LedgerGate gate, Gate(caller, profile.id));
  const consent::BasisDecision& basis = gate.basis;
  // What may not be processed for this purpose is not shown for it.
  for (const config::Field& f : caller.config->fields) {
    if (!gate.Allows(f)) {
      profile.fields.erase(f.name);
    }
  }
  consent::ProfileView view =
      consent::BuildView(*caller.config, *caller.role, *caller.purpose, profile.fields);
  // Derived data is processing too: none of it without the basis, and only what the purpose
  // declares it may use.
  const Derived computed =
      basis.allowed && derived_ ? derived_(*caller.purpose, profile.metrics) : Derived{};
  consent::DerivedView derived =
      basis.allowed ? consent::BuildDerivedView(*caller.purpose, profile.metrics,
                                                computed.TagsWith(profile.tags), profile.lifecycle,
                                                computed.time_metrics)
                    : consent::DerivedView{};
  json clear = json::array();
  for (const auto& [name, value] : view.fields.items()) {
    if (std::find(view.masked.begin(), view.masked.end(), name) == view.masked.end()) {
      clear.push_back(name);
    }
  }
  store::AuditEntry entry = Entry(caller, "profile.read",
                                  {{"clear", clear},
                                   {"masked", view.masked},
                                   {"basis", basis.allowed ? "holds" : "does not hold"}});
  entry.profile_id = profile.id;
  json answer{
      {"id", profile.external_id},
      {"internal_id", profile.id},
      {"fields", view.fields},
      {"masked", view.masked},
      {"withheld", view.withheld},
      {"basis", basis.reason},
      {"tags", derived.tags},
      {"segments", computed.segments},
      {"timezone", profile.timezone.empty() ? caller.config->daemon.timezone : profile.timezone},
      {"lifecycle", derived.lifecycle},
      {"metrics", derived.metrics}};
  answer["scores"] = consent::AllowedDerived(*caller.purpose, "scores", computed.scores);
  answer["predictions"] =
      consent::AllowedDerived(*caller.purpose, "predictions", computed.predictions);
  return PreparedRead{std::move(answer), std::move(entry)};
}

std::vector<std::string> ProfileService::Derived::TagsWith(
    std::vector<std::string> api_tags) const {
  for (const std::string& t : rule_tags) {
    if (std::find(api_tags.begin(), api_tags.end(), t) == api_tags.end()) {
      api_tags.push_back(t);
    }
  }
  return api_tags;
}

Result<json> ProfileService::Write(const Caller& caller, std::string_view external_id,
                                   const json& patch) {
  PORTRAIT_RETURN_IF_ERROR(Require(caller, "profiles.write"));
  json names = json::array();
  if (patch.is_object() && patch.contains("fields") && patch["fields"].is_object()) {
    if (auto refused = UnwritableField(caller, patch["fields"])) {
      return Error(refused->status);
    }
    for (const auto& [name, value] : patch["fields"].items()) {
      names.push_back(name);
    }
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::UpsertResult r,
                            vault_.Upsert(external_id, patch,
                                          Entry(caller, "profile.write",
                                                {{"fields", names},
                                                 {"tags", patch.contains("tags")},
                                                 {"timezone", patch.contains("timezone")}})));
  log_.debug("profile {} {} by token {}", r.id, r.created ? "created" : "updated", caller.token);
  return json{{"internal_id", r.id}, {"created", r.created}};
}

Result<json> ProfileService::Find(const Caller& caller, std::string_view field, const json& value) {
  PORTRAIT_RETURN_IF_ERROR(CheckLookupField(audit_, clock_, caller, field, "find_by"));
  const config::Field* declared = caller.config->FindField(field);
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ProfileId> ids, vault_.Find(field, value));
  json out = json::array();
  for (store::ProfileId id : ids) {
    PORTRAIT_ASSIGN_OR_RETURN(LedgerGate gate, Gate(caller, id));
    if (gate.Allows(*declared)) {
      PORTRAIT_ASSIGN_OR_RETURN(store::Profile p, vault_.GetById(id));
      out.push_back(p.external_id);
    }
  }
  // One record per profile found (so each profile's history shows the lookup), or one record
  // when nothing matched; each names the field and the counts, never the value.
  const json detail = {{"field", declared->name}, {"matches", ids.size()}, {"shown", out.size()}};
  std::vector<store::AuditEntry> entries;
  for (store::ProfileId id : ids) {
    entries.push_back(Entry(caller, "profile.find", detail));
    entries.back().profile_id = id;
  }
  if (entries.empty()) {
    entries.push_back(Entry(caller, "profile.find", detail));
  }
  PORTRAIT_RETURN_IF_ERROR(audit_.Append(entries));
  return json{{"ids", out}};
}

Result<json> ProfileService::Erase(const Caller& caller, std::string_view external_id) {
  PORTRAIT_RETURN_IF_ERROR(Require(caller, "erase"));
  PORTRAIT_ASSIGN_OR_RETURN(
      store::EraseReceipt receipt,
      vault_.Erase(external_id, Entry(caller, "profile.erase", json::object())));
  log_.debug("profile {} erased by token {}: {} fields, {} events, data key destroyed", receipt.id,
             caller.token, receipt.fields, receipt.events);
  return json{{"internal_id", receipt.id},
              {"erased_at", FormatRfc3339(receipt.erased_at_us)},
              {"fields_deleted", receipt.fields},
              {"events_deleted", receipt.events},
              {"data_key", "destroyed"},
              {"kept", "consent records and audit records, under the internal id"}};
}

Result<json> ProfileService::SetLegalHold(const Caller& caller, std::string_view external_id,
                                          bool hold, std::string_view reason) {
  PORTRAIT_RETURN_IF_ERROR(Require(caller, "erase"));
  if (reason.size() > 200) {
    return Error(Status::InvalidArgument("reason: at most 200 bytes"));
  }
  json detail = json::object();
  if (!reason.empty()) {
    detail["reason"] = reason;
  }
  PORTRAIT_ASSIGN_OR_RETURN(
      store::ProfileId id,
      vault_.SetLegalHold(external_id, hold,
                          Entry(caller, hold ? "legal_hold.place" : "legal_hold.lift", detail)));
  log_.debug("legal hold on profile {} {} by token {}", id, hold ? "placed" : "lifted",
             caller.token);
  return json{{"internal_id", id}, {"legal_hold", hold}};
}

}  // namespace portrait::daemon
