// The Api's endpoints beyond profiles and events: tokens, audit, tasks, rules dry run, the
// data-subject export and /metrics.
#include <set>
#include <sstream>

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "consent/profile_view.h"
#include "crypto/audit_signer.h"
#include "daemon/api.h"
#include "daemon/task_audit.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

std::string Time(int64_t us) { return us == 0 ? "" : FormatRfc3339(us); }

Result<int64_t> IntParam(const std::map<std::string, std::string>& query, const std::string& name,
                         int64_t fallback) {
  auto it = query.find(name);
  if (it == query.end()) {
    return fallback;
  }
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < 0) {
    return Error(Status::InvalidArgument(name + ": expected a non-negative integer"));
  }
  return static_cast<int64_t>(v);
}

// A task as the API shows it (its payload is added only where the caller may read it).
json TaskJson(const store::TaskRow& t) {
  return {{"id", t.id},
          {"trigger", t.trigger},
          {"purpose", t.purpose},
          {"channel", t.channel},
          {"sink", t.sink},
          {"state", t.state},
          {"reason", t.reason},
          {"attempts", t.attempts},
          {"due", FormatRfc3339(t.due_us)},
          {"created", FormatRfc3339(t.created_us)},
          {"updated", FormatRfc3339(t.updated_us)}};
}

}  // namespace

#define PORTRAIT_REQUIRE(caller, permission)                                 \
  do {                                                                       \
    if (!consent::HasPermission(*(caller).role, permission)) {               \
      return Error(RefuseRequest(d_.audit, d_.clock, (caller), permission)); \
    }                                                                        \
  } while (0)

Result<HttpResponse> Api::Tasks(ApiCall& call) {
  const auto& p = call.path;
  const int64_t now = d_.clock.NowUs();
  if (p.size() == 2 && call.method() == http::verb::get) {
    PORTRAIT_REQUIRE(call.caller, "tasks.read");
    // A caller sees its purpose's tasks only (a task's due time can follow from a field, e.g. a
    // birthday greeting's); erasure notices, which belong to no purpose, to those who may erase.
    store::TaskFilter filter;
    filter.purpose = call.caller.purpose->name;
    filter.include_notices = consent::HasPermission(*call.caller.role, "erase");
    for (const auto& [key, value] : call.query) {
      if (key != "state" && key != "trigger" && key != "profile" && key != "since" &&
          key != "after" && key != "limit") {
        return Error(Status::InvalidArgument("query: unknown parameter '" + key +
                                             "' (state, trigger, profile, since, after, limit)"));
      }
    }
    if (auto it = call.query.find("state"); it != call.query.end()) {
      static const std::set<std::string> kStates = {
          "pending", "sending", "delivered", "retrying", "dead", "suppressed", "cancelled"};
      if (!kStates.contains(it->second)) {
        return Error(
            Status::InvalidArgument("state: one of pending, sending, delivered, "
                                    "retrying, dead, suppressed, cancelled"));
      }
      filter.state = it->second;
    }
    if (auto it = call.query.find("trigger"); it != call.query.end()) {
      filter.trigger = it->second;
    }
    if (auto it = call.query.find("profile"); it != call.query.end()) {
      PORTRAIT_ASSIGN_OR_RETURN(filter.profile_id, d_.vault.IdOf(it->second));
    }
    if (auto it = call.query.find("since"); it != call.query.end()) {
      auto since = ParseRfc3339(it->second);
      if (!since) {
        return Error(Status::InvalidArgument("since: expected an RFC 3339 time"));
      }
      filter.since_us = *since;
    }
    PORTRAIT_ASSIGN_OR_RETURN(filter.after_id, IntParam(call.query, "after", 0));
    PORTRAIT_ASSIGN_OR_RETURN(int64_t limit, IntParam(call.query, "limit", 100));
    filter.limit = static_cast<int>(std::clamp<int64_t>(limit, 1, 1000));
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> rows, d_.store.ListTasks(filter));
    json out = json::array();
    for (const store::TaskRow& t : rows) {
      json task = TaskJson(t);
      task["internal_id"] = t.profile_id;
      out.push_back(std::move(task));
    }
    PORTRAIT_RETURN_IF_ERROR(d_.audit.Append({store::AuditEntry{
        now, call.caller.Actor(), "tasks.list", filter.profile_id, call.caller.purpose->name,
        json{{"tasks", rows.size()}, {"state", filter.state}, {"trigger", filter.trigger}}
            .dump()}}));
    json answer = {{"tasks", std::move(out)}};
    answer["next_after"] =
        rows.size() == static_cast<size_t>(filter.limit) ? json(rows.back().id) : json(nullptr);
    return JsonResponse(answer);
  }
  if (p.size() == 4 && call.method() == http::verb::post && (p[3] == "retry" || p[3] == "cancel")) {
    PORTRAIT_REQUIRE(call.caller, "tasks.write");
    char* end = nullptr;
    const int64_t id = std::strtoll(p[2].c_str(), &end, 10);
    if (p[2].empty() || *end != '\0') {
      return Error(Status::NotFound("no such task"));
    }
    const bool retry = p[3] == "retry";
    json answer;
    PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::TaskRow> task, d_.store.GetTask(id));
      if (!task) {
        return Status::NotFound("no such task");
      }
      const std::string& from = task->state;
      const bool allowed = retry ? (from == "dead" || from == "suppressed" || from == "cancelled")
                                 : (from == "pending" || from == "retrying");
      if (!allowed) {
        return Status::Conflict(
            "task " + p[2] + " is " + from + "; " +
            (retry ? "only dead, suppressed or cancelled tasks can be retried"
                   : "only pending or retrying tasks can be cancelled (one being sent can't)"));
      }
      // A settled erasure notice no longer holds the erased customer's id: nothing to resend.
      const bool notice = task->trigger == store::kErasureNotice;
      if (retry && notice) {
        return Status::Conflict("task " + p[2] +
                                " is a settled erasure notice; its subject is gone and it "
                                "can't be sent again");
      }
      const std::string reason =
          std::string(retry ? "retried" : "cancelled") + " by " + call.caller.Actor();
      store::Batch batch;
      // A retried task starts afresh: the dispatcher checks consent, caps and quiet hours again.
      batch.task_updates.push_back({id, retry ? "pending" : "cancelled", reason,
                                    retry ? now : task->due_us, retry ? 0 : task->attempts, now,
                                    /*clear_payload=*/notice});
      batch.audit.push_back(TaskAudit(*task, retry ? "pending" : "cancelled", reason, now,
                                      call.caller.Actor(), call.caller.purpose->name));
      PORTRAIT_ASSIGN_OR_RETURN(store::CommitResult result, d_.store.Commit(batch));
      PORTRAIT_RETURN_IF_ERROR(d_.audit.AfterCommit(result));
      PORTRAIT_ASSIGN_OR_RETURN(task, d_.store.GetTask(id));
      answer = TaskJson(*task);
      return Status::Ok();
    }));
    return JsonResponse(answer);
  }
  return Error(Status::NotFound("no such endpoint; see docs/API.md"));
}

Result<HttpResponse> Api::Tokens(ApiCall& call) {
  PORTRAIT_REQUIRE(call.caller, "admin");
  const auto& p = call.path;
  if (p.size() == 2 && call.method() == http::verb::post) {
    PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
      return Error(Status::InvalidArgument("name: required, a string"));
    }
    if (!body.contains("role") || !body["role"].is_string() ||
        !call.caller.config->FindRole(body["role"].get<std::string>())) {
      return Error(Status::InvalidArgument("role: required, a role declared in portrait.toml"));
    }
    const std::string name = body["name"], role = body["role"];
    PORTRAIT_ASSIGN_OR_RETURN(std::string token, d_.tokens.Create(name, role, call.caller.Actor()));
    d_.log.info("token '{}' for role {} created by token {}", name, role, call.caller.token);
    return JsonResponse({{"name", name}, {"role", role}, {"token", token}}, http::status::created);
  }
  if (p.size() == 2 && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TokenRow> rows, d_.tokens.List());
    json out = json::array();
    for (const store::TokenRow& t : rows) {
      out.push_back({{"name", t.name},
                     {"role", t.role},
                     {"created", Time(t.created_us)},
                     {"last_used", Time(t.last_used_us)},
                     {"revoked", Time(t.revoked_us)}});
    }
    return JsonResponse({{"tokens", out}});
  }
  if (p.size() == 3 && call.method() == http::verb::delete_) {
    PORTRAIT_RETURN_IF_ERROR(d_.tokens.Revoke(p[2], call.caller.Actor()));
    d_.auth.Invalidate();
    d_.log.info("token '{}' revoked by token {}", p[2], call.caller.token);
    return JsonResponse({{"revoked", p[2]}});
  }
  return Error(Status::NotFound("no such endpoint"));
}

Result<HttpResponse> Api::Audit(ApiCall& call) {
  PORTRAIT_REQUIRE(call.caller, "audit.read");
  const auto& p = call.path;
  const int64_t now = d_.clock.NowUs();
  if (p.size() == 2 && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(int64_t after, IntParam(call.query, "after", 0));
    PORTRAIT_ASSIGN_OR_RETURN(int64_t limit, IntParam(call.query, "limit", 1000));
    limit = std::clamp<int64_t>(limit, 1, 10'000);
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::AuditRecord> records,
                              d_.store.ReadAudit(after, static_cast<int>(limit)));
    json out = json::array();
    for (const store::AuditRecord& r : records) {
      const store::AuditEntry& e = r.entry;
      out.push_back({{"seq", r.seq},
                     {"time", FormatRfc3339(e.time_us)},
                     {"actor", e.actor},
                     {"action", e.action},
                     {"profile_id", e.profile_id},
                     {"purpose", e.purpose},
                     {"detail", json::parse(e.detail, nullptr, false)},
                     {"hash", crypto::ToHex(r.hash)}});
    }
    PORTRAIT_RETURN_IF_ERROR(d_.audit.Append(
        {store::AuditEntry{now, call.caller.Actor(), "audit.read", 0, call.caller.purpose->name,
                           json{{"after", after}, {"records", records.size()}}.dump()}}));
    return JsonResponse({{"records", out}});
  }
  if (p.size() == 3 && p[2] == "verify" && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(store::AuditVerification v, d_.audit.Verify());
    PORTRAIT_RETURN_IF_ERROR(d_.audit.Append(
        {store::AuditEntry{now, call.caller.Actor(), "audit.verify", 0, call.caller.purpose->name,
                           json{{"ok", v.ok}, {"records", v.records}}.dump()}}));
    json out = {{"ok", v.ok}, {"records", v.records}, {"checkpoints", v.checkpoints}};
    if (!v.ok) {
      out["first_bad_seq"] = v.first_bad_seq;
      out["problem"] = v.problem;
    }
    return JsonResponse(out);
  }
  if (p.size() == 3 && p[2] == "export" && call.method() == http::verb::get) {
    return AuditExport(call);
  }
  return Error(Status::NotFound("no such endpoint"));
}

Result<HttpResponse> Api::AuditExport(ApiCall& call) {
  // Audited first, so the export holds (and its signed head covers) its own record.
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Append(
      {store::AuditEntry{d_.clock.NowUs(), call.caller.Actor(),
                         "audit.export", 0, call.caller.purpose->name, "{}"}}));
  std::ostringstream out;
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Export(out));
  HttpResponse r{http::status::ok, 11};
  r.set(http::field::content_type, "application/jsonl");
  r.body() = std::move(out).str();
  return r;
}

Result<HttpResponse> Api::Hold(ApiCall& call, const std::string& external_id) {
  const bool place = call.method() == http::verb::put;
  if (!place && call.method() != http::verb::delete_) {
    return Error(Status::NotFound("no such endpoint: PUT or DELETE /v1/profiles/{id}/hold"));
  }
  std::string reason;
  if (place && !call.request.body().empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
    if (!body.is_object() || (body.contains("reason") && !body["reason"].is_string())) {
      return Error(Status::InvalidArgument("reason: expected a string"));
    }
    reason = body.value("reason", "");
  }
  json out;
  PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
    PORTRAIT_ASSIGN_OR_RETURN(out, d_.profiles.SetLegalHold(call.caller, external_id, place,
                                                            reason));
    return Status::Ok();
  }));
  return JsonResponse(out);
}

Result<HttpResponse> Api::RulesTest(ApiCall& call) {
  PORTRAIT_REQUIRE(call.caller, "rules.test");
  PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
  if (!body.is_object() || !body.contains("profile") || !body["profile"].is_string()) {
    return Error(Status::InvalidArgument("profile: required, the profile's external id"));
  }
  int64_t at = d_.clock.NowUs();
  if (body.contains("at")) {
    auto parsed = ParseRfc3339(body["at"].is_string() ? body["at"].get<std::string>() : "");
    if (!parsed) {
      return Error(Status::InvalidArgument("at: expected an RFC 3339 time"));
    }
    at = *parsed;
  }
  std::optional<rules::EventInput> event;
  if (body.contains("event")) {
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<IncomingEvent> parsed,
                              ParseCloudEvents(body["event"], at, d_.blind));
    if (parsed.size() != 1) {
      return Error(Status::InvalidArgument("event: expected one CloudEvent"));
    }
    event = rules::EventInput{parsed[0].id, parsed[0].type, parsed[0].time_us, parsed[0].data};
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::Profile profile,
                            d_.vault.Get(body["profile"].get<std::string>()));
  rules::ProfileFacts facts{profile.id,   profile.fields,    profile.metrics,
                            profile.tags, profile.lifecycle, profile.timezone};
  auto loaded = d_.rules.Get();
  const Caller& caller = call.caller;
  // Only the caller's purpose's triggers, and none evaluated over a field it can't read in clear.
  const rules::ExplainScope scope{caller.purpose->name, [&](std::string_view field) {
                                    return consent::FieldAccess(*caller.role, *caller.purpose,
                                                                field) == consent::Access::kClear;
                                  }};
  std::vector<rules::Explanation> explained = loaded->engine.Explain(
      facts, event ? &*event : nullptr, at,
      [&](const std::string& key) {
        auto used = d_.store.HasTask(d_.blind.Digest("$task", key));
        return used && *used;
      },
      scope);
  json out = json::array();
  for (rules::Explanation& e : explained) {
    const rules::Trigger* t = loaded->set.FindTrigger(e.trigger);
    auto channel = consent::ParseChannel(t ? t->channel : "");
    if (e.fires && channel) {
      PORTRAIT_ASSIGN_OR_RETURN(consent::BasisDecision basis,
                                d_.consents.Basis(profile.id, *caller.purpose, *channel, at));
      if (!basis.allowed) {
        e.fires = false;
        e.reason = "would be suppressed: " + basis.reason;
      }
    }
    out.push_back({{"trigger", e.trigger},
                   {"fires", e.evaluated ? json(e.fires) : json(nullptr)},
                   {"reason", e.reason}});
  }
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Append({store::AuditEntry{
      d_.clock.NowUs(), caller.Actor(), "rules.test", profile.id,
      caller.purpose->name, json{{"triggers", out.size()}}.dump()}}));
  return JsonResponse({{"internal_id", profile.id}, {"at", FormatRfc3339(at)}, {"triggers", out}});
}

namespace {

// Whether the caller sees everything an export holds: every declared field in clear and every
// kind of derived data. Only such a caller gets event data and task payloads whole.
bool SeesEverything(const Caller& caller) {
  for (const config::Field& f : caller.config->fields) {
    if (consent::FieldAccess(*caller.role, *caller.purpose, f.name) != consent::Access::kClear) {
      return false;
    }
  }
  const config::DerivedUse& d = caller.purpose->derived;
  return d.Allows("metrics") && d.Allows("lifecycle") && d.Allows("tags");
}

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
    out["fields"] = consent::BuildView(*caller.config, *caller.role, *caller.purpose, *fields).fields;
  }
  auto message = payload.find("message");
  if (message != payload.end() && MessageVisible(t, caller)) {
    out["message"] = *message;
  }
  return out;
}

}  // namespace

// The data-subject export as the caller may see it for its purpose: fields through its view
// (clear, masked, withheld), derived data as its purpose declares, events' data and tasks'
// payloads only as far as they show nothing more (see SeesEverything, PayloadFor).
Result<HttpResponse> Api::Export(ApiCall& call, const std::string& external_id) {
  PORTRAIT_REQUIRE(call.caller, "export");
  const Caller& caller = call.caller;
  PORTRAIT_ASSIGN_OR_RETURN(store::Profile profile, d_.vault.Get(external_id));
  const store::ProfileId id = profile.id;
  const bool everything = SeesEverything(caller);
  json events = json::array();
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::EventRow> rows, d_.store.GetEvents(id));
  for (const store::EventRow& e : rows) {
    json event = {{"type", e.type}, {"time", FormatRfc3339(e.time_us)}};
    if (everything) {
      PORTRAIT_ASSIGN_OR_RETURN(std::string data,
                                d_.vault.OpenFor(id, store::kEventDataField, e.data));
      event["data"] = json::parse(data, nullptr, false);
    }
    events.push_back(std::move(event));
  }
  auto loaded = d_.rules.Get();
  json tasks = json::array();
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::TaskRow> task_rows, d_.store.GetTasks(id));
  for (const store::TaskRow& t : task_rows) {
    PORTRAIT_ASSIGN_OR_RETURN(std::string payload,
                              d_.vault.OpenFor(id, store::TaskPayloadName(t.trigger), t.payload));
    json task = TaskJson(t);
    task["payload"] = PayloadFor(caller, loaded->set.FindTrigger(t.trigger),
                                 json::parse(payload, nullptr, false));
    tasks.push_back(std::move(task));
  }
  PORTRAIT_ASSIGN_OR_RETURN(json consents, d_.consents.LedgerJson(id));
  consent::ProfileView view =
      consent::BuildView(*caller.config, *caller.role, *caller.purpose, profile.fields);
  consent::DerivedView derived = consent::BuildDerivedView(*caller.purpose, profile.metrics,
                                                           profile.tags, profile.lifecycle);
  // Fail closed: the export is answered only once its audit record is written.
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Append(
      {store::AuditEntry{d_.clock.NowUs(), caller.Actor(),
                         "profile.export", id, caller.purpose->name,
                         json{{"events", events.size()}, {"tasks", tasks.size()}}.dump()}}));
  return JsonResponse({{"id", profile.external_id},
                       {"internal_id", id},
                       {"created", FormatRfc3339(profile.created_us)},
                       {"fields", view.fields},
                       {"masked", view.masked},
                       {"withheld", view.withheld},
                       {"tags", derived.tags},
                       {"timezone", profile.timezone},
                       {"lifecycle", derived.lifecycle},
                       {"metrics", derived.metrics},
                       {"legal_hold", profile.legal_hold},
                       {"events", events},
                       {"consents", consents},
                       {"tasks", tasks}});
}

Result<HttpResponse> Api::Metrics() {
  const Telemetry& m = d_.telemetry;
  std::string out;
  RenderValue("portrait_http_requests_total", "counter", "HTTP requests received",
              m.http_requests.value(), out);
  RenderValue("portrait_http_errors_total", "counter", "HTTP responses with status >= 400",
              m.http_errors.value(), out);
  RenderValue("portrait_events_accepted_total", "counter", "events stored",
              m.events_accepted.value(), out);
  RenderValue("portrait_events_duplicate_total", "counter", "events ignored as repeats",
              m.events_duplicate.value(), out);
  RenderValue("portrait_tasks_fired_total", "counter", "tasks written by fired triggers",
              m.tasks_created.value(), out);
  RenderValue("portrait_timers_fired_total", "counter", "due timers handled",
              m.timers_fired.value(), out);
  RenderValue("portrait_commits_total", "counter", "group commits", m.commits.value(), out);
  RenderValue("portrait_writer_queue_events", "gauge", "events waiting for the writer",
              static_cast<double>(m.writer_queue.load()), out);
  m.batch_events.Render("portrait_commit_batch_events", "events per group commit", out);
  m.commit_seconds.Render("portrait_commit_seconds", "time to apply and commit a group", out);
  m.ingest_seconds.Render("portrait_ingest_seconds", "POST /v1/events: from parsed to durable",
                          out);
  const int64_t now = d_.clock.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(int64_t due, d_.store.CountDueTimers(now));
  RenderValue("portrait_timers_due", "gauge", "timers due and not yet handled",
              static_cast<double>(due), out);
  PORTRAIT_ASSIGN_OR_RETURN(auto by_state, d_.store.CountTasksByState());
  out += "# HELP portrait_tasks tasks in the outbox by state\n# TYPE portrait_tasks gauge\n";
  for (const char* state :
       {"pending", "sending", "delivered", "retrying", "dead", "suppressed", "cancelled"}) {
    out += fmt::format("portrait_tasks{{state=\"{}\"}} {}\n", state, by_state[state]);
  }
  m.sinks.Render(out);
  HttpResponse r{http::status::ok, 11};
  r.set(http::field::content_type, "text/plain; version=0.0.4");
  r.body() = std::move(out);
  return r;
}

}  // namespace portrait::daemon
