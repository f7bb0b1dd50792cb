#include "daemon/derived_values.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analytics/lifetime_value.h"
#include "rules/evaluator.h"
#include "rules/metrics.h"
#include "rules/reads.h"

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
  return json{{"version", fitted.version},
              {"r", scored->r},
              {"f", scored->f},
              {"m", scored->m},
              {"group", std::string(analytics::RfmGroupName(scored->group))}};
}

json ScoresOf(const rules::RuleSet& set, const DerivedParams& params, const json& metrics,
              int64_t now_us, const std::set<std::string>* only) {
  json out = json::object();
  if (!metrics.is_object()) {
    return out;
  }
  for (const rules::Score& score : set.scores) {
    if (only && !only->count(score.name)) {
      continue;
    }
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

analytics::CustomerSummary SummaryOfBook(const rules::PurchaseBook& book, analytics::TimeUnit unit,
                                         int64_t until_us) {
  const double per_unit = analytics::DaysPerUnit(unit);
  const int64_t until_day = std::max(DayOf(until_us), book.last_day);
  analytics::CustomerSummary s;
  s.x = book.repeat_days;
  s.t_x = static_cast<double>(book.last_day - book.first_day) / per_unit;
  s.T = static_cast<double>(until_day - book.first_day) / per_unit;
  s.mean_repeat_value = s.x > 0 ? book.repeat_amount / static_cast<double>(s.x) : 0;
  s.days_since_last = until_day - book.last_day;
  s.transactions = s.x + 1;
  s.total_amount = book.first_amount + book.repeat_amount;
  if (!std::isfinite(s.total_amount)) {
    s.total_amount = std::numeric_limits<double>::max();  // as the book's sums saturate
  }
  return s;
}

std::optional<json> PredictionJson(const rules::Model& model, const FittedModel& fitted,
                                   const rules::PurchaseBook& book, int64_t now_us,
                                   const ModelOutputs& outputs) {
  const analytics::TimeUnit unit = fitted.unit;
  const double per_unit = analytics::DaysPerUnit(unit);
  const analytics::CustomerSummary s = SummaryOfBook(book, unit, now_us);
  const analytics::BgNbdCustomer c{s.x, s.t_x, s.T};
  // Each output stands alone: one that fails is left out, whichever others were asked for.
  json out = {{"version", fitted.version}};
  if (outputs.p_alive) {
    if (auto alive = analytics::ProbabilityAlive(fitted.bgnbd, c)) {
      out["p_alive"] = *alive;
    }
  }
  if (outputs.purchases_90d) {
    if (auto expected = analytics::ExpectedPurchases(fitted.bgnbd, c, 90 / per_unit)) {
      out["purchases_90d"] = *expected;
    }
  }
  if (fitted.gamma_gamma && outputs.value_1y) {
    const analytics::LifetimeValueOptions options{.horizon = 365.25 / per_unit,
                                                  .step = 28 / per_unit,
                                                  .yearly_discount = model.discount,
                                                  .unit = unit};
    if (auto value =
            analytics::CustomerLifetimeValue(fitted.bgnbd, *fitted.gamma_gamma, s, options);
        value && std::isfinite(*value)) {
      out["value_1y"] = *value;
    }
  }
  if (out.size() == 1) {
    return std::nullopt;  // the version alone: every output asked for failed
  }
  return out;
}

json PredictionsOf(const rules::RuleSet& set, const DerivedParams& params, const json& metrics,
                   int64_t now_us, const std::map<std::string, ModelOutputs>* only) {
  json out = json::object();
  for (const rules::Model& model : set.models) {
    auto fitted = params.models.find(model.name);
    if (fitted == params.models.end()) {
      continue;
    }
    ModelOutputs outputs;
    if (only) {
      auto asked = only->find(model.name);
      if (asked == only->end()) {
        continue;
      }
      outputs = asked->second;
    }
    if (auto book = rules::ReadPurchaseBook(metrics, model.name)) {
      if (auto prediction = PredictionJson(model, fitted->second, *book, now_us, outputs)) {
        out[model.name] = std::move(*prediction);
      }
    }
  }
  return out;
}

FittedValues::FittedValues(std::shared_ptr<const LoadedRules> rules,
                           std::shared_ptr<const DerivedParams> params)
    : rules_(std::move(rules)),
      params_(std::move(params)),
      scores_read_(rules::ScoresRead(rules_->set)) {
  for (const auto& [model, output] : rules::PredictionsRead(rules_->set)) {
    ModelOutputs& outputs =
        read_.try_emplace(model, ModelOutputs{false, false, false}).first->second;
    outputs.p_alive |= output == "p_alive";
    outputs.purchases_90d |= output == "purchases_90d";
    outputs.value_1y |= output == "value_1y";
  }
}

void FittedValues::Fill(rules::ProfileFacts& profile, int64_t now_us) const {
  profile.scores = ScoresOf(rules_->set, *params_, profile.metrics, now_us, &scores_read_);
  profile.predictions = PredictionsOf(rules_->set, *params_, profile.metrics, now_us, &read_);
}

std::vector<std::string> RuleTagsShown(const config::Purpose& purpose, const LoadedRules& rules,
                                       const nlohmann::json& metrics) {
  std::vector<std::string> out;
  const auto tags = metrics.is_object() ? metrics.find("$tags") : metrics.end();
  if (tags == metrics.end() || !tags->is_array()) {
    return out;
  }
  // Only the paths of [[tag]] rules in force: a stored tag whose rule is gone could have read
  // anything, and nothing says what.
  for (const rules::TagRule& rule : rules.set.tags) {
    const bool carried = std::any_of(tags->begin(), tags->end(), [&](const nlohmann::json& t) {
      return t.is_string() && t.get_ref<const std::string&>() == rule.path;
    });
    const rules::DerivedRead read{"tags", rule.path.substr(0, rule.path.find('/')), 0, rule.path};
    if (carried && std::find(out.begin(), out.end(), rule.path) == out.end() &&
        rules::PurposeMayUse(purpose, *rules.config, read, rules.set)) {
      out.push_back(rule.path);
    }
  }
  return out;
}

std::vector<std::string> SegmentsShown(const config::Purpose& purpose, const LoadedRules& rules,
                                       const nlohmann::json& metrics) {
  std::vector<std::string> out;
  const auto state = metrics.is_object() ? metrics.find("$segments") : metrics.end();
  if (state == metrics.end()) {
    return out;
  }
  for (const rules::Segment& s : rules.set.segments) {
    const rules::DerivedRead read{"segments", s.name, 0, ""};
    if (rules::IsMember(&*state, s.name) &&
        rules::PurposeMayUse(purpose, *rules.config, read, rules.set)) {
      out.push_back(s.name);
    }
  }
  return out;
}

}  // namespace portrait::daemon
