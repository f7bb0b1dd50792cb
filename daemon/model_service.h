// ModelService: the [[model]] fits (POST /v1/models/{name}/fit, the model's `refresh` cron) and
// their parameters (GET /v1/models/{name}). A fit runs on the JobRunner's thread — neither on
// the writer nor on an I/O thread: it reads the model's purchase events up to `until` from the
// store (daemon/purchase_log.h), fits BG/NBD and Gamma-Gamma, stores the parameters as the next
// version of the model's row in the `models` table with one `model.fit` audit record (detail:
// counts and parameters, never a personal value), replaces the parameters in force
// (DerivedHolder); when a lifecycle stage, [[tag]] or [[segment]] reads the model's predictions
// (rules::PortraitReads) the same batch carries a re-evaluation request and the change hook
// runs (the base is re-evaluated), else nothing more. Fits run one at a time, at most one per
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

class ModelService {
 public:
  explicit ModelService(DerivedDeps deps) : d_(deps) {}

  // POST /v1/models/{name}/fit: needs models.fit (a refusal is audited). `until_us`: the
  // calibration period's end (default: now; never after now). NotFound for a name that is no
  // [[model]] of the rules in force; Conflict when a fit of the model is queued or running
  // already (the caller retries later). Queues the fit; `done` gets ModelAnswer.
  void Fit(const Caller& caller, const std::string& name, std::optional<int64_t> until_us,
           DerivedDone done);
  // The fit itself, on the calling thread (the job, the cron): `actor` and `purpose` are
  // audited with it.
  Result<nlohmann::json> FitNow(const std::string& actor, const std::string& purpose,
                                const std::string& name, std::optional<int64_t> until_us);
  // GET /v1/models/{name}: needs models.read; NotFound when not fitted yet. Audited.
  Result<nlohmann::json> Show(const Caller& caller, const std::string& name);

  // Runs after every fit that stored parameters and a re-evaluation request (on the job
  // thread). Set before use.
  void OnChanged(std::function<void()> hook) { changed_ = std::move(hook); }

 private:
  DerivedDeps d_;
  std::function<void()> changed_ = [] {};
};

// The JobRunner key of a fit of `name` (a cron's run shares it).
std::string ModelJobKey(std::string_view name);

// The rules in force's [[model]] named `name`, or nullptr.
const rules::Model* FindModel(const rules::RuleSet& set, std::string_view name);

}  // namespace portrait::daemon
