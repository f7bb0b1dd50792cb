#include "daemon/import_service.h"

#include <charconv>
#include <cmath>

#include "base/caller_name.h"
#include "consent/access_policy.h"
#include "daemon/consent_service.h"
#include "daemon/identity.h"
#include "daemon/import_identity.h"
#include "daemon/profile_service.h"

namespace portrait::daemon {

using nlohmann::json;

namespace {

// A CSV cell for a number or bool field, converted; other values as they are.
json FromText(const config::Field& field, const json& value) {
  if (!value.is_string()) {
    return value;
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (field.type == config::FieldType::kBool) {
    return text == "true" ? json(true) : text == "false" ? json(false) : value;
  }
  if (field.type == config::FieldType::kNumber) {
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(number)) {
      return number;
    }
  }
  return value;
}

// Whether the caller may read everything `row` names, whatever the customer's consent ledger
// says (profiles.read, each field in clear and not sensitive, each tag under its purpose's
// derived list, a purpose whose basis is a contract: consent or an objection can hide data from
// the others). Telling it that any other row changed nothing would confirm a value a read may
// hide; such a row counts as updated instead.
bool MayConfirm(const Caller& caller, const store::ImportRow& row) {
  if (!consent::HasPermission(*caller.role, "profiles.read") ||
      caller.purpose->basis != config::LawfulBasis::kContract) {
    return false;
  }
  if (row.patch.contains("fields")) {
    for (const auto& [name, value] : row.patch["fields"].items()) {
      const config::Field* field = caller.config->FindField(name);
      if (!field || field->field_class == config::FieldClass::kSensitive ||
          consent::FieldAccess(*caller.role, *caller.purpose, name) != consent::Access::kClear) {
        return false;
      }
    }
  }
  if (row.patch.contains("tags")) {
    for (const json& tag : row.patch["tags"]["add"]) {
      if (!tag.is_string() ||
          !caller.purpose->derived.AllowsTag(tag.get_ref<const std::string&>())) {
        return false;
      }
    }
  }
  return true;
}

json Answer(store::ImportCounts& counts, bool hide_unchanged,
            const std::map<int64_t, json>& owners) {
  std::stable_sort(counts.errors.begin(), counts.errors.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  json errors = json::array();
  for (const store::ImportError& e : counts.errors) {
    errors.push_back({{"line", e.line}, {"field", e.field}, {"reason", e.reason}});
    if (auto owner = owners.find(e.line); owner != owners.end() && e.field == "id") {
      errors.back()["owner"] = owner->second;
    }
  }
  const int64_t unchanged = hide_unchanged ? 0 : counts.unchanged;
  return json{
      {"created", counts.created},      {"updated", counts.updated + counts.unchanged - unchanged},
      {"unchanged", unchanged},         {"merged", counts.merged},
      {"failed", counts.errors.size()}, {"errors", errors}};
}

}  // namespace

tl::expected<store::ImportRow, store::ImportError> ImportService::ReadRow(const Caller& caller,
                                                                          const json& row,
                                                                          int64_t line,
                                                                          bool text) const {
  auto refuse = [line](std::string field, std::string reason) {
    return tl::unexpected(store::ImportError{line, std::move(field), std::move(reason)});
  };
  for (const auto& [key, value] : row.items()) {
    if (key != "line" && key != "id" && key != "fields" && key != "tags" && key != "timezone") {
      return refuse(
          "row", "unknown key " + QuotedCallerName(key) + " (expected id, fields, tags, timezone)");
    }
  }
  if (!row.contains("id") || !row["id"].is_string()) {
    return refuse("id", "expected the profile's id as a string");
  }
  store::ImportRow out{line, row["id"].get<std::string>(), json::object()};
  if (row.contains("fields")) {
    if (!row["fields"].is_object()) {
      return refuse("fields", "expected an object of field name to value");
    }
    if (auto refused = UnwritableField(caller, row["fields"])) {
      return refuse(refused->field, refused->status.message());
    }
    json& fields = out.patch["fields"] = json::object();
    for (const auto& [name, value] : row["fields"].items()) {
      fields[name] = text ? FromText(*caller.config->FindField(name), value) : value;
    }
  }
  if (row.contains("tags")) {
    if (!row["tags"].is_array()) {
      return refuse("tags", "expected a list of tags");
    }
    out.patch["tags"] = {{"add", row["tags"]}};
  }
  if (row.contains("timezone")) {
    if (!row["timezone"].is_string()) {
      return refuse("timezone", "expected an IANA time zone name");
    }
    out.patch["timezone"] = row["timezone"];
  }
  return out;
}

Result<ImportService::RowsRead> ImportService::ReadRows(const Caller& caller, const json& rows,
                                                        bool text) const {
  RowsRead out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& row = rows[i];
    const json* line = row.is_object() && row.contains("line") ? &row["line"] : nullptr;
    if (!line || !line->is_number_unsigned() || line->get<uint64_t>() < 1 ||
        line->get<uint64_t>() > (uint64_t{1} << 53)) {
      return Error(Status::InvalidArgument("rows[" + std::to_string(i) +
                                           "].line: expected the row's line number (1 or more)"));
    }
    auto read = ReadRow(caller, row, line->get<int64_t>(), text);
    if (read) {
      out.hide_unchanged = out.hide_unchanged || !MayConfirm(caller, *read);
      out.good.push_back(std::move(*read));
    } else {
      out.bad.push_back(std::move(read.error()));
    }
  }
  return out;
}

Result<std::vector<std::string>> ImportService::MatchFields(const Caller& caller,
                                                            const json& body) const {
  std::vector<std::string> names;
  if (!body.contains("match")) {
    return names;
  }
  const json& match = body["match"];
  if (!match.is_array() || match.empty() || match.size() > 16) {
    return Error(
        Status::InvalidArgument("match: expected a list of 1-16 blind-indexed field names"));
  }
  for (const json& name : match) {
    if (!name.is_string() || name.get_ref<const std::string&>().size() > 128) {
      return Error(
          Status::InvalidArgument("match: expected field names as strings of at most 128 bytes"));
    }
    names.push_back(name.get<std::string>());
  }
  // Matching tells whether a person with that value is stored: each field must be one the
  // caller may look up by (an undeclared one is refused the same way, as find refuses it), so
  // that nothing is said about a field the caller may not read, nor whether it exists.
  for (const std::string& name : names) {
    PORTRAIT_RETURN_IF_ERROR(CheckLookupField(audit_, clock_, caller, name, "match_by"));
  }
  PORTRAIT_RETURN_IF_ERROR(IdentityMatcher::CheckMatchFields(*caller.config, names));
  return names;
}

std::map<int64_t, json> ImportService::LeaveOtherNodesRows(RowsRead& read) {
  std::map<int64_t, json> owners;
  if (cluster_ == nullptr) {
    return owners;
  }
  std::vector<store::ImportRow> kept;
  for (store::ImportRow& row : read.good) {
    const std::string ext_key = vault_.ExtKey(row.external_id);
    if (cluster_->ServesKey(ext_key)) {
      kept.push_back(std::move(row));
      continue;
    }
    const std::optional<store::LeaseHolder> owner = cluster_->OwnerOfKey(ext_key);
    read.bad.push_back(store::ImportError{
        row.line, "id",
        owner ? "the subject's partition is held by node " + owner->node + "; send the row there"
              : "the subject's partition is passing to another node; send the row again shortly"});
    owners[row.line] =
        owner ? json{{"node", owner->node}, {"address", owner->address}} : json(nullptr);
  }
  read.good = std::move(kept);
  return owners;
}

Result<json> ImportService::ImportProfiles(const Caller& caller, const json& body) {
  if (!consent::HasPermission(*caller.role, "profiles.write")) {
    return Error(RefuseRequest(audit_, clock_, caller, "profiles.write"));
  }
  if (!body.is_object() || !body.contains("rows") || !body["rows"].is_array() ||
      (body.contains("text") && !body["text"].is_boolean())) {
    return Error(Status::InvalidArgument(
        "expected {\"rows\": [{\"line\", \"id\", \"fields\", \"tags\", \"timezone\"}, ...], "
        "\"text\": false}"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(const std::vector<std::string> match, MatchFields(caller, body));
  const json& rows = body["rows"];
  if (rows.size() > kMaxRows) {
    return Error(
        Status::InvalidArgument("rows: at most " + std::to_string(kMaxRows) + " rows per request"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(RowsRead read, ReadRows(caller, rows, body.value("text", false)));
  const std::map<int64_t, json> owners = LeaveOtherNodesRows(read);
  store::PreparedImport prepared = vault_.PrepareImport(std::move(read.good));
  prepared.errors.insert(prepared.errors.end(), read.bad.begin(), read.bad.end());
  store::AuditEntry audit{
      clock_.NowUs(), caller.Actor(), "profiles.import", 0, caller.purpose->name, ""};
  store::ImportCounts counts;
  const IdentityMatcher matcher(*caller.config, store_, blind_);
  // A profile whose ledger hides the field from the caller's purpose is not matched (as find
  // does not name it): a "merged" would confirm the value a read hides.
  const IdentityMatcher::Visible visible = [&](store::ProfileId id,
                                               const std::string& field) -> Result<bool> {
    PORTRAIT_ASSIGN_OR_RETURN(ProfileService::LedgerGate gate, profiles_.Gate(caller, id));
    const config::Field* declared = caller.config->FindField(field);
    return declared != nullptr && gate.Allows(*declared);
  };
  PORTRAIT_RETURN_IF_ERROR(writer_.Run([&]() -> Status {
    if (!match.empty()) {
      PORTRAIT_RETURN_IF_ERROR(ResolveIdentities(matcher, store_, match, visible, prepared));
    }
    PORTRAIT_ASSIGN_OR_RETURN(counts, vault_.CommitImport(std::move(prepared), std::move(audit)));
    for (store::ProfileId id : counts.written) {
      ingestor_.Forget(id);
    }
    // Every row's profile, unchanged ones too: a crash after the import's commit and before
    // this one leaves timers to arm, which the re-run then arms.
    return ingestor_.AfterProfileWrites(counts.touched, std::move(counts.created_open));
  }));
  log_.info("import by token {}: {} created, {} updated, {} unchanged, {} merged, {} failed",
            caller.token, counts.created, counts.updated, counts.unchanged, counts.merged,
            counts.errors.size());
  return Answer(counts, read.hide_unchanged, owners);
}

}  // namespace portrait::daemon
