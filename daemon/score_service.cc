#include "daemon/score_service.h"

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "daemon/consent_service.h"
#include "daemon/derived_values.h"
#include "daemon/ingestor.h"
#include "daemon/metrics_scan.h"
#include "rules/reads.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

json GroupCounts(const FittedScore& s) { return json::parse(ScoreParamsJson(s))["groups"]; }

}  // namespace

std::string ScoreJobKey(std::string_view name) { return "score:" + std::string(name); }

const rules::Score* FindScore(const rules::RuleSet& set, std::string_view name) {
  for (const rules::Score& s : set.scores) {
    if (s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

void ScoreService::Refresh(const Caller& caller, const std::string& name, DerivedDone done) {
  if (!consent::HasPermission(*caller.role, "models.fit")) {
    return done(Error(RefuseRequest(d_.audit, d_.clock, caller, "models.fit")));
  }
  if (!FindScore(d_.rules.Get()->set, name)) {
    return done(Error(Status::NotFound("no [[score]] by that name in the rules in force")));
  }
  auto answer = std::make_shared<DerivedDone>(std::move(done));  // a refusal destroys the job
  const bool queued = d_.jobs.Post(
      [this, actor = caller.Actor(), purpose = caller.purpose->name, name, answer](bool stopping) {
        if (stopping) {
          return (*answer)(Error(Status::Unavailable("portraitd is shutting down")));
        }
        Result<json> result = RefreshNow(actor, purpose, name);
        d_.jobs.Release(ScoreJobKey(name));  // answered: the next one may come
        (*answer)(std::move(result));
      },
      ScoreJobKey(name));
  if (!queued) {
    (*answer)(Error(Status::Conflict(
        "a refresh of this score is queued or running: retry when it has finished")));
  }
}

Result<std::vector<analytics::RfmInput>> ScoreService::ReadInputs(const rules::Score& score,
                                                                  int64_t now_us) {
  std::array<std::vector<analytics::RfmInput>, 2> halves;
  PORTRAIT_RETURN_IF_ERROR(ScanMetrics(
      d_.store, d_.vault, {score.recency, score.frequency, score.monetary},
      [&](int half, store::ProfileId, const json& metrics) {
        if (std::optional<analytics::RfmInput> input = RfmInputOf(score, metrics, now_us)) {
          halves[half].push_back(*input);
        }
      }));
  halves[0].insert(halves[0].end(), halves[1].begin(), halves[1].end());
  return std::move(halves[0]);
}

Result<json> ScoreService::RefreshNow(const std::string& actor, const std::string& purpose,
                                      const std::string& name) {
  const std::shared_ptr<const LoadedRules> rules = d_.rules.Get();
  const rules::Score* score = FindScore(rules->set, name);
  if (!score) {
    return Error(Status::NotFound("no [[score]] by that name in the rules in force"));
  }
  const int64_t now = d_.clock.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<analytics::RfmInput> inputs, ReadInputs(*score, now));
  if (inputs.empty()) {
    return Error(Status::InvalidArgument("score '" + name + "': no profile has its metrics yet"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(analytics::RfmResult rfm, analytics::ComputeRfm(inputs));
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::ModelRow> stored,
                            d_.store.GetModel(kScoreKind, name));
  FittedScore s{.name = name, .version = stored ? stored->version + 1 : 1, .fitted_us = now};
  s.customers = static_cast<int64_t>(inputs.size());
  s.rfm = rfm.model;
  s.group_counts = rfm.group_counts;
  // The portrait is re-evaluated only when it reads this score (DECISIONS 114).
  const bool reevaluate = rules::PortraitReads(rules->set, "scores", name);
  store::Batch batch;
  batch.models.push_back(
      store::ModelRow{std::string(kScoreKind), name, s.version, ScoreParamsJson(s), now});
  batch.audit.push_back(store::AuditEntry{now, actor, "score.refresh", 0, purpose,
                                          json{{"score", name},
                                               {"version", s.version},
                                               {"customers", s.customers},
                                               {"groups", GroupCounts(s)},
                                               {"reevaluate", reevaluate}}
                                              .dump()});
  if (reevaluate) {
    PORTRAIT_RETURN_IF_ERROR(AddReevaluationRequest(d_.store, batch));
  }
  if (auto committed = d_.audit.Commit(batch); !committed) {
    return Error(committed.error());
  }
  auto next = std::make_shared<DerivedParams>(*d_.params.Get());
  next->scores[name] = s;
  d_.params.Set(std::move(next));
  d_.log.info("score '{}' refreshed: version {}, {} profiles scored, {:.1f} s", name, s.version,
              s.customers, static_cast<double>(d_.clock.NowUs() - now) / 1e6);
  if (reevaluate) {
    changed_();
  }
  return ScoreAnswer(s);
}

Result<json> ScoreService::Show(const Caller& caller, const std::string& name) {
  if (!consent::HasPermission(*caller.role, "models.read")) {
    return Error(RefuseRequest(d_.audit, d_.clock, caller, "models.read"));
  }
  const std::shared_ptr<const DerivedParams> params = d_.params.Get();
  auto it = params->scores.find(name);
  if (it == params->scores.end()) {
    return Error(Status::NotFound("no refreshed score by that name"));
  }
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Append(
      {store::AuditEntry{d_.clock.NowUs(), caller.Actor(), "score.read", 0, caller.purpose->name,
                         json{{"score", name}, {"version", it->second.version}}.dump()}}));
  return ScoreAnswer(it->second);
}

json ScoreService::ProfileScore(const Caller& caller, const rules::Score& score,
                                const FittedScore& fitted, const json& metrics,
                                int64_t now_us) const {
  // The explanation of the score: the boundaries it was placed against, each only where the
  // purpose may use the metric behind it (as the input itself), and the mean scores (averages
  // of 1..5, no metric's value) that split high from low. The whole fitted record is behind
  // models.read (GET /v1/scores/NAME).
  const config::DerivedUse& may = caller.purpose->derived;
  json boundaries = json::object();
  if (may.Allows("metrics", score.recency)) {
    boundaries["recency"] = fitted.rfm.recency;
  }
  if (may.Allows("metrics", score.frequency)) {
    boundaries["frequency"] = fitted.rfm.frequency;
  }
  if (may.Allows("metrics", score.monetary)) {
    boundaries["monetary"] = fitted.rfm.monetary;
  }
  json out = {
      {"version", fitted.version},
      {"refreshed_at", FormatRfc3339(fitted.fitted_us)},
      {"boundaries", std::move(boundaries)},
      {"means", {{"r", fitted.rfm.mean_r}, {"f", fitted.rfm.mean_f}, {"m", fitted.rfm.mean_m}}}};
  const std::optional<analytics::RfmInput> input = RfmInputOf(score, metrics, now_us);
  if (!input) {
    out["scored"] = false;
    out["unscored"] = "no purchase yet";
    return out;
  }
  auto scored = RfmScoreJson(fitted, *input);
  if (!scored) {
    out["scored"] = false;
    out["unscored"] = "its metrics can't be scored (a value out of range)";
    return out;
  }
  out.update(*scored);
  out["scored"] = true;
  json inputs = json::object();
  if (may.Allows("metrics", score.recency)) {
    inputs["recency"] = {{"metric", score.recency}, {"days_since_last", input->days_since_last}};
  }
  if (may.Allows("metrics", score.frequency)) {
    inputs["frequency"] = {{"metric", score.frequency}, {"value", input->transactions}};
  }
  if (may.Allows("metrics", score.monetary)) {
    inputs["monetary"] = {{"metric", score.monetary}, {"value", input->monetary}};
  }
  out["inputs"] = inputs;
  return out;
}

Result<json> ScoreService::ShowProfile(const Caller& caller, const std::string& external_id,
                                       const std::string& only) {
  if (!consent::HasPermission(*caller.role, "profiles.read")) {
    return Error(RefuseRequest(d_.audit, d_.clock, caller, "profiles.read"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::Profile profile, d_.vault.Get(external_id));
  PORTRAIT_ASSIGN_OR_RETURN(ProfileService::LedgerGate gate, profiles_.Gate(caller, profile.id));
  const bool basis = gate.basis.allowed;
  const std::shared_ptr<const LoadedRules> rules = d_.rules.Get();
  const std::shared_ptr<const DerivedParams> params = d_.params.Get();
  const int64_t now = d_.clock.NowUs();
  json scores = json::object();
  bool named = false;  // `only` is a refreshed score the purpose may use
  for (const rules::Score& score : rules->set.scores) {
    auto fitted = params->scores.find(score.name);
    if ((!only.empty() && score.name != only) || fitted == params->scores.end() ||
        !caller.purpose->derived.Allows("scores", score.name)) {
      continue;
    }
    named = true;
    if (basis) {
      scores[score.name] = ProfileScore(caller, score, fitted->second, profile.metrics, now);
    }
  }
  if (!only.empty() && !named) {
    return Error(Status::NotFound("no score by that name for this purpose"));
  }
  std::vector<std::string> names;
  for (const auto& [name, value] : scores.items()) {
    names.push_back(name);
  }
  PORTRAIT_RETURN_IF_ERROR(
      d_.audit.Append({store::AuditEntry{now, caller.Actor(), "score.read", profile.id,
                                         caller.purpose->name, json{{"scores", names}}.dump()}}));
  return json{{"internal_id", profile.id},
              {"basis", gate.basis.reason},
              {"basis_holds", basis},
              {"scores", scores}};
}

}  // namespace portrait::daemon
