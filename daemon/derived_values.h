// A profile's scores (and, later, predictions), computed from its own metrics and the fitted
// parameters in force whenever they are asked for (docs/DECISIONS.md 100): nothing per profile
// is stored. Pure; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "analytics/purchases.h"
#include "analytics/rfm.h"
#include "daemon/derived_params.h"
#include "daemon/rules_holder.h"
#include "rules/engine.h"
#include "rules/purchase_book.h"
#include "rules/rule_set.h"

namespace portrait::daemon {

// What the RFM score of `score` reads of a profile's metrics: days from the `recency` metric's
// time (a `last`, in µs) to `now_us`, both as UTC days; the `frequency` count; the `monetary`
// sum (0 when absent). nullopt for a profile without a purchase (no time, or a count below 1).
std::optional<analytics::RfmInput> RfmInputOf(const rules::Score& score,
                                              const nlohmann::json& metrics, int64_t now_us);

// {"version", "r", "f", "m", "group"} of `input` against `fitted`, or nullopt when it can't be
// scored.
std::optional<nlohmann::json> RfmScoreJson(const FittedScore& fitted,
                                           const analytics::RfmInput& input);

// NAME -> {"version", "r", "f", "m", "group"} for every score of `set` refreshed in `params` that
// the profile's metrics can be scored on: what ProfileFacts::scores holds. With `only`, the
// scores it names alone.
nlohmann::json ScoresOf(const rules::RuleSet& set, const DerivedParams& params,
                        const nlohmann::json& metrics, int64_t now_us,
                        const std::set<std::string>* only = nullptr);

// The customer summary a purchase book gives as of `until_us` (after its last day), in `unit`:
// what analytics::Summarize gives from the same purchases (same days, same sums).
analytics::CustomerSummary SummaryOfBook(const rules::PurchaseBook& book, analytics::TimeUnit unit,
                                         int64_t until_us);

// Which outputs of a model to compute (the expected purchases and the lifetime value cost a
// hypergeometric series each; the probability alive, a closed form).
struct ModelOutputs {
  bool p_alive = true;
  bool purchases_90d = true;
  bool value_1y = true;
};

// {"p_alive", "purchases_90d", "value_1y", "version"} of a profile's book under `fitted` at
// `now_us` (value_1y only with a Gamma-Gamma fit, discounted at `model.discount` a year), each
// only when `outputs` asks for it and left out when its function fails on the book (so an
// output is there or not whatever else was asked); nullopt when none is there.
std::optional<nlohmann::json> PredictionJson(const rules::Model& model, const FittedModel& fitted,
                                             const rules::PurchaseBook& book, int64_t now_us,
                                             const ModelOutputs& outputs = {});

// NAME -> prediction for every model of `set` fitted in `params` for which the profile has a
// purchase book: what ProfileFacts::predictions holds. With `only`, the models it names alone,
// with the outputs it names.
nlohmann::json PredictionsOf(const rules::RuleSet& set, const DerivedParams& params,
                             const nlohmann::json& metrics, int64_t now_us,
                             const std::map<std::string, ModelOutputs>* only = nullptr);

// The rule-driven tags a profile carries (its metrics' "$tags") that `purpose` may see: those of
// a [[tag]] rule in force whose tag root the purpose's `derived` allows, with everything the
// rules of that path read (rules::PurposeMayUse), as a trigger of the purpose could use it, in
// the rules' order. No tag tells a caller about data its purpose may not use.
std::vector<std::string> RuleTagsShown(const config::Purpose& purpose, const LoadedRules& rules,
                                       const nlohmann::json& metrics);

// The segments of the rules in force a profile is a member of (its metrics' "$segments") that
// `purpose` may use with everything they read (rules::PurposeMayUse), in the rules' order.
std::vector<std::string> SegmentsShown(const config::Purpose& purpose, const LoadedRules& rules,
                                       const nlohmann::json& metrics);

// The engine's way to a profile's scores and predictions under the rules and parameters given.
class FittedValues final : public rules::DerivedValues {
 public:
  // Computes only the scores and model outputs some condition of the rules reads
  // (rules::ScoresRead, rules::PredictionsRead): nothing else reads the engine's.
  FittedValues(std::shared_ptr<const LoadedRules> rules,
               std::shared_ptr<const DerivedParams> params);
  void Fill(rules::ProfileFacts& profile, int64_t now_us) const override;

 private:
  std::shared_ptr<const LoadedRules> rules_;
  std::shared_ptr<const DerivedParams> params_;
  std::set<std::string> scores_read_;         // the scores conditions read
  std::map<std::string, ModelOutputs> read_;  // model -> the outputs conditions read
};

}  // namespace portrait::daemon
