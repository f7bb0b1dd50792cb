#include "daemon/api.h"

#include <boost/core/demangle.hpp>
#include <set>
#include <typeinfo>

#include "base/time_format.h"
#include "base/url.h"
#include "consent/access_policy.h"
#include "daemon/api_routes.h"
#include "daemon/console_assets.h"
#include "daemon/openapi_document.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// Endpoints that touch no customer's data, for which X-Purpose may be left out.
bool IsAdministrative(const std::vector<std::string>& path) {
  return path == std::vector<std::string>{"metrics"} ||
         (path.size() >= 2 && path[0] == "v1" &&
          (path[1] == "tokens" || path[1] == "audit" || path[1] == "admin" || path[1] == "models" ||
           path[1] == "scores" || path[1] == "whoami" || path[1] == "stats" ||
           path[1] == "openapi.json"));
}

// 405 naming the methods when the path is a route's, else 404.
HttpResponse NoSuchRoute(const std::vector<std::string>& path) {
  const std::string allowed = AllowedMethods(path);
  if (allowed.empty()) {
    return Problem(http::status::not_found, "no such endpoint; see docs/API.md");
  }
  HttpResponse r = Problem(http::status::method_not_allowed,
                           "method not allowed here; this path takes " + allowed);
  r.set(http::field::allow, allowed);
  return r;
}

// The permissions a write naming a subject needs (`path` is /v1/profiles/{id}[/…]), as its
// route checks them; none for a route that writes nothing.
std::vector<std::string_view> SubjectWritePermissions(const std::vector<std::string>& path,
                                                      http::verb method) {
  const bool post = method == http::verb::post;
  if (path.size() == 3 && method == http::verb::put) {
    return {"profiles.write"};
  }
  if (path.size() == 3 && method == http::verb::delete_) {
    return {"erase"};
  }
  if (path.size() == 4 && path[3] == "hold") {
    return {"erase"};
  }
  if (path.size() == 4 && path[3] == "consents" && post) {
    return {"consents.write"};
  }
  if (path.size() == 4 && path[3] == "merge" && post) {
    return {kMergePermissions.begin(), kMergePermissions.end()};
  }
  return {};
}

}  // namespace

// Among several nodes: a write naming a subject (or a task) of another node's partition
// (docs/DECISIONS.md 166, 170). 421 naming the node that holds it and its address; 503 while
// the partition is between holders (its last one stopped, no other has taken it yet). A
// subject's partition is its external id's, so the answer is the same whether or not the
// subject is stored.
HttpResponse Misdirected(const std::optional<store::LeaseHolder>& owner, std::string_view what) {
  if (!owner) {
    HttpResponse r =
        Problem(http::status::service_unavailable,
                std::string(what) + " partition is passing to another node; retry shortly");
    r.set(http::field::retry_after, "1");
    return r;
  }
  return ProblemWith(
      http::status::misdirected_request,
      std::string(what) + " partition is held by node " + owner->node + "; send it there",
      {{"owner", {{"node", owner->node}, {"address", owner->address}}}});
}

http::status HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kMalformed:  // a syntax error of the request itself
      return http::status::bad_request;
    case Status::Code::kInvalidArgument:
      return http::status::unprocessable_entity;
    case Status::Code::kNotFound:
      return http::status::not_found;
    case Status::Code::kPermissionDenied:
      return http::status::forbidden;
    case Status::Code::kConflict:
      return http::status::conflict;
    case Status::Code::kUnavailable:
      return http::status::service_unavailable;
    default:
      return http::status::internal_server_error;
  }
}

void Api::Handle(HttpRequest&& request, const std::string& remote, Reply reply) {
  d_.telemetry.http_requests.Add();
  in_flight_.fetch_add(1);
  // Answers once: the last resort below must not answer a request that was already answered.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  Reply respond = [this, reply = std::move(reply), answered](HttpResponse r) {
    if (answered->exchange(true)) {
      return;
    }
    if (r.result_int() >= 400) {
      d_.telemetry.http_errors.Add();
    }
    reply(std::move(r));
    in_flight_.fetch_sub(1);
  };
  try {
    Serve(std::move(request), remote, respond);
  } catch (const std::exception& e) {
    LastResort(boost::core::demangle(typeid(e).name()), respond);
  } catch (...) {
    LastResort("an unknown exception", respond);
  }
}

void Api::LastResort(const std::string& error_class, const Reply& respond) {
  // The class only: an exception's message may quote the request's bytes.
  d_.log.error("a request handler threw {}; answered 500", error_class);
  respond(Problem(http::status::internal_server_error,
                  "internal error; the daemon's log has its class", 11, false));
}

void Api::Serve(HttpRequest&& request, const std::string& remote, const Reply& respond) {
  auto fail = [&](const Status& s) { respond(Problem(HttpStatusOf(s), s.message())); };
  if (shutting_down_) {
    return respond(
        Problem(http::status::service_unavailable, "portraitd is shutting down", 11, false));
  }
  ApiCall call{std::move(request), remote, {}, {}, {}};
  auto raw_target = call.request.target();
  std::string_view target(raw_target.data(), raw_target.size());
  const size_t question = target.find('?');
  call.path = SplitPath(target.substr(0, question));
  if (question != std::string_view::npos) {
    call.query = ParseQuery(target.substr(question + 1));
  }
  // Nothing reads a request's bytes before they are known to be text.
  if (Status utf8 = CheckRequestUtf8(call.request, call.path, call.query); !utf8.ok()) {
    return fail(utf8);
  }
  // The console's static files need no token: they hold no data, and every view asks the API
  // with the signed-in token (DECISIONS 150). They are not routes of the API.
  if (IsConsoleTarget(target)) {
    return respond(ConsoleAnswer(call.method(), target));
  }
  // Only the routes of api_routes.cc are served; the rest is refused before a handler runs.
  const ApiRoute* route = FindRoute(call.method(), call.path);
  if (route && !route->needs_token) {
    return respond(JsonResponse({{"status", "ok"}}));  // GET /healthz
  }
  auto caller = Authenticate(call);
  if (!caller) {
    return respond(std::move(caller.error()));
  }
  call.caller = std::move(*caller);
  if (!route) {
    return respond(NoSuchRoute(call.path));
  }
  if (call.method() == http::verb::post && call.path == std::vector<std::string>{"v1", "events"}) {
    return Events(call, respond);
  }
  if (call.method() == http::verb::get && call.path.size() == 3 && call.path[0] == "v1" &&
      call.path[1] == "profiles") {
    return ReadProfile(call, respond);
  }
  if (call.method() == http::verb::post && call.path.size() == 4 && call.path[0] == "v1" &&
      call.path[1] == "models" && call.path[3] == "fit") {
    return FitModel(call, respond);
  }
  if (call.method() == http::verb::post && call.path.size() == 4 && call.path[0] == "v1" &&
      call.path[1] == "scores" && call.path[3] == "refresh") {
    return RefreshScore(call, respond);
  }
  auto response = Route(call);
  if (!response) {
    return fail(response.error());
  }
  respond(std::move(*response));
}

tl::expected<Caller, HttpResponse> Api::Authenticate(const ApiCall& call) {
  auto raw_authorization = call.request[http::field::authorization];
  std::string_view authorization(raw_authorization.data(), raw_authorization.size());
  const bool limited = d_.auth.Limited(call.remote);  // by the failures before this one
  const bool bearer = authorization.rfind("Bearer ", 0) == 0;
  auto token = bearer ? d_.auth.Check(authorization.substr(7), call.remote)
                      : Result<store::TokenRow>(Error(Status::PermissionDenied("no bearer token")));
  if (!token) {
    if (!bearer) {
      d_.auth.RecordFailure(call.remote);
    }
    // Failed attempts are limited per address; a valid token is always let through above. The
    // refusals up to the limit are audited; past it, a flood is answered 429 without a record
    // each (it would fill the disk and contend with the writer's commits).
    if (!limited) {
      const bool known = !call.path.empty() && (call.path[0] == "v1" || call.path[0] == "metrics");
      AuditRefusal("address:" + call.remote, "request.unauthenticated", "",
                   json{{"path", known ? call.path[0] : "(other)"}});
    }
    if (limited) {
      return tl::unexpected(
          Problem(http::status::too_many_requests,
                  "too many failed authentications from this address; retry in a minute"));
    }
    return tl::unexpected(Problem(http::status::unauthorized,
                                  authorization.rfind("Bearer ", 0) == 0
                                      ? "invalid or revoked API token"
                                      : "send an API token as 'Authorization: Bearer ptk_…' "
                                        "(create one with `portraitctl token create`)"));
  }
  std::string purpose(call.request["X-Purpose"].data(), call.request["X-Purpose"].size());
  std::shared_ptr<const config::Config> in_force = d_.config.Get();
  const config::Role* role = in_force->FindRole(token->role);
  if (purpose.empty() && role && !role->purposes.empty() && IsAdministrative(call.path)) {
    purpose = role->purposes.front();  // these endpoints read no customer data
  }
  const bool known_purpose = in_force->FindPurpose(purpose) != nullptr;
  auto caller = MakeCaller(std::move(in_force), token->name, token->role, purpose);
  if (!caller) {
    // The purpose is named only when the config has it: the header is the caller's text.
    AuditRefusal("token:" + token->name + " role:" + token->role, "request.refused",
                 known_purpose ? purpose : "",
                 json{{"refused", "purpose"}, {"path", call.path.empty() ? "" : call.path[0]}});
    const Status& s = caller.error();
    return tl::unexpected(Problem(HttpStatusOf(s), s.message()));
  }
  return std::move(*caller);
}

void Api::AuditRefusal(const std::string& actor, const std::string& action,
                       const std::string& purpose, const json& detail) {
  // The refusal stands whether or not its record can be written.
  (void)d_.audit.Append(
      {store::AuditEntry{d_.clock.NowUs(), actor, action, 0, purpose,
                         detail.dump(-1, ' ', false, json::error_handler_t::replace)}});
}

Result<HttpResponse> Api::Route(ApiCall& call) {
  const auto& p = call.path;
  if (p == std::vector<std::string>{"metrics"} && call.method() == http::verb::get) {
    return Metrics();
  }
  if (p.size() < 2 || p[0] != "v1") {
    return Error(Status::NotFound("no such endpoint; see docs/API.md"));
  }
  if (p[1] == "profiles") {
    return Profiles(call);
  }
  if (p.size() == 3 && p[1] == "import" && p[2] == "profiles" &&
      call.method() == http::verb::post) {
    return Import(call);
  }
  if (p.size() == 2 && p[1] == "openapi.json" && call.method() == http::verb::get) {
    HttpResponse r{http::status::ok, 11};
    r.set(http::field::content_type, "application/json");
    r.body() = std::string(OpenApiDocument());
    return r;
  }
  if (p.size() == 2 && p[1] == "whoami" && call.method() == http::verb::get) {
    return WhoAmI(call);
  }
  if (p.size() == 2 && p[1] == "stats" && call.method() == http::verb::get) {
    return Stats(call);
  }
  if (p.size() == 3 && p[1] == "stats" && p[2] == "activity" && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(json activity, d_.stats.Activity(call.caller, call.query));
    return JsonResponse(activity);
  }
  if (p[1] == "tokens") {
    return Tokens(call);
  }
  if (p[1] == "audit") {
    return Audit(call);
  }
  if (p[1] == "tasks") {
    return Tasks(call);
  }
  if (p[1] == "segments") {
    return Segments(call);
  }
  if (p[1] == "models") {
    return Models(call);
  }
  if (p[1] == "scores") {
    return Scores(call);
  }
  if (p.size() == 3 && p[1] == "rules" && p[2] == "test" && call.method() == http::verb::post) {
    return RulesTest(call);
  }
  if (p.size() == 3 && p[1] == "admin" && p[2] == "reload" && call.method() == http::verb::post) {
    if (!consent::HasPermission(*call.caller.role, "admin")) {
      return Error(RefuseRequest(d_.audit, d_.clock, call.caller, "admin"));
    }
    PORTRAIT_RETURN_IF_ERROR(d_.reload());
    return JsonResponse({{"reloaded", true}, {"rules", d_.rules.Get()->set.triggers.size()}});
  }
  return Error(Status::NotFound("no such endpoint; see docs/API.md"));
}

Result<HttpResponse> Api::Profiles(ApiCall& call) {
  const auto& p = call.path;
  const Caller& caller = call.caller;
  if (p.size() == 2 && call.method() == http::verb::get) {
    if (call.query.size() != 1) {
      return Error(Status::InvalidArgument(
          "query: give exactly one blind-indexed field, e.g. /v1/profiles?email=…"));
    }
    const auto& [field, value] = *call.query.begin();
    PORTRAIT_ASSIGN_OR_RETURN(json found, d_.profiles.Find(caller, field, json(value)));
    return JsonResponse(found);
  }
  if (p.size() < 3) {
    return Error(Status::NotFound("no such endpoint"));
  }
  const std::string& id = p[2];
  if (call.method() != http::verb::get) {  // every other route here writes the subject
    // The permission first: a caller who may not write learns nothing of where a subject's
    // partition lies, and is refused (and audited) as on one node.
    for (std::string_view permission : SubjectWritePermissions(p, call.method())) {
      if (!consent::HasPermission(*caller.role, permission)) {
        return Error(RefuseRequest(d_.audit, d_.clock, caller, permission));
      }
    }
    if (auto misdirected = MisdirectedSubject(id)) {
      return std::move(*misdirected);
    }
  }
  if (p.size() == 3) {
    return Profile(call, id);
  }
  if (p.size() == 4 && p[3] == "consents") {
    return Consents(call, id);
  }
  if (p.size() == 4 && p[3] == "events" && call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(json events, d_.timeline.Events(caller, id, call.query));
    return JsonResponse(events);
  }
  if (p.size() == 4 && p[3] == "export" && call.method() == http::verb::get) {
    return Export(call, id);
  }
  if (p.size() == 4 && p[3] == "scores" && call.method() == http::verb::get) {
    return ProfileScores(call, id);
  }
  if (p.size() == 4 && p[3] == "hold") {
    return Hold(call, id);
  }
  if (p.size() == 4 && p[3] == "merge" && call.method() == http::verb::post) {
    return Merge(call, id);
  }
  return Error(Status::NotFound("no such endpoint"));
}

Result<HttpResponse> Api::Profile(ApiCall& call, const std::string& id) {
  const Caller& caller = call.caller;
  switch (call.method()) {
    case http::verb::put: {
      PORTRAIT_ASSIGN_OR_RETURN(json patch, call.Body());
      json out;
      PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
        PORTRAIT_ASSIGN_OR_RETURN(out, d_.profiles.Write(caller, id, patch));
        d_.ingestor.Forget(out["internal_id"].get<int64_t>());
        return d_.ingestor.AfterProfileWrite(out["internal_id"].get<int64_t>());
      }));
      const bool created = out["created"].get<bool>();
      (created ? d_.telemetry.profiles_created : d_.telemetry.profiles_updated).Add();
      return JsonResponse(out, created ? http::status::created : http::status::ok);
    }
    case http::verb::delete_: {
      json receipt;
      PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
        PORTRAIT_ASSIGN_OR_RETURN(receipt, d_.profiles.Erase(caller, id));
        return Status::Ok();
      }));
      d_.telemetry.profiles_erased.Add();
      // No attempt for the profile may end after the receipt.
      d_.sends.Drain(receipt["internal_id"].get<int64_t>());
      return JsonResponse(receipt);
    }
    default:
      return Error(Status::NotFound("no such endpoint"));
  }
}

Result<HttpResponse> Api::Merge(ApiCall& call, const std::string& id) {
  PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
  MergeOutcome merged;
  PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
    PORTRAIT_ASSIGN_OR_RETURN(merged, d_.merges.Merge(call.caller, id, body));
    d_.ingestor.Forget(merged.target);  // its fields, metrics and timers changed
    return d_.ingestor.AfterProfileWrite(merged.target);
  }));
  d_.telemetry.profiles_merged.Add();
  // No attempt for the merged-away profile may end after the answer.
  d_.sends.Drain(merged.source);
  return JsonResponse(merged.answer);
}

Result<HttpResponse> Api::Import(ApiCall& call) {
  PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
  PORTRAIT_ASSIGN_OR_RETURN(json counts, d_.imports.ImportProfiles(call.caller, body));
  return JsonResponse(counts);
}

Result<HttpResponse> Api::Consents(ApiCall& call, const std::string& id) {
  if (call.method() == http::verb::post) {
    PORTRAIT_ASSIGN_OR_RETURN(json body, call.Body());
    ConsentService::Recorded recorded;
    PORTRAIT_RETURN_IF_ERROR(d_.writer.Run([&]() -> Status {
      PORTRAIT_ASSIGN_OR_RETURN(recorded, d_.consents.Record(call.caller, id, body));
      // The objection is a fact of the rules (design: DECISIONS 106): re-evaluated at once, on
      // the profile the record resolved (AfterConsentRecord first drops the writer's kept copy,
      // whatever comes of the rest). The record is stored whatever comes of that, so the
      // answer is 201; a failed re-evaluation is logged, and the dispatcher's own check of the
      // objection (DECISIONS 111) and the profile's next event or daily re-evaluation catch up
      // (DECISIONS 112).
      const Status reevaluated = d_.ingestor.AfterConsentRecord(recorded.profile);
      if (!reevaluated.ok()) {
        d_.log.error("consent record {} stored; its profile was not re-evaluated: {}",
                     recorded.record, reevaluated.ToString());
      }
      return Status::Ok();
    }));
    d_.telemetry.consents_recorded.Add();
    // No attempt the record stops may end after the answer.
    d_.sends.Drain(recorded.profile);
    return JsonResponse({{"record", recorded.record}}, http::status::created);
  }
  if (call.method() == http::verb::get) {
    PORTRAIT_ASSIGN_OR_RETURN(json state, d_.consents.Show(call.caller, id));
    return JsonResponse(state);
  }
  return Error(Status::NotFound("no such endpoint"));
}

std::optional<HttpResponse> Api::MisdirectedSubject(std::string_view external_id) {
  if (d_.cluster == nullptr || !store::ProfileVault::CheckExternalId(external_id).ok()) {
    return std::nullopt;  // one node; or an id the route refuses (422) wherever it arrives
  }
  const std::string ext_key = d_.vault.ExtKey(external_id);
  if (d_.cluster->ServesKey(ext_key)) {
    return std::nullopt;
  }
  return Misdirected(d_.cluster->OwnerOfKey(ext_key), "the subject's");
}

// Checked as a whole, before anything about a subject is looked up: when any subject's
// partition is another node's, the request is refused naming one owner (DECISIONS 166, 170).
std::optional<HttpResponse> Api::MisdirectedEvents(const std::vector<IncomingEvent>& events) {
  if (d_.cluster == nullptr) {
    return std::nullopt;
  }
  std::set<std::string_view> seen;
  for (const IncomingEvent& e : events) {
    if (seen.insert(e.subject).second) {
      if (auto misdirected = MisdirectedSubject(e.subject)) {
        return misdirected;
      }
    }
  }
  return std::nullopt;
}

void Api::Events(ApiCall& call, Reply reply) {
  const Caller& caller = call.caller;
  if (!consent::HasPermission(*caller.role, "events.write")) {
    Status s = RefuseRequest(d_.audit, d_.clock, caller, "events.write");
    return reply(Problem(http::status::forbidden, s.message()));
  }
  auto body = call.Body();
  if (!body) {
    return reply(Problem(HttpStatusOf(body.error()), body.error().message()));
  }
  const int64_t now = d_.clock.NowUs();
  const int64_t max_future_us =
      std::chrono::duration_cast<std::chrono::microseconds>(caller.config->daemon.event_future)
          .count();
  auto events = ParseCloudEvents(*body, now, d_.blind, max_future_us);
  if (!events) {
    return reply(Problem(http::status::unprocessable_entity, events.error().message()));
  }
  if (auto misdirected = MisdirectedEvents(*events)) {
    return reply(std::move(*misdirected));
  }
  d_.ingestor.SealKnownSubjects(*events);
  const auto start = std::chrono::steady_clock::now();
  IngestRequest request{std::move(*events), caller.Actor(), caller.purpose->name};
  d_.writer.Submit(std::move(request), [this, reply, start](Result<IngestCounts> counts) {
    if (!counts) {
      d_.log.error("event ingestion failed: {}", counts.error().ToString());
      return reply(Problem(HttpStatusOf(counts.error()), counts.error().message()));
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    d_.telemetry.ingest_seconds.Observe(took.count());
    reply(JsonResponse({{"accepted", counts->accepted}, {"duplicates", counts->duplicates}},
                       http::status::accepted));
  });
}

// The answer waits for its audit record, which the writer commits with the records of the other
// reads waiting: the I/O thread is free meanwhile, and concurrent reads share one fsync.
void Api::ReadProfile(ApiCall& call, Reply reply) {
  auto read = d_.profiles.PrepareRead(call.caller, call.path[2]);
  if (!read) {
    return reply(Problem(HttpStatusOf(read.error()), read.error().message()));
  }
  const store::ProfileId id = read->record.profile_id;
  auto answer = std::make_shared<json>(std::move(read->answer));
  d_.writer.SubmitAudit({std::move(read->record)}, [this, reply, id, answer](Status audited) {
    if (!audited.ok()) {
      Status refused = d_.profiles.ReadRefused(id, audited);
      return reply(Problem(HttpStatusOf(refused), refused.message()));
    }
    reply(JsonResponse(*answer));
  });
}

}  // namespace portrait::daemon
