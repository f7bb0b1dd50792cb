// Api: the HTTP API (docs/API.md) over the daemon's services. Authenticates the bearer token,
// resolves the caller's role and purpose (X-Purpose, or the role's only purpose), routes, and
// turns every outcome into JSON or an RFC 9457 problem: 400 malformed JSON, 401 no or bad token,
// 403 missing permission or field, 404, 409, 413 (the server), 422 schema errors naming the
// field, 429 after repeated bad tokens from an address, 503 while shutting down. Reads and writes
// are audited by the services; refused requests here. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "daemon/api_call.h"
#include "daemon/authenticator.h"
#include "daemon/cluster_node.h"
#include "daemon/consent_service.h"
#include "daemon/export_service.h"
#include "daemon/http_server.h"
#include "daemon/import_service.h"
#include "daemon/ingestor.h"
#include "daemon/merge_service.h"
#include "daemon/model_service.h"
#include "daemon/profile_service.h"
#include "daemon/rules_holder.h"
#include "daemon/rules_test_service.h"
#include "daemon/score_service.h"
#include "daemon/segment_service.h"
#include "daemon/send_gate.h"
#include "daemon/stats_service.h"
#include "daemon/task_service.h"
#include "daemon/telemetry.h"
#include "daemon/timeline_service.h"
#include "daemon/writer.h"

namespace portrait::daemon {

struct ApiDeps {
  const config::ConfigHolder& config;
  store::Store& store;
  store::ProfileVault& vault;
  store::TokenRegistry& tokens;
  store::AuditLog& audit;
  ProfileService& profiles;
  ConsentService& consents;
  TaskService& tasks;
  SegmentService& segments;
  MergeService& merges;  // only on the writer thread, through writer.Run
  ExportService& exports;
  RulesTestService& rules_test;
  SendGate& sends;     // an erasure or withdrawal answers once the attempts under way have ended
  Ingestor& ingestor;  // only on the writer thread, through writer.Run
  Writer& writer;
  RulesHolder& rules;
  Authenticator& auth;
  Telemetry& telemetry;
  const crypto::BlindIndex& blind;
  const Clock& clock;
  spdlog::logger& log;
  // Reloads rules; returns the problem (with file:line:col) when the new set is refused.
  std::function<Status()> reload;
  ImportService& imports;
  ModelService& models;
  ScoreService& scores;
  StatsService& stats;
  TimelineService& timeline;
  ClusterNode* cluster = nullptr;  // among several nodes: who serves which profile (else null)
};

class Api {
 public:
  explicit Api(ApiDeps deps) : d_(deps) {}

  // Answers `request` through `reply`, exactly once, from any thread; never throws. Sans I/O:
  // the HTTP server, the tests and the fuzz harness (tests/fuzz/request_fuzz.cc) all call it.
  // Every part of the request must be valid UTF-8 (else 400 naming the part); an exception
  // from any handler is answered 500 and logged by its class, never its message.
  void Handle(HttpRequest&& request, const std::string& remote, Reply reply);
  // From now on every request gets 503.
  void StartShutdown() { shutting_down_ = true; }
  // Requests received and not yet answered.
  int in_flight() const { return in_flight_.load(); }

 private:
  void Serve(HttpRequest&& request, const std::string& remote, const Reply& respond);
  void LastResort(const std::string& error_class, const Reply& respond);
  // The caller of an authenticated request, or the refusal (401, 403, 422, 429), audited.
  tl::expected<Caller, HttpResponse> Authenticate(const ApiCall& call);
  void AuditRefusal(const std::string& actor, const std::string& action, const std::string& purpose,
                    const nlohmann::json& detail);
  Result<HttpResponse> Route(ApiCall& call);
  Result<HttpResponse> Profiles(ApiCall& call);
  // GET, PUT or DELETE /v1/profiles/{id}.
  Result<HttpResponse> Profile(ApiCall& call, const std::string& id);
  // POST /v1/profiles/{id}/merge.
  Result<HttpResponse> Merge(ApiCall& call, const std::string& id);
  // POST or GET /v1/profiles/{id}/consents.
  Result<HttpResponse> Consents(ApiCall& call, const std::string& id);
  Result<HttpResponse> Tokens(ApiCall& call);
  Result<HttpResponse> Stats(const ApiCall& call);
  // GET /v1/whoami: the token's name, role, the role's purposes and permissions.
  Result<HttpResponse> WhoAmI(const ApiCall& call);
  Result<HttpResponse> Audit(ApiCall& call);
  Result<HttpResponse> AuditExport(ApiCall& call);
  Result<HttpResponse> Tasks(ApiCall& call);
  Result<HttpResponse> Segments(ApiCall& call);
  Result<HttpResponse> RulesTest(ApiCall& call);
  Result<HttpResponse> Export(ApiCall& call, const std::string& external_id);
  // PUT (body {"reason": "…"}, optional) places a legal hold, DELETE lifts it.
  Result<HttpResponse> Hold(ApiCall& call, const std::string& external_id);
  Result<HttpResponse> Metrics();
  // POST /v1/import/profiles.
  Result<HttpResponse> Import(ApiCall& call);
  void Events(ApiCall& call, Reply reply);
  // Among several nodes, the 421 (or 503) for a write naming a subject (by its external id)
  // whose partition another node holds; none when this node holds it, on one node, or for an id
  // the route refuses anyway. Decided from the id alone (docs/DECISIONS.md 170).
  std::optional<HttpResponse> MisdirectedSubject(std::string_view external_id);
  // The same for a request's events, whose subjects are checked as a whole.
  std::optional<HttpResponse> MisdirectedEvents(const std::vector<IncomingEvent>& events);
  std::optional<HttpResponse> MisdirectedTask(const ApiCall& call, const std::string& id);
  // GET /v1/profiles/{id}: answered once its audit record is durable.
  void ReadProfile(ApiCall& call, Reply reply);
  // api_derived.cc. POST /v1/models/{name}/fit: answered from the job thread once the fit is
  // stored.
  void FitModel(ApiCall& call, Reply reply);
  // GET /v1/models/{name}.
  Result<HttpResponse> Models(ApiCall& call);
  // POST /v1/scores/{name}/refresh, answered from the job thread.
  void RefreshScore(ApiCall& call, Reply reply);
  // GET /v1/scores/{name}.
  Result<HttpResponse> Scores(ApiCall& call);
  // GET /v1/profiles/{id}/scores[?score=NAME].
  Result<HttpResponse> ProfileScores(ApiCall& call, const std::string& id);
  // Ok when the caller holds `permission`; else PermissionDenied, audited as request.refused.
  // Checked before a body or query is validated.
  Status RequirePermission(const ApiCall& call, std::string_view permission);

  ApiDeps d_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace portrait::daemon
