#include "daemon/derived_params.h"

#include <cmath>

#include "base/time_format.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// Stored state is never trusted to have the right shape.
Result<double> Number(const json& object, const char* key, const store::ModelRow& row) {
  auto it = object.is_object() ? object.find(key) : object.end();
  if (it == object.end() || !it->is_number() || !std::isfinite(it->get<double>())) {
    return Error(Status::Corruption(row.kind + " '" + row.name + "': stored parameter '" + key +
                                    "' is not a number"));
  }
  return it->get<double>();
}

// A count written after the first version of the row's shape: 0 when absent.
Result<int64_t> OptionalCount(const json& object, const char* key, const store::ModelRow& row) {
  if (!object.contains(key)) {
    return 0;
  }
  PORTRAIT_ASSIGN_OR_RETURN(double n, Number(object, key, row));
  if (n < 0 || n > 9e18) {
    return Error(Status::Corruption(row.kind + " '" + row.name + "': stored count '" + key +
                                    "' is out of range"));
  }
  return static_cast<int64_t>(n);
}

Result<std::array<double, 4>> Boundaries(const json& object, const char* key,
                                         const store::ModelRow& row) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_array() || it->size() != 4) {
    return Error(Status::Corruption(row.kind + " '" + row.name + "': stored '" + key +
                                    "' is not four boundaries"));
  }
  std::array<double, 4> out{};
  for (size_t k = 0; k < 4; ++k) {
    PORTRAIT_ASSIGN_OR_RETURN(out[k], Number(json{{"b", (*it)[k]}}, "b", row));
  }
  return out;
}

Result<json> ParseObject(const store::ModelRow& row) {
  json params = json::parse(row.params, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object()) {
    return Error(Status::Corruption(row.kind + " '" + row.name +
                                    "': stored parameters are not a "
                                    "JSON object"));
  }
  return params;
}

std::string Time(int64_t us) { return FormatRfc3339(us); }

}  // namespace

std::string ModelParamsJson(const FittedModel& m) {
  json gg = nullptr;
  if (m.gamma_gamma) {
    gg = {{"p", m.gamma_gamma->p},
          {"q", m.gamma_gamma->q},
          {"gamma", m.gamma_gamma->gamma},
          {"customers", m.repeat_buyers},
          {"log_likelihood", m.gamma_gamma_log_likelihood}};
  }
  return json{{"unit", m.unit == analytics::TimeUnit::kDay ? "day" : "week"},
              {"until_us", m.until_us},
              {"customers", m.customers},
              {"read_from", m.read_from},
              {"events", m.events},
              {"without_amount", m.without_amount},
              {"unreadable", m.unreadable},
              {"dropped_customers", m.dropped_customers},
              {"bgnbd",
               {{"r", m.bgnbd.r},
                {"alpha", m.bgnbd.alpha},
                {"a", m.bgnbd.a},
                {"b", m.bgnbd.b},
                {"log_likelihood", m.log_likelihood}}},
              {"gamma_gamma", gg}}
      .dump();
}

Result<FittedModel> ParseModelRow(const store::ModelRow& row) {
  PORTRAIT_ASSIGN_OR_RETURN(json p, ParseObject(row));
  FittedModel m{.name = row.name, .version = row.version, .fitted_us = row.fitted_us};
  const auto unit = p.find("unit");
  if (unit != p.end() && !(unit->is_string() && (*unit == "day" || *unit == "week"))) {
    return Error(Status::Corruption("model '" + row.name + "': stored unit is not day or week"));
  }
  m.unit =
      unit != p.end() && *unit == "day" ? analytics::TimeUnit::kDay : analytics::TimeUnit::kWeek;
  PORTRAIT_ASSIGN_OR_RETURN(double until, Number(p, "until_us", row));
  PORTRAIT_ASSIGN_OR_RETURN(double customers, Number(p, "customers", row));
  PORTRAIT_ASSIGN_OR_RETURN(double events, Number(p, "events", row));
  m.until_us = static_cast<int64_t>(until);
  m.customers = static_cast<int64_t>(customers);
  m.events = static_cast<int64_t>(events);
  if (const auto from = p.find("read_from"); from != p.end()) {  // absent from older rows
    if (!from->is_string() || (*from != "events" && *from != "purchase_books")) {
      return Error(Status::Corruption("model '" + row.name + "': stored read_from is unknown"));
    }
    m.read_from = from->get<std::string>();
  }
  PORTRAIT_ASSIGN_OR_RETURN(m.without_amount, OptionalCount(p, "without_amount", row));
  PORTRAIT_ASSIGN_OR_RETURN(m.unreadable, OptionalCount(p, "unreadable", row));
  PORTRAIT_ASSIGN_OR_RETURN(m.dropped_customers, OptionalCount(p, "dropped_customers", row));
  const json& b = p.contains("bgnbd") ? p["bgnbd"] : json();
  PORTRAIT_ASSIGN_OR_RETURN(m.bgnbd.r, Number(b, "r", row));
  PORTRAIT_ASSIGN_OR_RETURN(m.bgnbd.alpha, Number(b, "alpha", row));
  PORTRAIT_ASSIGN_OR_RETURN(m.bgnbd.a, Number(b, "a", row));
  PORTRAIT_ASSIGN_OR_RETURN(m.bgnbd.b, Number(b, "b", row));
  PORTRAIT_ASSIGN_OR_RETURN(m.log_likelihood, Number(b, "log_likelihood", row));
  if (const json& g = p.contains("gamma_gamma") ? p["gamma_gamma"] : json(); !g.is_null()) {
    analytics::GammaGammaParams gg;
    PORTRAIT_ASSIGN_OR_RETURN(gg.p, Number(g, "p", row));
    PORTRAIT_ASSIGN_OR_RETURN(gg.q, Number(g, "q", row));
    PORTRAIT_ASSIGN_OR_RETURN(gg.gamma, Number(g, "gamma", row));
    PORTRAIT_ASSIGN_OR_RETURN(double buyers, Number(g, "customers", row));
    PORTRAIT_ASSIGN_OR_RETURN(m.gamma_gamma_log_likelihood, Number(g, "log_likelihood", row));
    m.gamma_gamma = gg;
    m.repeat_buyers = static_cast<int64_t>(buyers);
  }
  return m;
}

std::string ScoreParamsJson(const FittedScore& s) {
  json groups = json::object();
  for (size_t g = 0; g < analytics::kRfmGroups; ++g) {
    groups[std::string(analytics::RfmGroupName(static_cast<analytics::RfmGroup>(g)))] =
        s.group_counts[g];
  }
  return json{{"customers", s.customers},     {"recency", s.rfm.recency},
              {"frequency", s.rfm.frequency}, {"monetary", s.rfm.monetary},
              {"mean_r", s.rfm.mean_r},       {"mean_f", s.rfm.mean_f},
              {"mean_m", s.rfm.mean_m},       {"groups", groups}}
      .dump();
}

Result<FittedScore> ParseScoreRow(const store::ModelRow& row) {
  PORTRAIT_ASSIGN_OR_RETURN(json p, ParseObject(row));
  FittedScore s{.name = row.name, .version = row.version, .fitted_us = row.fitted_us};
  PORTRAIT_ASSIGN_OR_RETURN(double customers, Number(p, "customers", row));
  s.customers = static_cast<int64_t>(customers);
  PORTRAIT_ASSIGN_OR_RETURN(s.rfm.recency, Boundaries(p, "recency", row));
  PORTRAIT_ASSIGN_OR_RETURN(s.rfm.frequency, Boundaries(p, "frequency", row));
  PORTRAIT_ASSIGN_OR_RETURN(s.rfm.monetary, Boundaries(p, "monetary", row));
  PORTRAIT_ASSIGN_OR_RETURN(s.rfm.mean_r, Number(p, "mean_r", row));
  PORTRAIT_ASSIGN_OR_RETURN(s.rfm.mean_f, Number(p, "mean_f", row));
  PORTRAIT_ASSIGN_OR_RETURN(s.rfm.mean_m, Number(p, "mean_m", row));
  const json& groups = p.contains("groups") ? p["groups"] : json();
  for (size_t g = 0; g < analytics::kRfmGroups; ++g) {
    const std::string name(analytics::RfmGroupName(static_cast<analytics::RfmGroup>(g)));
    PORTRAIT_ASSIGN_OR_RETURN(double count, Number(groups, name.c_str(), row));
    s.group_counts[g] = static_cast<int64_t>(count);
  }
  return s;
}

json ModelAnswer(const FittedModel& m) {
  json answer = json::parse(ModelParamsJson(m));
  answer.erase("until_us");
  answer.erase("events");
  if (answer["gamma_gamma"].is_object()) {
    answer["gamma_gamma"].erase("log_likelihood");
  }
  answer["model"] = m.name;
  answer["version"] = m.version;
  answer["fitted_at"] = Time(m.fitted_us);
  answer["until"] = Time(m.until_us);
  return answer;
}

json ScoreAnswer(const FittedScore& s) {
  json answer = json::parse(ScoreParamsJson(s));
  answer["score"] = s.name;
  answer["version"] = s.version;
  answer["refreshed_at"] = Time(s.fitted_us);
  return answer;
}

Result<std::shared_ptr<const DerivedParams>> LoadDerivedParams(store::Store& store) {
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<store::ModelRow> rows, store.ListModels());
  auto params = std::make_shared<DerivedParams>();
  for (const store::ModelRow& row : rows) {
    if (row.kind == kModelKind) {
      PORTRAIT_ASSIGN_OR_RETURN(params->models[row.name], ParseModelRow(row));
    } else if (row.kind == kScoreKind) {
      PORTRAIT_ASSIGN_OR_RETURN(params->scores[row.name], ParseScoreRow(row));
    }
  }
  return std::shared_ptr<const DerivedParams>(std::move(params));
}

}  // namespace portrait::daemon
