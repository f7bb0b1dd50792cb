#include "cli/scores_command.h"

#include <cstdio>
#include <iostream>

#include "base/url.h"
#include "cli/daemon_connection.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

struct ScoresOptions {
  DaemonOptions daemon;
  std::string name;
  std::string id;
  std::string score;
};

std::string Row(const json& values) {
  std::string out;
  for (const json& v : values.is_array() ? values : json::array()) {
    char cell[32];
    std::snprintf(cell, sizeof cell, " %12.2f", v.is_number() ? v.get<double>() : 0.0);
    out += cell;
  }
  return out;
}

void PrintRefreshed(const json& s) {
  std::printf("score %s, version %lld, refreshed %s, %lld profiles scored\n",
              s.value("score", "").c_str(), static_cast<long long>(s.value("version", 0)),
              s.value("refreshed_at", "").c_str(), static_cast<long long>(s.value("customers", 0)));
  std::printf("%-10s %12s %12s %12s %12s %8s\n", "", "q1", "q2", "q3", "q4", "mean");
  std::printf("%-10s%s %8.3f\n", "recency", Row(s.value("recency", json())).c_str(),
              s.value("mean_r", 0.0));
  std::printf("%-10s%s %8.3f\n", "frequency", Row(s.value("frequency", json())).c_str(),
              s.value("mean_f", 0.0));
  std::printf("%-10s%s %8.3f\n", "monetary", Row(s.value("monetary", json())).c_str(),
              s.value("mean_m", 0.0));
  const json groups = s.value("groups", json::object());
  for (const auto& [group, count] : groups.items()) {
    std::printf("  %-24s %lld\n", group.c_str(), static_cast<long long>(count.get<int64_t>()));
  }
}

void PrintProfile(const json& answer) {
  const json scores = answer.value("scores", json::object());
  if (!answer.value("basis_holds", true)) {
    std::cerr << "no score shown: the purpose's lawful basis does not hold for this customer ("
              << answer.value("basis", "") << ")\n";
  } else if (scores.empty()) {
    std::cerr << "no score this purpose may use has been refreshed\n";
  }
  for (const auto& [name, s] : scores.items()) {
    std::printf("%s (version %lld): ", name.c_str(), static_cast<long long>(s.value("version", 0)));
    if (!s.value("scored", false) || !s.contains("group")) {
      std::printf("not scored (%s)\n", s.value("unscored", "no reason given").c_str());
      continue;
    }
    std::printf("R %d F %d M %d, %s\n", s.value("r", 0), s.value("f", 0), s.value("m", 0),
                s.value("group", "").c_str());
    const json inputs = s.value("inputs", json::object());
    for (const auto& [letter, input] : inputs.items()) {
      const json value = input.value("value", input.value("days_since_last", json()));
      std::printf("  %-10s %-16s %s%s\n", letter.c_str(), input.value("metric", "").c_str(),
                  value.dump().c_str(), input.contains("days_since_last") ? " days ago" : "");
    }
  }
}

}  // namespace

void AddScoresCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ScoresOptions>();
  CLI::App* scores = app.add_subcommand(
      "scores",
      "The [[score]]s of the rules (RFM value tiers): refresh one over the whole base, or show "
      "a customer's scores with the inputs that made them. Through the running daemon.");
  scores->require_subcommand(1);

  CLI::App* refresh = scores->add_subcommand(
      "refresh",
      "Recompute a score's quintile boundaries and mean scores over every profile's metrics, "
      "store them as its next version, and print them with the group counts. Audited.\n"
      "  portraitctl scores refresh rfm");
  refresh->add_option("name", o->name, "the [[score]]'s name")->required();
  AddDaemonOptions(refresh, o->daemon);
  refresh->callback([o, &exit_code] {
    exit_code =
        CallAndPrint(o->daemon, "scores refresh", "POST",
                     "/v1/scores/" + PercentEncode(o->name) + "/refresh", "", PrintRefreshed);
  });

  CLI::App* show = scores->add_subcommand(
      "show",
      "Show a customer's scores (R, F, M, group) and the metric values and boundaries that made "
      "them, as far as the purpose's `derived` list allows. Audited.\n"
      "  portraitctl scores show C1042 --score rfm --purpose care");
  show->add_option("id", o->id, "the customer's external id")->required();
  show->add_option("--score", o->score, "only this score");
  AddDaemonOptions(show, o->daemon);
  show->callback([o, &exit_code] {
    std::string target = "/v1/profiles/" + PercentEncode(o->id) + "/scores";
    if (!o->score.empty()) {
      target += "?score=" + PercentEncode(o->score);
    }
    exit_code = CallAndPrint(o->daemon, "scores show", "GET", target, "", PrintProfile);
  });
}

}  // namespace portrait::cli
