// The fitted parameters in force (docs/DECISIONS.md 100-101): each [[model]]'s BG/NBD and
// Gamma-Gamma parameters and each [[score]]'s RFM boundaries and mean scores, as the `models`
// table stores them (store.h ModelRow, params JSON), held whole in a Latest<> snapshot that a fit
// or refresh replaces. Base-wide figures only, never a profile's value. Pure conversions;
// thread-safe.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "analytics/bgnbd.h"
#include "analytics/gamma_gamma.h"
#include "analytics/purchases.h"
#include "analytics/rfm.h"
#include "base/latest.h"
#include "store/store.h"

namespace portrait::daemon {

inline constexpr std::string_view kModelKind = "bgnbd";
inline constexpr std::string_view kScoreKind = "rfm";

struct FittedModel {
  std::string name;
  int64_t version = 0;
  int64_t fitted_us = 0;
  int64_t until_us = 0;  // the calibration period's end
  analytics::TimeUnit unit = analytics::TimeUnit::kWeek;
  int64_t customers = 0;             // the BG/NBD sample
  std::string read_from = "events";  // or "purchase_books" (docs/DECISIONS.md 130)
  int64_t events = 0;                // purchase events read (0 when read from the books)
  int64_t without_amount = 0;        // of those, with no usable amount (counted as 0)
  int64_t unreadable = 0;            // events of profiles erased while the fit read (skipped)
  int64_t dropped_customers = 0;     // erased or merged away while the fit read: left out
  analytics::BgNbdParams bgnbd;
  double log_likelihood = 0;
  // Gamma-Gamma over the repeat buyers; none when there was no repeat buyer with a value.
  std::optional<analytics::GammaGammaParams> gamma_gamma;
  int64_t repeat_buyers = 0;
  double gamma_gamma_log_likelihood = 0;
};

struct FittedScore {
  std::string name;
  int64_t version = 0;
  int64_t fitted_us = 0;
  int64_t customers = 0;  // profiles scored (those with all three metrics)
  analytics::RfmModel rfm;
  std::array<int64_t, analytics::kRfmGroups> group_counts{};
};

struct DerivedParams {
  std::map<std::string, FittedModel> models;  // by name
  std::map<std::string, FittedScore> scores;  // by name
};
using DerivedHolder = Latest<DerivedParams>;

// The stored row's params JSON, and back. ParseModelRow/ParseScoreRow: Corruption naming the
// member when the stored JSON does not have the shape written here.
std::string ModelParamsJson(const FittedModel& m);
Result<FittedModel> ParseModelRow(const store::ModelRow& row);
std::string ScoreParamsJson(const FittedScore& s);
Result<FittedScore> ParseScoreRow(const store::ModelRow& row);

// The answers of GET /v1/models/{name} and GET /v1/scores/{name} (docs/API.md).
nlohmann::json ModelAnswer(const FittedModel& m);
nlohmann::json ScoreAnswer(const FittedScore& s);

// Every stored model and score (Store::ListModels), parsed.
Result<std::shared_ptr<const DerivedParams>> LoadDerivedParams(store::Store& store);

}  // namespace portrait::daemon
