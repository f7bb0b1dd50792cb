// ModelService: the [[model]] fits (POST /v1/models/{name}/fit, the model's `refresh` cron) and
// their parameters (GET /v1/models/{name}). A fit runs on the JobRunner's thread — neither on
// the writer nor on an I/O thread: it reads each customer's purchases up to `until` — from their
// purchase books (daemon/book_reader.h) when daemon/kept_marks.h says the books hold every
// stored purchase and none lies after `until`, else from the events (daemon/purchase_log.h) —
// fits BG/NBD and Gamma-Gamma, stores
// the parameters as the next version of the model's row in the `models` table with one `model.fit`
// audit record (detail: counts and parameters, never a personal value), replaces the parameters in
// force (DerivedHolder); when a lifecycle stage, [[tag]] or [[segment]] reads the model's
// predictions (rules::PortraitReads) the same batch carries a re-evaluation request and the change
// hook runs (the base is re-evaluated), else nothing more. Fits run one at a time, at most one per
// model queued or running. Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/clock.h"
#include "daemon/caller.h"
#include "daemon/derived_params.h"
#include "daemon/job_runner.h"
#include "daemon/kept_marks.h"
#include "daemon/rules_holder.h"
#include "store/audit_log.h"
#include "store/profile_vault.h"

namespace portrait::daemon {

// What the fits and refreshes (ModelService, ScoreService) share.
struct DerivedDeps {
  store::Store& store;
  store::ProfileVault& vault;
  store::AuditLog& audit;
  const RulesHolder& rules;
  DerivedHolder& params;
  JobRunner& jobs;
  const Clock& clock;
  spdlog::logger& log;
};

// The answer of a queued job: runs exactly once, on the job thread (or the caller's, when the
// request is refused before it is queued).
using DerivedDone = std::function<void(Result<nlohmann::json>)>;

// What a fit reads: purchases up to `until_us` (default: now; never after now); `from_events`
// reads the events even where the books would do (the source of truth, to compare).
struct FitOptions {
  std::optional<int64_t> until_us;
  bool from_events = false;
};

class ModelService {
 public:
  ModelService(DerivedDeps deps, KeptMarks& books) : d_(deps), kept_(books) {}

  // POST /v1/models/{name}/fit: needs models.fit (a refusal is audited). NotFound for a name
  // that is no [[model]] of the rules in force; Conflict when a fit of the model is queued or
  // running already (the caller retries later). Queues the fit; `done` gets ModelAnswer.
  void Fit(const Caller& caller, const std::string& name, const FitOptions& options,
           DerivedDone done);
  // The fit itself, on the calling thread (the job, the cron): `actor` and `purpose` are
  // audited with it.
  Result<nlohmann::json> FitNow(const std::string& actor, const std::string& purpose,
                                const std::string& name, const FitOptions& options);
  // GET /v1/models/{name}: needs models.read; NotFound when not fitted yet. Audited.
  Result<nlohmann::json> Show(const Caller& caller, const std::string& name);

  // Runs after every fit that stored parameters and a re-evaluation request (on the job
  // thread). Set before use.
  void OnChanged(std::function<void()> hook) { changed_ = std::move(hook); }

 private:
  // The customers' summaries as of `until_us`, from the books or the events, with the counts of
  // what was read in a FittedModel without parameters.
  Result<std::pair<std::vector<analytics::CustomerSummary>, FittedModel>> Read(
      const rules::Model& model, int64_t until_us, bool from_events);

  DerivedDeps d_;
  KeptMarks& kept_;
  std::function<void()> changed_ = [] {};
};

// The JobRunner key of a fit of `name` (a cron's run shares it).
std::string ModelJobKey(std::string_view name);

// The rules in force's [[model]] named `name`, or nullptr.
const rules::Model* FindModel(const rules::RuleSet& set, std::string_view name);

}  // namespace portrait::daemon
