// The Api's endpoints of derived data: model fits and parameters (and score refreshes). The
// fits answer from the job thread (daemon/job_runner.h), so no I/O thread waits for one.
#include "base/time_format.h"
#include "consent/access_policy.h"
#include "daemon/api.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// The fit's options from its optional body {"until": RFC 3339 time, "from_events": bool}.
Result<FitOptions> FitOptionsOf(const ApiCall& call) {
  FitOptions options;
  if (call.request.body().empty()) {
    return options;
  }
  PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
  if (!body.is_object()) {
    return Error(Status::InvalidArgument("body: expected an object, e.g. {\"until\": \"…\"}"));
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "until" && key != "from_events") {
      return Error(Status::InvalidArgument(
          "body: unknown member; only \"until\" and \"from_events\" are accepted"));
    }
  }
  if (body.contains("from_events")) {
    if (!body["from_events"].is_boolean()) {
      return Error(Status::InvalidArgument("from_events: expected true or false"));
    }
    options.from_events = body["from_events"].get<bool>();
  }
  if (!body.contains("until")) {
    return options;
  }
  if (!body["until"].is_string()) {
    return Error(Status::InvalidArgument("until: expected an RFC 3339 time, a string"));
  }
  auto until = ParseRfc3339(body["until"].get<std::string>());
  if (!until || *until < 0) {
    return Error(Status::InvalidArgument("until: not an RFC 3339 time at or after 1970"));
  }
  options.until_us = *until;
  return options;
}

}  // namespace

// The permission comes first, so a caller without it learns nothing from the validation of its
// body or query, and its attempt is audited (request.refused) whatever it sent.
Status Api::RequirePermission(const ApiCall& call, std::string_view permission) {
  if (consent::HasPermission(*call.caller.role, permission)) {
    return Status::Ok();
  }
  return RefuseRequest(d_.audit, d_.clock, call.caller, permission);
}

void Api::FitModel(ApiCall& call, Reply reply) {
  if (Status allowed = RequirePermission(call, "models.fit"); !allowed.ok()) {
    return reply(Problem(HttpStatusOf(allowed), allowed.message()));
  }
  auto options = FitOptionsOf(call);
  if (!options) {
    return reply(Problem(HttpStatusOf(options.error()), options.error().message()));
  }
  d_.models.Fit(call.caller, call.path[2], *options, [this, reply](Result<json> fitted) {
    if (!fitted) {
      if (HttpStatusOf(fitted.error()) == http::status::internal_server_error) {
        d_.log.error("a model fit failed: {}", fitted.error().ToString());
      }
      return reply(Problem(HttpStatusOf(fitted.error()), fitted.error().message()));
    }
    reply(JsonResponse(*fitted));
  });
}

Result<HttpResponse> Api::Models(ApiCall& call) {
  if (call.path.size() == 3 && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(json shown, d_.models.Show(call.caller, call.path[2]));
    return JsonResponse(shown);
  }
  return Error(Status::NotFound("no such endpoint; see docs/API.md"));
}

void Api::RefreshScore(ApiCall& call, Reply reply) {
  if (Status allowed = RequirePermission(call, "models.fit"); !allowed.ok()) {
    return reply(Problem(HttpStatusOf(allowed), allowed.message()));
  }
  if (!call.request.body().empty()) {
    return reply(Problem(http::status::unprocessable_entity, "body: a refresh takes none"));
  }
  d_.scores.Refresh(call.caller, call.path[2], [this, reply](Result<json> refreshed) {
    if (!refreshed) {
      if (HttpStatusOf(refreshed.error()) == http::status::internal_server_error) {
        d_.log.error("a score refresh failed: {}", refreshed.error().ToString());
      }
      return reply(Problem(HttpStatusOf(refreshed.error()), refreshed.error().message()));
    }
    reply(JsonResponse(*refreshed));
  });
}

Result<HttpResponse> Api::Scores(ApiCall& call) {
  if (call.path.size() == 3 && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(json shown, d_.scores.Show(call.caller, call.path[2]));
    return JsonResponse(shown);
  }
  return Error(Status::NotFound("no such endpoint; see docs/API.md"));
}

Result<HttpResponse> Api::ProfileScores(ApiCall& call, const std::string& id) {
  PORTRAIT_RETURN_IF_ERROR(RequirePermission(call, "profiles.read"));
  for (const auto& [key, value] : call.query) {
    if (key != "score") {
      return Error(Status::InvalidArgument("query: only score=NAME is accepted"));
    }
  }
  auto only = call.query.find("score");
  PORTRAIT_ASSIGN_OR_RETURN(
      json shown,
      d_.scores.ShowProfile(call.caller, id, only == call.query.end() ? "" : only->second));
  return JsonResponse(shown);
}

}  // namespace portrait::daemon
