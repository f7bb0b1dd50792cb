// ScoreService: the [[score]] refreshes (POST /v1/scores/{name}/refresh, the score's `refresh`
// cron), their base-wide figures (GET /v1/scores/{name}) and one profile's scores with the
// inputs that made them (GET /v1/profiles/{id}/scores). A refresh runs on the JobRunner's
// thread: it reads every profile's sealed metrics in id order (Store::ProfileRows on a read
// connection), computes the RFM quintile boundaries and mean scores (analytics/rfm.h), stores
// them as the next version of the score's row in the `models` table with one `score.refresh`
// audit record (counts only) and, when a lifecycle stage, [[tag]] or [[segment]] reads the
// score, a re-evaluation request in the same batch; replaces the parameters in force and then
// calls the change hook (only after a request). At most one refresh per score is queued or
// running. Thread-safe.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/model_service.h"
#include "daemon/profile_service.h"

namespace portrait::daemon {

class ScoreService {
 public:
  // `profiles` decides whether the purpose's lawful basis holds for a profile shown.
  ScoreService(DerivedDeps deps, ProfileService& profiles) : d_(deps), profiles_(profiles) {}

  // POST /v1/scores/{name}/refresh: needs models.fit (a refusal is audited); NotFound for a
  // name that is no [[score]] of the rules in force; Conflict when a refresh of the score is
  // queued or running already. Queues the refresh; `done` gets ScoreAnswer.
  void Refresh(const Caller& caller, const std::string& name, DerivedDone done);
  // The refresh itself, on the calling thread (the job, the cron). InvalidArgument when no
  // profile has the score's metrics yet.
  Result<nlohmann::json> RefreshNow(const std::string& actor, const std::string& purpose,
                                    const std::string& name);
  // GET /v1/scores/{name}: needs models.read; NotFound before the first refresh. Audited.
  Result<nlohmann::json> Show(const Caller& caller, const std::string& name);
  // GET /v1/profiles/{id}/scores[?score=NAME]: needs profiles.read. The scores the caller's
  // purpose may use (`derived`: scores or scores.NAME), each with its r, f, m, group (or
  // "scored": false and why not), the mean scores it was placed against, and the boundaries
  // and metric values it was computed from (each only where `derived` allows that metric);
  // none while the purpose's lawful basis does not hold for the customer ("basis" says why,
  // "basis_holds" whether it holds). `only` (non-empty) keeps one score; one the purpose may
  // not use, or that does not exist, is NotFound alike. Audited (score.read).
  Result<nlohmann::json> ShowProfile(const Caller& caller, const std::string& external_id,
                                     const std::string& only);

  void OnChanged(std::function<void()> hook) { changed_ = std::move(hook); }

 private:
  // The RFM inputs of every profile that has the score's metrics, in id order.
  Result<std::vector<analytics::RfmInput>> ReadInputs(const rules::Score& score, int64_t now_us);
  nlohmann::json ProfileScore(const Caller& caller, const rules::Score& score,
                              const FittedScore& fitted, const nlohmann::json& metrics,
                              int64_t now_us) const;

  DerivedDeps d_;
  ProfileService& profiles_;
  std::function<void()> changed_ = [] {};
};

// The JobRunner key of a refresh of `name` (a cron's run shares it).
std::string ScoreJobKey(std::string_view name);

// The rules' [[score]] named `name`, or nullptr.
const rules::Score* FindScore(const rules::RuleSet& set, std::string_view name);

}  // namespace portrait::daemon
