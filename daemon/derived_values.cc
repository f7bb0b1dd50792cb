#include "daemon/derived_values.h"

#include <cmath>

#include "rules/metrics.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr int64_t kDayUs = 86'400'000'000;

int64_t DayOf(int64_t us) { return us >= 0 ? us / kDayUs : -((-us + kDayUs - 1) / kDayUs); }

}  // namespace

std::optional<analytics::RfmInput> RfmInputOf(const rules::Score& score, const json& metrics,
                                              int64_t now_us) {
  const std::optional<int64_t> last = rules::IntegerAt(metrics, score.recency);
  const std::optional<int64_t> count = rules::IntegerAt(metrics, score.frequency);
  if (!last || !count || *count < 1) {
    return std::nullopt;
  }
  double monetary = 0;
  if (auto it = metrics.find(score.monetary); it != metrics.end() && it->is_number()) {
    monetary = it->get<double>();
  }
  if (!std::isfinite(monetary) || monetary < 0) {
    monetary = 0;
  }
  return analytics::RfmInput{std::max<int64_t>(0, DayOf(now_us) - DayOf(*last)), *count, monetary};
}

std::optional<json> RfmScoreJson(const FittedScore& fitted, const analytics::RfmInput& input) {
  auto scored = analytics::ScoreRfm(fitted.rfm, input);
  if (!scored) {
    return std::nullopt;
  }
  return json{{"r", scored->r},
              {"f", scored->f},
              {"m", scored->m},
              {"group", std::string(analytics::RfmGroupName(scored->group))}};
}

json ScoresOf(const rules::RuleSet& set, const DerivedParams& params, const json& metrics,
              int64_t now_us) {
  json out = json::object();
  if (!metrics.is_object()) {
    return out;
  }
  for (const rules::Score& score : set.scores) {
    auto fitted = params.scores.find(score.name);
    if (fitted == params.scores.end()) {
      continue;
    }
    if (auto input = RfmInputOf(score, metrics, now_us)) {
      if (auto scored = RfmScoreJson(fitted->second, *input)) {
        out[score.name] = std::move(*scored);
      }
    }
  }
  return out;
}

}  // namespace portrait::daemon
