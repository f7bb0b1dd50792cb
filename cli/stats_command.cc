#include "cli/stats_command.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/daemon_connection.h"
#include "cli/output.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

int64_t Count(const json& v) { return v.is_number_integer() ? v.get<int64_t>() : 0; }

// NAME -> count rows of an object, in its order.
std::vector<std::pair<std::string, int64_t>> Rows(const json& counts) {
  std::vector<std::pair<std::string, int64_t>> rows;
  if (counts.is_object()) {
    for (const auto& [name, n] : counts.items()) {
      rows.emplace_back(name, Count(n));
    }
  }
  return rows;
}

// "purpose  scope  status" -> records in force, from {PURPOSE: {SCOPE: {STATUS: n}}}.
std::vector<std::pair<std::string, int64_t>> ConsentRows(const json& consents) {
  std::vector<std::pair<std::string, int64_t>> rows;
  if (!consents.is_object()) {
    return rows;
  }
  for (const auto& [purpose, scopes] : consents.items()) {
    if (!scopes.is_object()) {
      continue;
    }
    for (const auto& [scope, states] : scopes.items()) {
      for (const auto& [status, n] : Rows(states)) {
        rows.emplace_back(purpose + "  " + scope + "  " + status, n);
      }
    }
  }
  return rows;
}

void PrintStats(const json& s) {
  const bool bars = StdoutIsTerminal();
  std::cout << "portrait at " << Printable(s.value("at", "")) << "\n"
            << Table({{"profiles", std::to_string(Count(s.value("profiles", json(0))))},
                      {"events", std::to_string(Count(s.value("events", json(0))))},
                      {"timers due in the next 24 h",
                       std::to_string(Count(s.value("timers_due_24h", json(0))))}});
  const std::pair<const char*, std::vector<std::pair<std::string, int64_t>>> sections[] = {
      {"lifecycle stages (profiles)", Rows(s.value("lifecycle", json::object()))},
      {"consents in force (purpose, scope, status: records)",
       ConsentRows(s.value("consents", json::object()))},
      {"tasks by state", Rows(s.value("tasks", json::object()))}};
  for (const auto& [title, rows] : sections) {
    std::cout << "\n" << title << "\n";
    if (rows.empty()) {
      std::cout << "  none\n";
      continue;
    }
    const std::string chart = BarChart(rows, bars);
    size_t start = 0;
    while (start < chart.size()) {  // indented by two spaces
      const size_t end = chart.find('\n', start);
      std::cout << "  " << chart.substr(start, end - start + 1);
      start = end + 1;
    }
  }
}

}  // namespace

void AddStatsCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DaemonOptions>();
  CLI::App* stats = app.add_subcommand(
      "stats",
      "Counts from the running daemon: profiles, events, consent records in force by purpose and "
      "status, tasks by state, timers due in the next 24 h, profiles per lifecycle stage. Bar "
      "charts on a terminal, plain numbers with --json. Needs the admin permission.\n"
      "  portraitctl stats --config portrait.toml");
  AddDaemonOptions(stats, *o);
  stats->callback([o, &exit_code] {
    exit_code = CallAndPrint(*o, "stats", "GET", "/v1/stats", "", PrintStats);
  });
}

}  // namespace portrait::cli
