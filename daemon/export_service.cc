#include "daemon/export_service.h"

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "consent/profile_view.h"
#include "daemon/task_service.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// Whether a task's rendered message may be shown: its trigger is known and its message reads
// only fields the caller reads in clear and metrics its purpose may use.
bool MessageVisible(const rules::Trigger* t, const Caller& caller) {
  if (!t) {
    return false;
  }
  for (const auto& part : t->message.parts) {
    const bool field = part.path.rfind("fields.", 0) == 0;
    const bool metric = part.path.rfind("metrics.", 0) == 0;
    if ((field && consent::FieldAccess(*caller.role, *caller.purpose, part.expr.name) !=
                      consent::Access::kClear) ||
        (metric && !caller.purpose->derived.Allows("metrics", part.expr.name))) {
      return false;
    }
  }
  return true;
}

// A task's payload as the caller may see it: its fields through the caller's view, its message
// only when MessageVisible.
json PayloadFor(const Caller& caller, const rules::Trigger* t, const json& payload) {
  if (SeesEverything(caller) || !payload.is_object()) {
    return payload;
  }
  json out = json::object();
  auto fields = payload.find("fields");
  if (fields != payload.end() && fields->is_object()) {
    out["fields"] =
        consent::BuildView(*caller.config, *caller.role, *caller.purpose, *fields).fields;
  }
  auto message = payload.find("message");
  if (message != payload.end() && MessageVisible(t, caller)) {
    out["message"] = *message;
  }
  return out;
}

}  // namespace

bool SeesEverything(const Caller& caller) {
  for (const config::Field& f : caller.config->fields) {
    if (consent::FieldAccess(*caller.role, *caller.purpose, f.name) != consent::Access::kClear) {
      return false;
    }
  }
  const config::DerivedUse& d = caller.purpose->derived;
  return d.Allows("metrics") && d.Allows("lifecycle") && d.Allows("tags");
}

Result<json> ExportService::Export(const Caller& caller, std::string_view external_id) {
  if (!consent::HasPermission(*caller.role, "export")) {
    return Error(RefuseRequest(audit_, clock_, caller, "export"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::Profile profile, vault_.Get(external_id));
  const store::ProfileId id = profile.id;
  PORTRAIT_ASSIGN_OR_RETURN(json events, Events(id, SeesEverything(caller)));
  PORTRAIT_ASSIGN_OR_RETURN(json tasks, Tasks(caller, id));
  PORTRAIT_ASSIGN_OR_RETURN(json consents, consents_.LedgerJson(id));
  consent::ProfileView view =
      consent::BuildView(*caller.config, *caller.role, *caller.purpose, profile.fields);
  const ProfileService::Derived computed =
      derived_ ? derived_(*caller.purpose, profile.metrics) : ProfileService::Derived{};
  consent::DerivedView derived =
      consent::BuildDerivedView(*caller.purpose, profile.metrics, computed.TagsWith(profile.tags),
                                profile.lifecycle, computed.time_metrics);
  PORTRAIT_RETURN_IF_ERROR(audit_.Append(
      {store::AuditEntry{clock_.NowUs(), caller.Actor(), "profile.export", id, caller.purpose->name,
                         json{{"events", events.size()}, {"tasks", tasks.size()}}.dump()}}));
  return json{{"id", profile.external_id},
              {"internal_id", id},
              {"created", FormatRfc3339(profile.created_us)},
              {"fields", view.fields},
              {"masked", view.masked},
              {"withheld", view.withheld},
              {"tags", derived.tags},
              {"segments", computed.segments},
              {"timezone", profile.timezone},
              {"lifecycle", derived.lifecycle},
              {"metrics", derived.metrics},
              {"scores", consent::AllowedDerived(*caller.purpose, "scores", computed.scores)},
              {"predictions",
               consent::AllowedDerived(*caller.purpose, "predictions", computed.predictions)},
              {"legal_hold", profile.legal_hold},
              {"events", events},
              {"consents", consents},
              {"tasks", tasks}};
}

Result<json> ExportService::Events(store::ProfileId id, bool with_data) {
  json events = json::array();
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::EventRow> rows, store_.GetEvents(id));
  for (const store::EventRow& e : rows) {
    json event = {{"type", e.type}, {"time", FormatRfc3339(e.time_us)}};
    if (with_data) {
      PORTRAIT_ASSIGN_OR_RETURN(std::string data,
                                vault_.OpenFor(id, store::kEventDataField, e.data));
      event["data"] = json::parse(data, nullptr, false);
    }
    events.push_back(std::move(event));
  }
  return events;
}

Result<json> ExportService::Tasks(const Caller& caller, store::ProfileId id) {
  auto loaded = rules_.Get();
  json tasks = json::array();
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> rows, store_.GetTasks(id));
  for (const store::TaskRow& t : rows) {
    PORTRAIT_ASSIGN_OR_RETURN(std::string payload,
                              vault_.OpenFor(id, store::TaskPayloadName(t.trigger), t.payload));
    json task = TaskJson(t);
    task["payload"] = PayloadFor(caller, loaded->set.FindTrigger(t.trigger),
                                 json::parse(payload, nullptr, false));
    tasks.push_back(std::move(task));
  }
  return tasks;
}

}  // namespace portrait::daemon
