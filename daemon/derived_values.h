// A profile's scores (and, later, predictions), computed from its own metrics and the fitted
// parameters in force whenever they are asked for (docs/DECISIONS.md 100): nothing per profile
// is stored. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "analytics/rfm.h"
#include "daemon/derived_params.h"
#include "rules/rule_set.h"

namespace portrait::daemon {

// What the RFM score of `score` reads of a profile's metrics: days from the `recency` metric's
// time (a `last`, in µs) to `now_us`, both as UTC days; the `frequency` count; the `monetary`
// sum (0 when absent). nullopt for a profile without a purchase (no time, or a count below 1).
std::optional<analytics::RfmInput> RfmInputOf(const rules::Score& score,
                                              const nlohmann::json& metrics, int64_t now_us);

// {"r", "f", "m", "group"} of `input` against `fitted`, or nullopt when it can't be scored.
std::optional<nlohmann::json> RfmScoreJson(const FittedScore& fitted,
                                           const analytics::RfmInput& input);

// NAME -> {"r", "f", "m", "group"} for every score of `set` refreshed in `params` that the
// profile's metrics can be scored on: what ProfileFacts::scores holds.
nlohmann::json ScoresOf(const rules::RuleSet& set, const DerivedParams& params,
                        const nlohmann::json& metrics, int64_t now_us);

}  // namespace portrait::daemon
