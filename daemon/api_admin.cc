// The Api's endpoints beyond profiles and events: tokens, audit, tasks, rules dry run, the
// data-subject export and /metrics.
#include <sstream>

#include "base/time_format.h"
#include "base/url.h"
#include "consent/access_policy.h"
#include "crypto/audit_signer.h"
#include "daemon/api.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

std::string Time(int64_t us) { return us == 0 ? "" : FormatRfc3339(us); }

}  // namespace

#define PORTRAIT_REQUIRE(caller, permission)                                 \
  do {                                                                       \
    if (!consent::HasPermission(*(caller).role, permission)) {               \
      return Error(RefuseRequest(d_.audit, d_.clock, (caller), permission)); \
    }                                                                        \
  } while (0)

Result<HttpResponse> Api::Tasks(ApiCall& call) {
  const auto& p = call.path;
  if (p.size() == 2 && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(json listed, d_.tasks.List(call.caller, call.query));
    return JsonResponse(listed);
  }
  if (p.size() == 4 && call.method() == http::verb::post && (p[3] == "retry" || p[3] == "cancel")) {
    if (auto misdirected = MisdirectedTask(call, p[2])) {
      return *misdirected;
    }
    json task;
    PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(task, p[3] == "retry" ? d_.tasks.Retry(call.caller, p[2])
                                                      : d_.tasks.Cancel(call.caller, p[2]));
      return Status::Ok();
    }));
    return JsonResponse(task);
  }
  return Error(Status::NotFound("no such endpoint; see docs/API.md"));
}

// Among several nodes, a change to a task of another node's partition, for a caller that may
// change tasks (one that may not gets its audited 403 from the service, as on one node): 421
// naming the holder, which writes the task's changes (DECISIONS 167).
std::optional<HttpResponse> Api::MisdirectedTask(const ApiCall& call, const std::string& id) {
  Result<int64_t> task_id = TaskService::ParseId(id);
  if (d_.cluster == nullptr || !consent::HasPermission(*call.caller.role, "tasks.write") ||
      !task_id) {
    return std::nullopt;  // the service answers: one node, a 403, or an id it refuses
  }
  Result<std::optional<store::TaskRow>> task = d_.store.GetTask(*task_id);
  if (!task || !*task || d_.cluster->Serves((*task)->profile_id)) {
    return std::nullopt;
  }
  return Misdirected(d_.cluster->OwnerOf((*task)->profile_id), "the task's");
}

Result<HttpResponse> Api::Segments(ApiCall& call) {
  const auto& p = call.path;
  if (call.method() != http::verb::get) {
    return Error(Status::NotFound("no such endpoint; see docs/API.md"));
  }
  if (p.size() == 2) {
    if (!call.query.empty()) {
      return Error(Status::InvalidArgument("GET /v1/segments takes no query parameter"));
    }
    PORTRAIT_ASSIGN_OR_RETURN(json listed, d_.segments.List(call.caller));
    return JsonResponse(listed);
  }
  if (p.size() == 4 && p[3] == "members") {
    PORTRAIT_ASSIGN_OR_RETURN(json members, d_.segments.Members(call.caller, p[2], call.query));
    return JsonResponse(members);
  }
  return Error(Status::NotFound("no such endpoint; see docs/API.md"));
}

Result<HttpResponse> Api::WhoAmI(const ApiCall& call) {
  // The caller's own role, as the config in force declares it: nothing about customers.
  const config::Role& role = *call.caller.role;
  return JsonResponse({{"token", call.caller.token},
                       {"role", role.name},
                       {"purposes", role.purposes},
                       {"can", role.can}});
}

Result<HttpResponse> Api::Stats(const ApiCall& call) {
  if (!call.query.empty()) {
    return Error(Status::InvalidArgument("GET /v1/stats takes no query parameter"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(json stats, d_.stats.Stats(call.caller));
  return JsonResponse(stats);
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
    PORTRAIT_ASSIGN_OR_RETURN(int64_t after, QueryInt(call.query, "after", 0));
    PORTRAIT_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call.query, "limit", 1000));
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
    // The key the chain verifies with: what an auditor checks an export with, offline.
    json out = {{"ok", v.ok},
                {"records", v.records},
                {"checkpoints", v.checkpoints},
                {"public_key", crypto::ToHex(d_.audit.public_key())}};
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
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Append({store::AuditEntry{
      d_.clock.NowUs(), call.caller.Actor(), "audit.export", 0, call.caller.purpose->name, "{}"}}));
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
    PORTRAIT_ASSIGN_OR_RETURN(out,
                              d_.profiles.SetLegalHold(call.caller, external_id, place, reason));
    return Status::Ok();
  }));
  return JsonResponse(out);
}

Result<HttpResponse> Api::RulesTest(ApiCall& call) {
  PORTRAIT_ASSIGN_OR_RETURN(json tested, d_.rules_test.Test(call.caller, call.request.body()));
  return JsonResponse(tested);
}

Result<HttpResponse> Api::Export(ApiCall& call, const std::string& external_id) {
  PORTRAIT_ASSIGN_OR_RETURN(json exported, d_.exports.Export(call.caller, external_id));
  return JsonResponse(exported);
}

Result<HttpResponse> Api::Metrics() {
  PORTRAIT_ASSIGN_OR_RETURN(std::string text,
                            RenderPrometheus(d_.telemetry, d_.store, d_.clock.NowUs()));
  HttpResponse r{http::status::ok, 11};
  r.set(http::field::content_type, "text/plain; version=0.0.4");
  r.body() = std::move(text);
  return r;
}

}  // namespace portrait::daemon
